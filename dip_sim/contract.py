"""The output contract: one YAML file per stored simulation or supervision table.

Each ``<table>.yaml`` beside the stage that writes the table (``dip_sim/catalog/``,
``dip_sim/budget/``, ``dip_sim/score/``, ``dip_sim/settle/``, ``dip_sim/metrics/``,
``dip_sim/supervise/``, ``dip_sim/pipeline/runs.yaml``) states the table's description,
grain, unique key, whether a run replaces its rows per scenario, and each column in DDL
order: its DuckDB type, unit, Chinese label, description and, for coded columns, the Chinese
name of each value. Then the data tests the stored rows must pass (``not_null``, ``unique``,
``accepted_values`` and SQL reconciliations that return the rows breaking a rule).

From these come the DDL (:func:`create_sql`, used by :mod:`dip_sim.schema` and
:mod:`dip_sim.supervise.tables`), the Chinese headers and code names of every page and
workbook (:func:`column_label`, :func:`code_label`, :func:`labelled`), the data tests
(:func:`run_data_tests`) and ``docs/tables.md`` (``python -m dip_sim.contract``). Columns that
a report or page computes (not stored) have their labels in :mod:`dip_sim.labels`.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dip_sim.sql_text import quoted
from dip_sim.yaml_files import read_yaml

PACKAGE = Path(__file__).resolve().parent
DOCS = PACKAGE.parent / "docs" / "tables.md"

# the unit words a contract may use, and the suffix a header shows for them
UNITS: dict[str, str] = {
    "": "", "yuan": "元", "fen": "分", "yuan/point": "元/分", "days": "", "hours": "小时", "points": "",
    "share": "", "ratio": "", "count": "", "year": "", "month": "",
}
_TEST_KINDS = ("not_null", "unique", "accepted_values")
# the order of the stages, for a stable order of the tables
_FOLDERS = ("catalog", "budget", "score", "settle", "metrics", "project", "monitor", "supervise",
            "pipeline")


class ContractError(ValueError):
    """A malformed contract file: the message names the file and the field."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    unit: str = ""
    label: str = ""
    description: str = ""
    codes: Mapping[str, str] = field(default_factory=dict)  # value (as text) → Chinese
    # computed when read, not stored: the expression over the stored row ``t`` and the row of
    # ``on_read_join`` (a scenario-keyed table) of the same scenario, region and key
    on_read: str = ""
    on_read_join: str = ""
    # how DuckDB stores the column, when not its own choice (COMPRESSIONS)
    compression: str = ""

    @property
    def ddl(self) -> str:
        """The column's definition in CREATE TABLE: name, type and any compression."""
        using = f" USING COMPRESSION {self.compression}" if self.compression else ""
        return f"{self.name} {self.type}{using}"


# The compressions a contract may name for a column. zstd for a text nearly unique per row
# (a case number, a pseudonym): DuckDB's default (dictionary and FSST) writes such a column
# two to three times slower, for little or no saving (measured on this machine, 10M values
# written alone: case numbers 0.43 s and 61 MB with zstd against 1.1 s and 72 MB; pseudonyms
# 0.9 s and 204 MB against 2.0 s and 184 MB); a scan or a join on it takes the same time.
COMPRESSIONS = ("zstd", "uncompressed")


@dataclass(frozen=True)
class DataTest:
    kind: str  # not_null, unique, accepted_values or sql
    name: str
    description: str = ""
    columns: tuple[str, ...] = ()
    sql: str = ""


@dataclass(frozen=True)
class TableContract:
    table: str
    description: str
    grain: str
    key: tuple[str, ...]
    scenario_keyed: bool
    columns: tuple[Column, ...]
    tests: tuple[DataTest, ...]
    path: Path

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def stored_columns(self) -> tuple[Column, ...]:
        """The columns a run stores (every column but those computed on read)."""
        return tuple(c for c in self.columns if not c.on_read)


def code_key(value: Any) -> str:
    """A coded value as the text the contract keys it by (True → 'true', 3.0 → '3')."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalars
        return code_key(value.item())
    return str(value)


def _fail(path: Path, where: str, problem: str) -> ContractError:
    return ContractError(f"{path.relative_to(PACKAGE.parent)}: {where}: {problem}")


def _text(path: Path, where: str, value: Any, *, empty: bool = True) -> str:
    if value is None and empty:
        return ""
    if not isinstance(value, str) or (not empty and not value.strip()):
        raise _fail(path, where, f"应为{'' if empty else '非空'}文本，得到 {value!r}")
    return value


def _names(path: Path, where: str, value: Any, columns: set[str]) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        raise _fail(path, where, f"应为列名列表，得到 {value!r}")
    unknown = [i for i in items if i not in columns]
    if unknown:
        raise _fail(path, where, f"没有这些列: {', '.join(unknown)}")
    return tuple(items)


def parse_contract(path: Path, doc: Mapping[str, Any]) -> TableContract:
    """Validate one contract document (read from ``path``); raise :class:`ContractError`."""
    allowed = {"table", "description", "grain", "key", "scenario_keyed", "columns", "tests"}
    extra = set(doc) - allowed
    if extra:
        raise _fail(path, ", ".join(sorted(extra)), "未知字段")
    table = _text(path, "table", doc.get("table"), empty=False)
    if table != path.stem:
        raise _fail(path, "table", f"表名 {table} 与文件名 {path.stem} 不一致")
    raw_columns = doc.get("columns")
    if not isinstance(raw_columns, list) or not raw_columns:
        raise _fail(path, "columns", "应为非空列表")
    columns: list[Column] = []
    for i, raw in enumerate(raw_columns):
        where = f"columns[{i}]"
        if not isinstance(raw, dict):
            raise _fail(path, where, "应为映射")
        unknown = set(raw) - {"name", "type", "unit", "label", "description", "codes",
                              "on_read", "compression"}
        if unknown:
            raise _fail(path, f"{where}.{sorted(unknown)[0]}", "未知字段")
        name = _text(path, f"{where}.name", raw.get("name"), empty=False)
        where = f"columns[{i}] ({name})"
        if name in {c.name for c in columns}:
            raise _fail(path, f"{where}.name", "列名重复")
        unit = _text(path, f"{where}.unit", raw.get("unit"))
        if unit not in UNITS:
            raise _fail(path, f"{where}.unit", f"未知单位 {unit!r}（可用: {', '.join(UNITS)}）")
        codes = raw.get("codes") or {}
        if not isinstance(codes, dict) or not all(isinstance(v, str) for v in codes.values()):
            raise _fail(path, f"{where}.codes", "应为 取值: 中文名 的映射")
        on_read = raw.get("on_read") or {}
        if on_read and (not isinstance(on_read, dict) or set(on_read) != {"expression", "join"}):
            raise _fail(path, f"{where}.on_read", "应为 {expression, join}：读取时由存储行 t 与 join "
                                                  "表同情景、同统筹区、同键的行计算")
        if not on_read and columns and columns[-1].on_read:
            raise _fail(path, f"{where}.on_read", "读取时计算的列应排在存储的列之后")
        compression = _text(path, f"{where}.compression", raw.get("compression"))
        if compression and (compression not in COMPRESSIONS or on_read):
            raise _fail(path, f"{where}.compression",
                        f"应为 {' 或 '.join(COMPRESSIONS)} 之一，且只用于存储的列")
        columns.append(Column(
            name=name, type=_text(path, f"{where}.type", raw.get("type"), empty=False),
            unit=unit, label=_text(path, f"{where}.label", raw.get("label"), empty=False),
            description=_text(path, f"{where}.description", raw.get("description")),
            codes={code_key(k): v for k, v in codes.items()},
            on_read=_text(path, f"{where}.on_read.expression", on_read.get("expression"),
                          empty=not on_read).strip(),
            on_read_join=_text(path, f"{where}.on_read.join", on_read.get("join"),
                               empty=not on_read),
            compression=compression))
    names = {c.name for c in columns}
    key = _names(path, "key", doc.get("key"), names)
    keyed = doc.get("scenario_keyed")
    if not isinstance(keyed, bool):
        raise _fail(path, "scenario_keyed", f"应为 true 或 false，得到 {keyed!r}")
    if keyed and "scenario" not in names:
        raise _fail(path, "scenario_keyed", "按情景替换的表必须有 scenario 列")
    if any(c.on_read for c in columns) and not keyed:
        raise _fail(path, "columns", "只有按情景替换的表能有读取时计算的列（on_read）")
    tests: list[DataTest] = []
    for i, raw in enumerate(doc.get("tests") or []):
        where = f"tests[{i}]"
        if not isinstance(raw, dict):
            raise _fail(path, where, "应为映射")
        kinds = [k for k in _TEST_KINDS if k in raw]
        if len(kinds) == 1 and len(raw) == 1:
            kind = kinds[0]
            cols = _names(path, f"{where}.{kind}", raw[kind], names)
            if kind == "accepted_values" and not all(columns[_index(columns, c)].codes
                                                     for c in cols):
                raise _fail(path, f"{where}.{kind}", "只能检验有 codes 的列")
            tests.append(DataTest(kind, f"{kind}({', '.join(cols)})", columns=cols))
        elif set(raw) <= {"name", "description", "sql"} and "sql" in raw:
            tests.append(DataTest(
                "sql", _text(path, f"{where}.name", raw.get("name"), empty=False),
                _text(path, f"{where}.description", raw.get("description")),
                sql=_text(path, f"{where}.sql", raw["sql"], empty=False).strip()))
        else:
            raise _fail(path, where, "应为 {not_null|unique|accepted_values: [列]} 或 "
                                     "{name, description, sql}")
    return TableContract(
        table=table, description=_text(path, "description", doc.get("description"), empty=False),
        grain=_text(path, "grain", doc.get("grain"), empty=False), key=key,
        scenario_keyed=keyed, columns=tuple(columns), tests=tuple(tests), path=path)


def _index(columns: list[Column], name: str) -> int:
    return next(i for i, c in enumerate(columns) if c.name == name)


def _contract_documents(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Each YAML file under ``root`` with top-level ``table`` and ``columns``, parsed once, in
    the stages' order."""
    def order(item: tuple[Path, Any]) -> tuple[int, str]:
        folder = item[0].relative_to(root).parts[0]
        return (_FOLDERS.index(folder) if folder in _FOLDERS else len(_FOLDERS), str(item[0]))

    found = []
    for path in root.rglob("*.yaml"):
        try:
            doc = read_yaml(path)
        except yaml.YAMLError as exc:  # a contract that cannot be read is refused, never skipped
            raise _fail(path, "file", f"YAML 无法解析：{exc}") from None
        if isinstance(doc, dict) and "table" in doc and "columns" in doc:
            found.append((path, doc))
    return sorted(found, key=order)


def contract_files(root: Path = PACKAGE) -> list[Path]:
    """The contract files under ``root``: YAML files with top-level ``table`` and ``columns``."""
    return [path for path, _ in _contract_documents(root)]


def load_contracts(root: Path = PACKAGE) -> dict[str, TableContract]:
    """Every contract under ``root`` by table name, validated."""
    contracts: dict[str, TableContract] = {}
    for path, doc in _contract_documents(root):
        contract = parse_contract(path, doc)
        if contract.table in contracts:
            raise _fail(path, "table", f"{contract.table} 已在 {contracts[contract.table].path}")
        contracts[contract.table] = contract
    check_on_read(contracts)
    return contracts


def check_on_read(contracts: Mapping[str, TableContract]) -> None:
    """Raise :class:`ContractError` when a column computed on read joins a table that is not
    a scenario-keyed table of ``contracts`` whose key (besides scenario and region) the
    reading table has."""
    for contract in contracts.values():
        for col in contract.columns:
            other = contracts.get(col.on_read_join) if col.on_read else None
            if col.on_read and (other is None or not other.scenario_keyed
                                or not set(join_key(other)) <= {c.name for c in contract.columns}):
                raise _fail(contract.path, f"columns ({col.name}).on_read.join",
                            f"{col.on_read_join} 应为按情景替换的表，其键（情景、统筹区之外）均为本表的列")


def join_key(contract: TableContract) -> tuple[str, ...]:
    """The key of a scenario-keyed table without its scenario and region: what a row of another
    table reading it on read (``on_read``) matches it on."""
    return tuple(k for k in contract.key if k not in ("scenario", "region"))


CONTRACTS: dict[str, TableContract] = load_contracts()


def create_sql(table: str) -> str:
    """The ``CREATE TABLE IF NOT EXISTS`` statement of a stored table (leading newline kept),
    with every column a reader sees (a scenario-keyed result table is stored without its
    columns computed on read: :mod:`dip_sim.pipeline.scenario_tables`)."""
    columns = ",\n".join(f"    {c.ddl}" for c in CONTRACTS[table].columns)
    return f"\nCREATE TABLE IF NOT EXISTS {table} (\n{columns}\n)"


# ---- labels -----------------------------------------------------------------------------

def _derived(table: str | None = None) -> tuple[Mapping[str, tuple[str, str]],
                                                Mapping[str, Mapping[Any, str]]]:
    from dip_sim.labels import DERIVED_CODES, DERIVED_COLUMNS, TABLE_COLUMNS

    if table in TABLE_COLUMNS:
        return {**DERIVED_COLUMNS, **TABLE_COLUMNS[table]}, DERIVED_CODES
    return DERIVED_COLUMNS, DERIVED_CODES


def _with_unit(label: str, unit: str) -> str:
    return f"{label}（{unit}）" if unit else label


def _find(column: str, table: str | None) -> Column | None:
    if table in CONTRACTS:
        found = CONTRACTS[table].column(column)
        if found is not None:
            return found
    return None


def _any(column: str) -> Column | None:
    return next((c for t in CONTRACTS.values() if (c := t.column(column)) is not None), None)


def column_label(column: str, table: str | None = None, *, unit: str | None = None) -> str:
    """The Chinese header of ``column`` (of ``table`` when given), with its unit: 'DIP 支付（元）'.

    Looked up in ``table``'s contract, then among the computed columns of
    :mod:`dip_sim.labels` (its ``TABLE_COLUMNS[table]`` first), then in the first contract
    that has the column; an unknown column is shown by its name. ``unit`` replaces the
    shown unit ('万元' for an amount a page scales, '%' for a share shown × 100, '' for none).
    """
    derived, _ = _derived(table)
    found = _find(column, table)
    if found is None and column in derived:
        label, own = derived[column]
        return _with_unit(label, own if unit is None else unit)
    found = found or _any(column)
    if found is None:
        return column
    return _with_unit(found.label, UNITS[found.unit] if unit is None else unit)


def column_codes(column: str, table: str | None = None) -> Mapping[str, str]:
    """The Chinese name of each value of a coded column (empty when it is not coded)."""
    _, derived = _derived()
    found = _find(column, table)
    if found is not None and found.codes:
        return found.codes
    if column in derived:
        return {code_key(k): v for k, v in derived[column].items()}
    found = _any(column)
    return found.codes if found is not None else {}


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return str(value) in ("<NA>", "NaT")


def code_label(column: str, value: Any, table: str | None = None) -> str:
    """The Chinese name of ``value`` in ``column``; the value itself when it has none."""
    if _missing(value):
        return "—"
    codes = column_codes(column, table)
    key = code_key(value)
    return codes.get(key, key if codes else str(value))


def column_labels(columns: Iterable[str], table: str | None = None) -> dict[str, str]:
    """:func:`column_label` for each of ``columns``."""
    return {c: column_label(c, table) for c in columns}


def labelled(df: Any, table: str | None = None) -> Any:
    """A copy of the pandas DataFrame ``df`` with Chinese headers and coded values named."""
    out = df.copy()
    for col in out.columns:
        if column_codes(col, table):
            out[col] = [code_label(col, v, table) for v in out[col]]
    return out.rename(columns={c: column_label(c, table) for c in out.columns})


# ---- data tests -------------------------------------------------------------------------

def _stored(con: Any) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE NOT temporary").fetchall()}


def _test_sql(contract: TableContract, test: DataTest, scenarios: list[str] | None = None) -> str:
    """The SELECT of the rows failing ``test``; with ``scenarios``, a test reads only their rows
    of the scenario-keyed tables (a view of several scenarios is not read whole): a generated
    test its table's, a written one (``sql``) every scenario-keyed table it names, each
    shadowed by a CTE of the same name over those rows."""
    t = contract.table
    names = ", ".join(quoted(s) for s in scenarios or ()) or "NULL"
    if scenarios is not None and test.kind == "sql":
        read = [c.table for c in CONTRACTS.values()
                if c.scenario_keyed and re.search(rf"\b{c.table}\b", test.sql)]
        if read:
            shadows = ", ".join(f"{r} AS (SELECT * FROM main.{r} WHERE scenario IN ({names}))"
                                for r in read)
            return f"WITH {shadows} SELECT * FROM (\n{test.sql}\n) AS failing"
    if scenarios is not None and contract.scenario_keyed and test.kind != "sql":
        t = f"(SELECT * FROM {contract.table} WHERE scenario IN ({names})) AS {contract.table}"
    if test.kind == "not_null":
        return f"SELECT * FROM {t} WHERE " + " OR ".join(f"{c} IS NULL" for c in test.columns)
    if test.kind == "unique":  # NULLs count as equal; one row per repeated key
        # the keys whose 64-bit hash repeats first (grouping integers is cheap), then the
        # exact keys among those: the same answer, a third faster on 10M rows
        keys = ", ".join(test.columns)
        return (f"SELECT {keys} FROM {t} WHERE hash({keys}) IN (SELECT hash({keys}) FROM {t} "
                f"GROUP BY 1 HAVING count(*) > 1) GROUP BY {keys} HAVING count(*) > 1")
    if test.kind == "accepted_values":
        parts = []
        for c in test.columns:
            codes = contract.column(c).codes  # type: ignore[union-attr]
            values = ", ".join(quoted(v) for v in codes)
            parts.append(f"({c} IS NOT NULL AND CAST({c} AS VARCHAR) NOT IN ({values}))")
        return f"SELECT * FROM {t} WHERE " + " OR ".join(parts)
    return test.sql


def run_data_tests(con: Any, scenarios: Iterable[str] | None = None,
                   tables: Iterable[str] | None = None) -> list[str]:
    """Run every contract's data tests on the stored tables open on ``con``.

    Restricted to ``scenarios`` when given (the rows of scenario-keyed tables, and the
    reconciliations' rows, by their ``scenario`` column), and to the contracts of ``tables``
    when given (the tables a run wrote). Tables not in the warehouse (a
    stage not run) are passed over. Returns one Chinese message per failed test naming the
    table, the test and the number of offending rows; empty when all pass.
    """
    import duckdb

    chosen = None if scenarios is None else list(scenarios)
    there = _stored(con)
    wanted = None if tables is None else set(tables)
    checks: list[tuple[TableContract, DataTest, str, list[Any]]] = []
    for contract in CONTRACTS.values():
        if contract.table not in there or (wanted is not None and contract.table not in wanted):
            continue
        for test in contract.tests:
            params: list[Any] = []
            where = ""
            if chosen is not None and (contract.scenario_keyed or test.kind == "sql"):
                where = f" WHERE scenario IN ({', '.join('?' for _ in chosen) or 'NULL'})"
                params = list(chosen)
            checks.append((contract, test, f"SELECT count(*) FROM ({_test_sql(contract, test, chosen)}) "
                                              f"AS offending{where}", params))
    counts: list[int | None]
    try:  # as one query (each test alone costs a few milliseconds more to plan and run)
        union = "\nUNION ALL\n".join(f"SELECT {i} AS i, n FROM ({sql}) AS c(n)"
                                      for i, (_, _, sql, _) in enumerate(checks))
        found = dict(con.execute(union, [v for *_, params in checks for v in params]).fetchall()
                     if checks else [])
        counts = [found[i] for i in range(len(checks))]
    except duckdb.CatalogException:  # a table some test reconciles with is not there
        counts = []
        for _, _, sql, params in checks:
            try:
                counts.append(con.execute(sql, params).fetchall()[0][0])
            except duckdb.CatalogException:
                counts.append(None)  # that test is passed over
    failures = []
    for (contract, test, _, _), n in zip(checks, counts, strict=True):
        if n:
            about = f"（{test.description}）" if test.description else ""
            failures.append(f"{contract.table}：检验 {test.name} 未通过，{n} 行违反{about}")
    return failures


# ---- docs/tables.md -----------------------------------------------------------------------

_INTRO = """\
# Output tables

All in the warehouse (`data/warehouse.duckdb`); the dashboard, reports and outside tools read
these. Scenario tables hold one set of rows per scenario name.

Generated by `make docs` from the contract files (`<table>.yaml` beside the model that
stores each table: `dip_sim/catalog/`, `budget/`, `score/`, `settle/`, `metrics/`, `supervise/`,
`pipeline/`); edit those, not this page. The same files give the DDL, the Chinese headers and
code names of the pages and workbooks, and the data tests
(`dip_sim.contract.run_data_tests`), which run at the end of every `dip-sim simulate` and
`dip-sim supervise`, inside its transaction: a failure keeps the last good results. A change
of columns raises `SCHEMA_VERSION` (`dip_sim/warehouse_version.py`); an older warehouse is
refused with one message and built again by `dip-sim rebuild --db PATH`: it loads the
directories recorded at each ingest again (with their `--mapping`, `--sheet`,
`--allow-unmapped`) into a new file, runs quality, simulates again the baseline and the
scenarios of its year whose files are still there (`runs.scenario_file`; the others are
listed), supervises what was supervised, and only then keeps the old file as
`PATH.old-<timestamp>`. Missing inputs are named and nothing changes (exit 2); Ctrl-C leaves
the old warehouse; `--dir` names the directories of a warehouse that recorded none.

Inputs and bookkeeping (not in the contract): `hospitals`, `cases` (codes in canonical form,
`invalid_codes`, and the group-key parts `proc_key_all`, `proc_key_main`, `proc_class_max`
derived at load; after editing `data/reference/proc_class_override.csv` or
`conservative_procedures.csv` run `dip-sim quality --recode`), `settlements` (both with
`source_file`, `source_row`, `batch_id`, `row_hash`), `duplicate_keys` (the keys with two
different contents, kept by each ingest), `load_batches` (per table: file, size, SHA-256, rows
read/loaded/already present/rejected/replaced, status, column mapping, encoding),
`load_errors`, `quality_rules` (the catalogue the run used), `quality_findings` (every
finding: case, rule, severity, field, value, detail), `code_changes` (a view: every code
written otherwise than its canonical form, with the rule), `case_features` (one row per input
case: `dx5, dx3, proc_key_all, proc_key_main, proc_class_max`, cost, the pseudonymised
`patient_id`, `admit_date, discharge_date, discharge_disposition`, `drug_yuan,
consumable_yuan, patient_paid_yuan` (for supervision), `has_case`, `has_settlement`,
`eligible` and the verdict, NULL when ok), `case_status` (a view of `case_features`: `case_id,
year, hospital_id, status, severity` (`ok`/`warning`/`critical`), `reason`), `warehouse_meta`
(pseudonym key fingerprint, last batch loaded, batch the quality tables reflect), and `ref_*`
code tables.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def tables_markdown() -> str:
    """docs/tables.md as the contracts give it."""
    lines = [_INTRO]
    lines.append("| table | grain | key | file |")
    lines.append("|---|---|---|---|")
    for c in CONTRACTS.values():
        rel = c.path.relative_to(PACKAGE.parent).as_posix()
        lines.append(f"| [`{c.table}`](#{c.table}) | {_cell(c.grain)} | "
                     f"`{', '.join(c.key)}` | `{rel}` |")
    for c in CONTRACTS.values():
        lines += ["", f"## {c.table}", "", c.description, "",
                  f"- grain: {c.grain}", f"- key: `{', '.join(c.key)}`",
                  f"- rows replaced per scenario by a run: {'yes' if c.scenario_keyed else 'no'}",
                  f"- contract: `{c.path.relative_to(PACKAGE.parent).as_posix()}`", "",
                  "| column | type | unit | label | description | codes |",
                  "|---|---|---|---|---|---|"]
        for col in c.columns:
            codes = "; ".join(f"`{k}` {v}" for k, v in col.codes.items())
            about = col.description + (f"（读取时计算，不存储：`{col.on_read}`，"
                                       f"`{col.on_read_join}` 为同情景、同统筹区的行）"
                                       if col.on_read else "")
            stored_as = f" ({col.compression})" if col.compression else ""
            lines.append(f"| `{col.name}` | {col.type}{stored_as} | {col.unit} | {_cell(col.label)} | "
                         f"{_cell(about)} | {_cell(codes)} |")
        if c.tests:
            lines += ["", "Data tests:", ""]
            for t in c.tests:
                if t.kind == "sql":
                    about = f": {t.description}" if t.description else ""
                    lines.append(f"- `{t.name}`{about}")
                else:
                    lines.append(f"- {t.name}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write docs/tables.md (``--check``: exit 1 when it is out of date instead)."""
    args = sys.argv[1:] if argv is None else argv
    text = tables_markdown()
    if "--check" in args:
        current = DOCS.read_text(encoding="utf-8") if DOCS.exists() else ""
        if current != text:
            print(f"{DOCS} 已过期：运行 python -m dip_sim.contract", file=sys.stderr)
            return 1
        return 0
    DOCS.write_text(text, encoding="utf-8")
    print(f"已写入 {DOCS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
