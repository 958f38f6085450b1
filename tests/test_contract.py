"""The output contract (dip_sim/contract.py and the <table>.yaml beside each stage): the DDL
it gives, docs/tables.md up to date, malformed contracts refused, the data tests catching a
broken warehouse, and Chinese labels and code names in a hospital's statement workbook (read back as a
reader sees it)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml

from dip_sim import contract
from dip_sim.contract import (
    CONTRACTS,
    ContractError,
    code_label,
    column_label,
    labelled,
    parse_contract,
    run_data_tests,
)
from dip_sim.policy import BASELINE, Scenario, load_baseline
from dip_sim.reports.statements import write_report
from dip_sim.schema import OUTPUT_DDL, SCENARIO_TABLES
from dip_sim.simulation import simulate
from dip_sim.supervise.tables import INDEX_LABELS, SUPERVISION_DDL, index_label
from tests.inputs import ingest_generated_city

ROOT = Path(__file__).resolve().parents[1]


def test_docs_tables_is_up_to_date():
    text = (ROOT / "docs" / "tables.md").read_text(encoding="utf-8")
    assert text == contract.tables_markdown(), "docs/tables.md 已过期：运行 python -m dip_sim.contract"


def test_every_stored_table_has_a_contract_and_its_ddl(tmp_path):
    assert set(OUTPUT_DDL) | set(SUPERVISION_DDL) == set(CONTRACTS)
    assert {"runs", "case_scores", "hospital_settlement"} <= set(SCENARIO_TABLES)
    assert not set(SUPERVISION_DDL) & set(SCENARIO_TABLES)  # replaced by supervise, as before
    ddl = contract.create_sql("point_value_years")
    assert ddl == ("\nCREATE TABLE IF NOT EXISTS point_value_years (\n    scenario VARCHAR,\n"
                   "    region VARCHAR,\n"
                   "    year INTEGER,\n    kind VARCHAR,\n    value_per_point DOUBLE\n)")
    for table, c in CONTRACTS.items():
        assert set(c.key) <= {col.name for col in c.columns}, table
        assert all(col.label for col in c.columns), table
        con = duckdb.connect()
        con.execute(contract.create_sql(table))  # valid DuckDB
    # a column given its compression is created with it (the case numbers of 10M rows)
    assert "    case_id VARCHAR USING COMPRESSION zstd," in contract.create_sql("case_scores")
    zstd = _parse(tmp_path, {**GOOD, "columns": [{**GOOD["columns"][0], "compression": "zstd"}]})
    assert zstd.columns[0].ddl == "scenario VARCHAR USING COMPRESSION zstd"


def _parse(tmp_path, doc, name="t"):
    path = contract.PACKAGE / "settle" / f"{name}.yaml"  # a path under the package
    return parse_contract(path, doc)


GOOD = {"table": "t", "description": "d", "grain": "one row per scenario", "key": ["scenario"],
        "scenario_keyed": True,
        "columns": [{"name": "scenario", "type": "VARCHAR", "unit": "", "label": "情景"}],
        "tests": [{"not_null": ["scenario"]}]}


@pytest.mark.parametrize("change, field", [
    ({"key": ["nope"]}, "key"),
    ({"columns": [{"name": "scenario", "type": "VARCHAR", "unit": "furlongs", "label": "x"}]},
     "columns[0] (scenario).unit"),
    ({"columns": [{"name": "scenario", "type": "VARCHAR"}]}, "columns[0] (scenario).label"),
    ({"scenario_keyed": "yes"}, "scenario_keyed"),
    ({"table": "other"}, "table"),
    ({"tests": [{"unique": ["missing"]}]}, "tests[0].unique"),
    ({"tests": [{"sql": "SELECT 1"}]}, "tests[0].name"),
    ({"colour": "red"}, "colour"),
    # a column computed on read: {expression, join}, after the stored columns, in a
    # scenario-keyed table
    ({"columns": [*GOOD["columns"], {"name": "x", "type": "DOUBLE", "unit": "", "label": "x",
                                     "on_read": {"expression": "1"}}]},
     "columns[1] (x).on_read"),
    ({"columns": [*GOOD["columns"], {"name": "x", "type": "DOUBLE", "unit": "", "label": "x",
                                     "on_read": {"expression": "1", "join": "t"}},
                  {"name": "y", "type": "DOUBLE", "unit": "", "label": "y"}]},
     "columns[2] (y).on_read"),
    ({"scenario_keyed": False,
      "columns": [*GOOD["columns"], {"name": "x", "type": "DOUBLE", "unit": "", "label": "x",
                                     "on_read": {"expression": "1", "join": "t"}}]},
     "columns"),
    # a compression DuckDB is told to use: one of COMPRESSIONS, for a stored column
    ({"columns": [{**GOOD["columns"][0], "compression": "gzip"}]},
     "columns[0] (scenario).compression"),
    ({"columns": [*GOOD["columns"], {"name": "x", "type": "DOUBLE", "unit": "", "label": "x",
                                     "on_read": {"expression": "1", "join": "t"},
                                     "compression": "zstd"}]},
     "columns[1] (x).compression"),
])
def test_a_malformed_contract_is_refused_naming_file_and_field(tmp_path, change, field):
    _parse(tmp_path, GOOD)
    with pytest.raises(ContractError) as info:
        _parse(tmp_path, {**GOOD, **change})
    assert "dip_sim/settle/t.yaml" in str(info.value) and field in str(info.value)


def test_a_column_computed_on_read_joins_a_scenario_keyed_table_on_its_key(tmp_path):
    """The table an on-read column reads must be a scenario-keyed result table whose key
    (besides scenario and region) the reading table has."""
    def reading(join):
        return _parse(tmp_path, {**GOOD, "columns": [*GOOD["columns"], {
            "name": "x", "type": "DOUBLE", "unit": "", "label": "x",
            "on_read": {"expression": "1", "join": join}}]})

    keyed = _parse(tmp_path, {**GOOD, "table": "h", "key": ["scenario", "hospital_id"],
                              "columns": [*GOOD["columns"], {"name": "hospital_id",
                                                             "type": "VARCHAR", "unit": "",
                                                             "label": "医院"}]}, name="h")
    for join in ("missing", "h"):  # no such table; a key column (hospital_id) t lacks
        with pytest.raises(ContractError, match="columns \\(x\\).on_read.join"):
            contract.check_on_read({"t": reading(join), "h": keyed})
    contract.check_on_read({"t": reading("t")})  # its own key: scenario only


def test_a_case_amount_is_computed_on_read_from_its_hospitals_settlement():
    """Hand-computed: hospital H1 has 10 points and a DIP amount of 1,000 yuan; its cases of
    3 and 7 points get 300 and 700, in every scenario that reads those case rows (a budget
    scenario reusing the baseline's cases gets its own hospital amount: 1,200 → 360, 840)."""
    from dip_sim.pipeline import scenario_tables

    con = duckdb.connect()
    scenario_tables.ensure(con)
    con.execute("INSERT INTO stored.case_scores (scenario, region, case_id, hospital_id, "
                "case_points) VALUES ('baseline', 'R', 'c1', 'H1', 3), "
                "('baseline', 'R', 'c2', 'H1', 7)")
    con.execute("INSERT INTO stored.hospital_settlement (scenario, region, hospital_id, "
                "total_points, dip_amount_yuan) VALUES ('baseline', 'R', 'H1', 10, 1000), "
                "('budget', 'R', 'H1', 10, 1200)")
    scenario_tables.set_sources(con, "baseline", "R", scenario_tables.LAYERED, None)
    scenario_tables.set_sources(con, "budget", "R", ["hospital_settlement"], "baseline")
    rows = con.execute("SELECT scenario, case_id, case_amount_yuan FROM case_scores "
                       "ORDER BY ALL").fetchall()
    assert rows == [("baseline", "c1", 300.0), ("baseline", "c2", 700.0),
                    ("budget", "c1", 360.0), ("budget", "c2", 840.0)]
    assert "case_amount_yuan" not in {r[0] for r in con.execute(
        "DESCRIBE stored.case_scores").fetchall()}


def test_contract_files_ignore_other_yaml(tmp_path):
    (tmp_path / "settle").mkdir()
    (tmp_path / "settle" / "t.yaml").write_text(yaml.safe_dump(GOOD), encoding="utf-8")
    (tmp_path / "settle" / "other.yaml").write_text("a: 1\n", encoding="utf-8")
    assert [p.name for p in contract.contract_files(tmp_path)] == ["t.yaml"]


def test_labels_are_per_table_column():
    assert column_label("aux_coefficient", "catalog_subtypes") == "辅助分型系数"
    assert column_label("assessment_coefficient", "assessment") == "考核系数"
    assert column_label("cost_ratio_coefficient", "level_coefficients") == "费用比例法系数"
    assert column_label("cost_ratio", "case_scores") == "费用倍率"
    assert column_label("dip_amount_yuan") == "DIP 支付（元）"
    assert column_label("dip_amount_yuan", unit="万元") == "DIP 支付（万元）"
    assert column_label("year_end_amount_wan") == "年终结算额（万元）"  # computed by a report
    assert column_label("no_such_column") == "no_such_column"
    assert code_label("group_type", "core") == "核心病种"
    # a column of several tables, read without naming one, keeps its Chinese values
    assert code_label("pool", "employee") == "职工医保"
    assert code_label("outlier", "extreme", "case_scores") == "极端异常"
    assert code_label("paid_as_special", False) == "否"
    assert code_label("level", 3.0) == "三级"
    assert code_label("outlier", "odd") == "odd"
    assert INDEX_LABELS["split_admission"] == "分解住院" and index_label("readmit_7d_same") == \
        "7 日同病种再入院"
    import pandas as pd
    shown = labelled(pd.DataFrame({"group_type": ["core"], "primary_group": [True]}), "case_scores")
    assert list(shown.columns) == ["病种类型", "基层病种（已采用）"]
    assert shown.iloc[0].tolist() == ["核心病种", "是"]


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("contract_city")
    db = ingest_generated_city(tmp, 1500, seed=7)
    con = duckdb.connect(str(db))
    simulate(con, 2020, None, [Scenario(BASELINE), Scenario("g10", changes={
        "budget.growth_rate": 0.10})], load_baseline(), progress=lambda message: None)
    yield con
    con.close()


def test_the_simulated_warehouse_passes_every_data_test(city):
    assert run_data_tests(city) == []


@pytest.mark.parametrize("breakage, expected", [
    # the rows as a run stored them (stored.T: the views read them; g10 changes only the budget,
    # so its grouping and case points are the baseline's stored rows)
    ("UPDATE stored.hospital_settlement SET dip_amount_yuan = dip_amount_yuan + 5 WHERE hospital_id = "
     "(SELECT min(hospital_id) FROM hospital_settlement)", "point_values：检验 fund_paid_out"),
    ("UPDATE stored.case_scores SET case_id = NULL WHERE case_id = (SELECT min(case_id) FROM case_scores) "
     "AND scenario = 'baseline'",  # seen by both scenarios
     "case_scores：检验 not_null(scenario, region, case_id) 未通过，2 行违反"),
    ("UPDATE stored.case_groups SET case_id = (SELECT max(case_id) FROM case_groups) "
     "WHERE case_id = (SELECT min(case_id) FROM case_groups) AND scenario = 'baseline'",
     # one repeated key, seen by both scenarios
     "case_groups：检验 unique(scenario, region, case_id) 未通过，2 行违反"),
    ("DELETE FROM stored.case_groups WHERE case_id = (SELECT min(case_id) FROM case_groups) "
     "AND scenario = 'baseline'", "case_groups：检验 every_input_case 未通过，2 行违反"),
    # a cell that does not add up to its cases (seen by both scenarios: g10 reads the
    # baseline's cases and cells)
    ("UPDATE stored.case_score_cells SET n_cases = n_cases + 1 WHERE hospital_id = "
     "(SELECT min(hospital_id) FROM case_score_cells) AND month = (SELECT min(month) FROM "
     "case_score_cells) AND grouped AND scenario = 'baseline'",
     "case_score_cells：检验 cells_add_up_to_the_cases 未通过，2 行违反"),
    ("UPDATE stored.case_scores SET outlier = 'odd' WHERE case_id = (SELECT min(case_id) FROM case_scores)",
     "case_scores：检验 accepted_values(group_type, outlier) 未通过，2 行违反"),
])
def test_data_tests_catch_a_broken_warehouse(city, breakage, expected):
    city.execute("BEGIN")
    try:
        city.execute(breakage)
        failures = run_data_tests(city)
        assert any(expected in f for f in failures), failures
        # read as a run reads them, restricted to its scenarios (a written test's tables
        # shadowed by their rows of those scenarios): the same failure
        restricted = run_data_tests(city, ["baseline", "g10"])
        assert any(expected in f for f in restricted), restricted
        assert run_data_tests(city, ["no_such_scenario"]) == []
    finally:
        city.execute("ROLLBACK")


def test_the_statement_names_codes_in_chinese(city, tmp_path):
    hospital = city.execute("""
        SELECT hospital_id FROM case_scores s WHERE scenario = ? AND outlier = 'extreme'
          AND hospital_id IN (SELECT hospital_id FROM special_cases WHERE scenario = ?)
        LIMIT 1""", [BASELINE, BASELINE]).fetchall()[0][0]
    out = tmp_path / "statement.xlsx"
    write_report(city, BASELINE, hospital, out)
    book = pl.read_excel(out, sheet_id=0)  # every sheet (the workbook as a reader sees it)
    assert set(book["病种明细"]["病种类型"]) <= {"核心病种", "综合病种"}
    assert "核心病种" in set(book["病种明细"]["病种类型"])
    bands = set(book["费用偏差病例"]["费用偏差"])
    assert "极端异常" in bands and not {"extreme", "high", "low"} & bands
    paid = book["特例单议"]["按特例支付"]
    assert len(paid) > 0 and set(paid) <= {"是", "否"}
    summary = dict(book["结算汇总"].iter_rows())
    assert summary["医院等级"] in {"三级", "二级", "一级"} and "DIP 支付（元）" in summary


def test_every_column_says_what_it_is():
    """Each stored column has its type, unit, Chinese label and a description."""
    missing = [f"{t}.{c.name}" for t, contract in CONTRACTS.items() for c in contract.columns
               if not (c.type and c.label.strip() and c.description.strip())]
    assert not missing, missing


def test_data_tests_can_be_limited_to_the_tables_a_run_wrote(city):
    city.execute("BEGIN")
    try:
        city.execute("DELETE FROM stored.case_groups WHERE case_id = (SELECT min(case_id) FROM "
                     "case_groups)")
        assert any("every_input_case" in f for f in run_data_tests(city))
        assert run_data_tests(city, tables=["supervision_cases", "runs"]) == []
    finally:
        city.execute("ROLLBACK")


def test_a_text_written_into_sql_reads_back_as_itself():
    from dip_sim.sql_text import quoted

    assert quoted("O'Brien") == "'O''Brien'"
    for text in ("O'Brien", "", "''", "情景 'a'"):
        assert duckdb.connect().execute(f"SELECT {quoted(text)}").fetchone()[0] == text
