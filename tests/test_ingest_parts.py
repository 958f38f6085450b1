"""Fields made of several columns, and durations in 天/小时/分钟: hand-computed values."""

from __future__ import annotations

import duckdb
import pytest

from dip_sim.ingest.headers import header_map, map_headers
from dip_sim.ingest.parsing import Part, combined_value_sql, parse_text_expr
from dip_sim.schema import INPUT_COLUMNS
from pipelines.ingest import run_ingest
from tests.inputs import case_row, query, settlement_row, write_csv, write_inputs

QUIET = lambda message: None  # noqa: E731


def _combined(field: str, cells: list[tuple[str, str | None, float | str]]):
    """(value, text) of ``field`` made of parts given as (header, text, unit)."""
    con = duckdb.connect()
    names = [f"p{i}" for i in range(len(cells))]
    values = ", ".join(f"?::VARCHAR AS {n}" for n in names)
    con.execute(f"CREATE TABLE t AS SELECT {values}", [text for _, text, _ in cells])
    parts = [Part(n, "VARCHAR", unit, header) for n, (header, _, unit) in zip(names, cells, strict=True)]
    value, text = combined_value_sql(INPUT_COLUMNS[field], parts)
    return con.execute(f"SELECT {value}, {text} FROM t").fetchall()[0]


def test_amount_parts_add_up_as_written():
    # 10.10 + 20.20 + 0.70 = 31.00 exactly (as decimals; in binary doubles 31.000000000000004)
    value, _ = _combined("drug_yuan", [("西药费", "10.10", 1.0), ("中药饮片费", "20.20", 1.0),
                                       ("中成药费", "0.70", 1.0)])
    assert value == 31.0
    # a part left empty adds nothing; every part empty is no value at all
    assert _combined("drug_yuan", [("西药费", "1,200.50", 1.0), ("中成药费", " ", 1.0)])[0] == 1200.5
    assert _combined("drug_yuan", [("西药费", None, 1.0), ("中成药费", "", 1.0)]) == (None, None)


def test_an_unreadable_part_empties_the_field_and_shows_each_part():
    value, text = _combined("drug_yuan", [("西药费", "10.10", 1.0), ("中成药费", "abc", 1.0)])
    assert value is None  # no sum that leaves 中成药费 out
    assert text == "西药费=10.10; 中成药费=abc"


@pytest.mark.parametrize(("text", "unit", "hours"), [
    ("1/13/24", "dhm", 37.4),   # 1 × 24 + 13 + 24 / 60
    ("0/2/30", "dhm", 2.5),     # 2 + 30 / 60
    ("37", "dhm", None),        # the standard's column wants 天/小时/分钟
    ("37.5", 1.0, 37.5),        # the contract's own column: hours
    ("2", 24.0, 48.0),          # a 天 column: × 24
    ("90", 1 / 60, 1.5),        # a 分钟 column: ÷ 60
])
def test_durations_are_read_in_hours(text, unit, hours):
    value, _ = _combined("ventilator_hours", [("呼吸机使用时间", text, unit)])
    assert value == pytest.approx(hours) if hours is not None else value is None


def test_duration_parts_add_up():
    # 1 day + 2 hours + 30 minutes = 24 + 2 + 0.5 = 26.5 hours
    value, _ = _combined("ventilator_hours", [("天", "1", 24.0), ("小时", "2", 1.0),
                                              ("分钟", "30", 1 / 60)])
    assert value == pytest.approx(26.5)
    con = duckdb.connect()
    expr = parse_text_expr(INPUT_COLUMNS["icu_hours"], "'1/13/24'")
    assert con.execute(f"SELECT {expr}").fetchall()[0][0] == pytest.approx(37.4)


def test_a_whole_column_wins_over_parts_and_a_part_over_its_sub_parts():
    mapping = header_map()
    mapped = map_headers(["补充医疗保险支付", "职工大额医疗费用补助", "医疗救助支付", "个人负担",
                          "个人自付", "个人自费"], mapping)
    assert mapped.fields["other_fund_paid_yuan"].headers == ["补充医疗保险支付", "医疗救助支付"]
    assert mapped.fields["patient_paid_yuan"].headers == ["个人负担"]
    assert {h for h, _, _ in mapped.redundant} == {"职工大额医疗费用补助", "个人自付", "个人自费"}
    # without 补充医疗保险支付 its sub-parts count, each once
    mapped = map_headers(["职工大额医疗费用补助", "居民大病保险", "医疗救助支付"], mapping)
    assert mapped.fields["other_fund_paid_yuan"].headers == [
        "职工大额医疗费用补助", "居民大病保险", "医疗救助支付"]


def test_icu_days_from_hours_and_the_payment_split_with_other_funds(tmp_path):
    cases = [case_row("a", "H1", "2019-03-05", "K35.300", icu_days=""),
             case_row("b", "H1", "2019-03-06", "K35.300", icu_days="5")]
    settlements = [settlement_row("a", "2019-03-05", 1000, 600, patient_paid_yuan=300),
                   settlement_row("b", "2019-03-06", 1000, 600, patient_paid_yuan=400)]
    src = write_inputs(tmp_path / "in", [], [])
    columns = [c.name for c in INPUT_COLUMNS.values()
               if c.name in cases[0] or c.name in ("icu_days", "icu_hours")]
    cases[0]["icu_hours"], cases[1]["icu_hours"] = "1/13/24", "1/0/0"
    write_csv(src / "cases.csv", columns, cases)
    settle_columns = [c for c in settlements[0]] + ["other_fund_paid_yuan"]
    for s in settlements:
        s["other_fund_paid_yuan"] = 100
    write_csv(src / "settlements.csv", settle_columns, settlements)
    db = tmp_path / "w.duckdb"
    run_ingest(src, db, progress=QUIET)
    # a: 37.4 h is 2 days begun; b: the icu_days given (5) wins over its 24 h
    assert query(db, "SELECT case_id, icu_days FROM case_features ORDER BY 1") == [("a", 2), ("b", 5)]
    # a: 600 + 100 + 300 = 1000, as it should; b: 600 + 100 + 400 = 1100 ≠ 1000
    assert query(db, "SELECT case_id FROM quality_findings WHERE rule = 'payment_split_mismatch'"
                 ) == [("b",)]
