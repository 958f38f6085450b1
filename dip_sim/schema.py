"""The column contract of every input file and every warehouse table.

Input tables (the canonical fields; hospitals' own headers map onto them,
``dip_sim.ingest.headers``) are typed in SQL, so each input column carries the DuckDB type it
is parsed to, whether the table must have it, and whether it may be empty. Output
tables carry their DDL; stages create them from here so that the dashboard, reports and
outside tools can rely on one definition. Column names carry their units (``*_yuan``,
``*_days``, ``*_g``).
"""

from __future__ import annotations

from dataclasses import dataclass

from dip_sim.contract import CONTRACTS, create_sql


@dataclass(frozen=True)
class InputColumn:
    """One column of an input file: its name, the type it is parsed to, and if required."""

    name: str
    sql_type: str
    required: bool = True  # the field must be in the header (else the table is refused)
    nullable: bool = False  # an empty value is allowed
    label_zh: str = ""
    # how text is read besides the type's own forms: "duration_dhm" = the 结算清单's
    # 天/小时/分钟 (1/13/24), stored in hours
    text_format: str = ""
    description: str = ""


# the hospital table: one row per hospital
HOSPITAL_COLUMNS: tuple[InputColumn, ...] = (
    InputColumn("hospital_id", "VARCHAR", label_zh="定点医疗机构代码"),
    InputColumn("hospital_name", "VARCHAR", label_zh="医疗机构名称"),
    InputColumn("level", "INTEGER", label_zh="医院等级"),
    InputColumn("county", "VARCHAR", required=False, nullable=True, label_zh="区县"),
    # the pooling region (统筹区) the hospital is paid in: each region has its own catalogue,
    # budget and point value; when no hospital names one, the city is one region
    # (data/policy/regions.yaml)
    InputColumn("region", "VARCHAR", required=False, nullable=True, label_zh="统筹区编码",
                description="医保区划代码；未填写时全市为一个统筹区（data/policy/regions.yaml）"),
    InputColumn("region_name", "VARCHAR", required=False, nullable=True, label_zh="统筹区名称"),
)

# the case table: one row per discharge (病案首页)
CASE_COLUMNS: tuple[InputColumn, ...] = (
    InputColumn("case_id", "VARCHAR", label_zh="清单流水号"),
    InputColumn("hospital_id", "VARCHAR", label_zh="定点医疗机构代码"),
    InputColumn("patient_id", "VARCHAR", required=False, nullable=True, label_zh="医保个人编码"),
    InputColumn("sex", "INTEGER", required=False, nullable=True, label_zh="性别"),
    InputColumn("age_years", "INTEGER", required=False, nullable=True, label_zh="年龄"),
    InputColumn("age_days", "INTEGER", required=False, nullable=True, label_zh="天龄"),
    InputColumn("birth_weight_g", "DOUBLE", required=False, nullable=True, label_zh="新生儿出生体重"),
    InputColumn("insurance_type", "VARCHAR", required=False, nullable=True, label_zh="险种类型"),
    InputColumn("admit_date", "DATE", label_zh="入院时间"),
    InputColumn("discharge_date", "DATE", label_zh="出院时间"),
    InputColumn("los_days", "INTEGER", required=False, nullable=True, label_zh="实际住院天数"),
    InputColumn("discharge_disposition", "INTEGER", required=False, nullable=True, label_zh="离院方式"),
    InputColumn("main_dx", "VARCHAR", nullable=True, label_zh="主要诊断编码"),
    InputColumn("other_dx", "VARCHAR", required=False, nullable=True, label_zh="其他诊断编码"),
    InputColumn("main_proc", "VARCHAR", required=False, nullable=True, label_zh="主要手术及操作编码"),
    InputColumn("other_procs", "VARCHAR", required=False, nullable=True, label_zh="其他手术及操作编码"),
    # 重症监护合计天数 of the 医保结算清单: a dimension of auxiliary typing (dip_rules.md §2)
    InputColumn("icu_days", "INTEGER", required=False, nullable=True, label_zh="重症监护天数"),
    # the 结算清单's 住院诊疗信息 that the contract keeps beside the grouping fields
    # (医疗保障基金结算清单填写规范, 医保办发〔2021〕34号); codes as the standard writes them
    InputColumn("inpatient_type", "VARCHAR", required=False, nullable=True, label_zh="住院医疗类型",
                description="1 住院，2 日间手术"),
    InputColumn("admission_route", "VARCHAR", required=False, nullable=True, label_zh="入院途径",
                description="1 急诊，2 门诊，3 其他医疗机构转入，9 其他"),
    InputColumn("treatment_type", "VARCHAR", required=False, nullable=True, label_zh="治疗类别",
                description="1 西医，2 中医（2.1 中医，2.2 民族医），3 中西医"),
    InputColumn("tcm_main_dx", "VARCHAR", required=False, nullable=True, label_zh="中医主病代码",
                description="出院中医诊断的主病（中医病证分类与代码），按原样保存"),
    InputColumn("tcm_syndrome", "VARCHAR", required=False, nullable=True, label_zh="中医主证代码",
                description="出院中医诊断的主证，按原样保存"),
    InputColumn("icu_hours", "DOUBLE", required=False, nullable=True, label_zh="重症监护合计时长",
                text_format="duration_dhm",
                description="小时；由“天/小时/分钟”换算，多段重症监护相加"),
    InputColumn("ventilator_hours", "DOUBLE", required=False, nullable=True, label_zh="呼吸机使用时长",
                text_format="duration_dhm", description="小时；由“天/小时/分钟”换算"),
)

COST_PART_COLUMNS: tuple[str, ...] = (
    "drug_yuan",
    "consumable_yuan",
    "exam_yuan",
    "lab_yuan",
    "treatment_yuan",
    "surgery_yuan",
    "nursing_yuan",
    "bed_yuan",
    "other_yuan",
)

_COST_PART_LABELS = ("药品费", "耗材费", "检查费", "化验费", "治疗费", "手术费", "护理费", "床位费", "其他费")

# the settlement table: one row per discharge (结算)
SETTLEMENT_COLUMNS: tuple[InputColumn, ...] = (
    InputColumn("case_id", "VARCHAR", label_zh="清单流水号"),
    InputColumn("settle_date", "DATE", required=False, nullable=True, label_zh="结算日期"),
    InputColumn("total_cost_yuan", "DOUBLE", label_zh="医疗总费用"),
    InputColumn("fund_paid_yuan", "DOUBLE", label_zh="统筹基金支付"),
    InputColumn("patient_paid_yuan", "DOUBLE", required=False, nullable=True, label_zh="个人支付"),
) + tuple(
    InputColumn(name, "DOUBLE", required=False, nullable=True, label_zh=label)
    for name, label in zip(COST_PART_COLUMNS, _COST_PART_LABELS, strict=True)
) + (
    # 基金支付 other than the pooled fund: 补充医疗保险 (职工大额、居民大病、公务员医疗补助),
    # 医疗救助, 其他支付. 统筹基金 + these + 个人负担 = 医疗总费用 (结算清单 医疗收费信息).
    InputColumn("other_fund_paid_yuan", "DOUBLE", required=False, nullable=True,
                label_zh="其他基金支付", description="补充医疗保险、医疗救助与其他基金支付之和"),
    InputColumn("payment_method", "VARCHAR", required=False, nullable=True, label_zh="医保支付方式",
                description="1 按项目，2 单病种，3 按病种分值，4 疾病诊断相关分组，5 按床日，"
                            "6 按人头，9 其他"),
)

INPUT_TABLES: dict[str, tuple[InputColumn, ...]] = {
    "hospitals": HOSPITAL_COLUMNS,
    "cases": CASE_COLUMNS,
    "settlements": SETTLEMENT_COLUMNS,
}
# every input field by name (a field shared by two tables, such as case_id, is the same field)
INPUT_COLUMNS: dict[str, InputColumn] = {
    c.name: c for columns in INPUT_TABLES.values() for c in columns}

# The key of each input table: a row without it cannot be attached to anything.
INPUT_KEYS: dict[str, str] = {
    "hospitals": "hospital_id",
    "cases": "case_id",
    "settlements": "case_id",
}


# Columns stored plain rather than compressed: strings nearly unique per row (the pseudonym, a
# random hex string; the case number; the lists of other diagnoses and procedures, 740,000
# distinct in 2.5M cases) and the random 64-bit fingerprints. DuckDB's compression only
# halves them, at three times the cost of writing them plain: about 4 s of the load of 10M
# cases (make bench), for about 15% more disk.
_STORED_PLAIN = ("patient_id", "case_id", "other_dx", "other_procs")


def _columns_ddl(columns: tuple[InputColumn, ...]) -> str:
    return ",\n    ".join(
        f"{c.name} {c.sql_type}"
        + (" USING COMPRESSION uncompressed" if c.name in _STORED_PLAIN else "")
        for c in columns)


# Warehouse tables. Grain is stated once, in the comment above each table.
WAREHOUSE_DDL: dict[str, str] = {
    # one row per table read by an ingest run (a file, an Excel sheet; a combined 清单 as cases,
    # as settlements and, when it names its hospital's level, as hospitals), with the column
    # mapping used, the file's encoding, the columns that map to no field (each with what it
    # looks like: 诊断, 手术操作, 费用, 基金或个人支付, 标识, 其他) and those recognised and not stored
    "load_batches": """
CREATE TABLE IF NOT EXISTS load_batches (
    batch_id VARCHAR,
    loaded_at TIMESTAMP,
    file_path VARCHAR,
    file_kind VARCHAR,
    file_size_bytes BIGINT,
    file_sha256 VARCHAR,
    rows_read BIGINT,
    rows_loaded BIGINT,
    rows_duplicate BIGINT,
    rows_rejected BIGINT,
    rows_replaced BIGINT,
    status VARCHAR,
    message VARCHAR,
    column_mapping VARCHAR,
    encoding VARCHAR,
    seconds DOUBLE,
    unmapped_columns VARCHAR,
    ignored_columns VARCHAR
)""",
    # one row per problem found while reading a file: a refused file, a rejected row,
    # or a value that could not be parsed (the row is kept, the value set empty)
    "load_errors": """
CREATE TABLE IF NOT EXISTS load_errors (
    batch_id VARCHAR,
    file_path VARCHAR,
    row_number BIGINT,
    field VARCHAR,
    value VARCHAR,
    reason VARCHAR,
    outcome VARCHAR
)""",
    # one row per key (case_id) that has more than one content in its table ('cases' or
    # 'settlements'): a conflict the quality stage flags. Kept up to date by every ingest.
    "duplicate_keys": """
CREATE TABLE IF NOT EXISTS duplicate_keys (
    kind VARCHAR,
    case_id VARCHAR
)""",
    # one row per hospital
    "hospitals": f"""
CREATE TABLE IF NOT EXISTS hospitals (
    {_columns_ddl(HOSPITAL_COLUMNS)},
    source_file VARCHAR,
    source_row BIGINT
)""",
    # one row per distinct (case_id, content); the same case_id with two contents is a conflict.
    # proc_key_all / proc_key_main / proc_class_max: group-key parts derived at load from the
    # codes (dip_sim.ingest.standardise); `dip-sim quality --recode` derives them again
    "cases": f"""
CREATE TABLE IF NOT EXISTS cases (
    {_columns_ddl(CASE_COLUMNS)},
    year INTEGER,
    invalid_codes VARCHAR,
    proc_key_all VARCHAR,
    proc_key_main VARCHAR,
    proc_class_max VARCHAR,
    code_changes STRUCT(field VARCHAR, given VARCHAR, code VARCHAR, rule VARCHAR)[],
    row_hash UBIGINT USING COMPRESSION uncompressed,
    key_hash UBIGINT USING COMPRESSION uncompressed,
    source_file VARCHAR,
    source_row BIGINT,
    batch_id VARCHAR
)""",
    # one row per (case, field, code as written) that code standardisation changed (编码规范):
    # the canonical code and the rule (case, full_width, missing_dot, code_map). A view of
    # cases.code_changes, recorded with each row as it is loaded.
    "code_changes": """
CREATE VIEW IF NOT EXISTS code_changes AS
SELECT case_id, ch.field, ch.given, ch.code, ch.rule, source_file, source_row, batch_id
FROM (SELECT *, unnest(code_changes) AS ch FROM cases WHERE code_changes IS NOT NULL)""",
    # one row per distinct (case_id, content)
    "settlements": f"""
CREATE TABLE IF NOT EXISTS settlements (
    {_columns_ddl(SETTLEMENT_COLUMNS)},
    row_hash UBIGINT USING COMPRESSION uncompressed,
    key_hash UBIGINT USING COMPRESSION uncompressed,
    source_file VARCHAR,
    source_row BIGINT,
    batch_id VARCHAR
)""",
}

# Output tables of the simulation: generated from their contracts
# (``<table>.yaml`` beside each stage, :mod:`dip_sim.contract`), which state the grain, key,
# columns, labels and data tests; supervision's are in :mod:`dip_sim.supervise.tables`.
OUTPUT_DDL: dict[str, str] = {
    table: create_sql(table) for table, c in CONTRACTS.items() if c.path.parent.name != "supervise"}

# The scenario-keyed outputs one simulate run replaces.
SCENARIO_TABLES: tuple[str, ...] = tuple(
    table for table in OUTPUT_DDL if CONTRACTS[table].scenario_keyed)
