"""The national 医疗保障基金结算清单 loads whole, with no mapping file, and simulates like the
canonical files; every recognised header spelling lands in its field."""

from __future__ import annotations

import csv

import polars as pl
import pytest

from dip_sim.ingest.headers import (
    HEADER_MAP_FILE,
    IGNORE,
    LIST_FIELDS,
    header_map,
    map_conflicts,
    map_headers,
    row_spellings,
)
from dip_sim.schema import INPUT_COLUMNS
from pipelines.ingest import run_ingest
from pipelines.simulate import run_simulate
from tests.inputs import query

QUIET = lambda message: None  # noqa: E731
YEARS = (2017, 2018, 2019, 2020)


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    """The same synthetic city loaded and simulated from canonical CSV and from the 清单."""
    from dip_sim.synth import generate

    root = tmp_path_factory.mktemp("national")
    out = {}
    for file_format in ("csv", "national"):
        src, db = root / file_format, root / f"{file_format}.duckdb"
        generate(src, years=YEARS, cases_per_year=1500, seed=13, file_format=file_format)
        summary = run_ingest(src, db, progress=QUIET)
        run_simulate(db, 2020, progress=QUIET)
        out[file_format] = (src, db, summary)
    return out


def test_the_export_has_every_layout_and_encoding(city):
    src, _, summary = city["national"]
    assert not summary.refused and not summary.alert
    encodings = {f["encoding"] for f in summary.files if f["status"] == "loaded"}
    assert {"gb18030", "utf-8-sig", "xlsx"} <= encodings
    kinds = {f["file_kind"] for f in summary.files if f["file_path"].endswith(".xlsx#结算清单")}
    assert kinds == {"hospitals", "cases", "settlements"}
    # titles above, two-row headers, totals rows below: all found and said so
    assert any("合计行" in n for n in summary.notes)
    messages = {f["message"] for f in summary.files}
    assert any("两行表头" in m for m in messages) and any("表头第 2 行" in m for m in messages)
    # nothing unmapped in the standard's own export
    assert all(not f["unmapped_columns"] for f in summary.files), \
        [f["unmapped_columns"] for f in summary.files if f["unmapped_columns"]]


def test_every_case_field_and_amount_lands_where_the_canonical_file_has_it(city):
    canonical, national = city["csv"][1], city["national"][1]
    case_sql = ("SELECT case_id, hospital_id, patient_id, sex, age_years, age_days, birth_weight_g, "
                "insurance_type, admit_date, discharge_date, los_days, discharge_disposition, "
                "main_dx, other_dx, main_proc, other_procs, proc_key_all, invalid_codes "
                "FROM cases ORDER BY case_id")
    assert query(national, case_sql) == query(canonical, case_sql)
    money = ("SELECT case_id, settle_date, total_cost_yuan, fund_paid_yuan, patient_paid_yuan, "
             "drug_yuan, consumable_yuan, exam_yuan, lab_yuan, treatment_yuan, surgery_yuan, "
             "nursing_yuan, bed_yuan, other_yuan FROM settlements ORDER BY case_id")
    assert query(national, money) == query(canonical, money)
    # ICU days from the 重症监护合计时长 (天/小时/分钟), as the canonical icu_days
    icu = "SELECT case_id, icu_days FROM case_features ORDER BY case_id"
    assert query(national, icu) == query(canonical, icu)
    # the hospitals named on the 清单 rows, with their 医保结算等级
    hospitals = "SELECT hospital_id, hospital_name, level FROM hospitals ORDER BY 1"
    assert query(national, hospitals) == query(canonical, hospitals)


def test_simulation_equals_the_canonical_group_by_group_and_hospital_by_hospital(city):
    canonical, national = city["csv"][1], city["national"][1]
    statements = [
        "SELECT group_code, group_type, n_cases, mean_cost_yuan, rw FROM catalog_groups "
        "WHERE scenario = 'baseline' ORDER BY group_code",
        "SELECT case_id, group_code, case_points, case_amount_yuan FROM case_scores "
        "WHERE scenario = 'baseline' ORDER BY case_id",
        "SELECT hospital_id, n_cases, total_points, dip_amount_yuan, ffs_fund_paid_yuan, "
        "year_end_amount_yuan FROM hospital_settlement WHERE scenario = 'baseline' ORDER BY 1",
        "SELECT dip_fund_yuan, total_points, pv_budget_yuan, pv_settlement_yuan FROM point_values "
        "WHERE scenario = 'baseline'",
        "SELECT status, severity, count(*) FROM case_status GROUP BY ALL ORDER BY ALL",
    ]
    for sql in statements:
        expected = query(canonical, sql)
        assert expected and query(national, sql) == expected, sql


def _variant_value(name: str, i: int) -> str:
    """A value for ``name`` that reads back as itself (row ``i``)."""
    col = INPUT_COLUMNS[name]
    if name in ("main_dx", "other_dx"):
        return "K35.300x001"
    if name in ("main_proc", "other_procs"):
        return "47.0901"
    if col.sql_type == "DATE":
        return "2019-05-17"
    if col.sql_type in ("INTEGER", "DOUBLE"):
        return "1/0/0" if col.text_format else str(i % 3 + 1)
    return f"v{i}"


def test_the_map_names_no_spelling_twice():
    assert map_conflicts() == []


def test_every_recognised_spelling_lands_in_its_field(tmp_path):
    """Each spelling of every built-in row, numbered where the item repeats, is recognised:
    stored in its field (or as one of its parts), or recognised and not stored."""
    mapping = header_map()
    with open(HEADER_MAP_FILE, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    checked = 0
    for row in rows:
        for spelling in row_spellings(row):
            forms = [spelling]
            if row["field"] in LIST_FIELDS or row["field"] == IGNORE or row["part"]:
                forms += [f"{spelling}1", f"{spelling}2"]
            for form in forms:
                mapped = map_headers([form], mapping)
                if row["field"] == IGNORE:
                    assert [h for h, _ in mapped.ignored] == [form], (row["header"], form)
                else:
                    assert row["field"] in mapped.fields, (row["header"], form, mapped)
                    assert mapped.fields[row["field"]].headers == [form]
                checked += 1
    assert checked > 1500


def test_an_export_written_with_every_variant_loads_each_into_its_field(tmp_path):
    """Files in which every stored field is written under one of its spellings, the next
    spelling in the next file, until each spelling has been used: every value read back."""
    with open(HEADER_MAP_FILE, encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["field"] != IGNORE]
    spellings: dict[str, list[str]] = {}
    for row in rows:
        if row["field"] not in ("hospital_name", "level", "county"):  # the hospital table's own
            spellings.setdefault(row["field"], []).extend(row_spellings(row))
    rounds = max(len(v) for v in spellings.values())
    src = tmp_path / "in"
    src.mkdir()
    for r in range(rounds):
        frame = {names[r % len(names)]: [_variant_value(name, i) for i in range(2)]
                 for name, names in spellings.items()}
        frame[spellings["case_id"][r % len(spellings["case_id"])]] = [f"r{r}c0", f"r{r}c1"]
        frame[spellings["hospital_id"][r % len(spellings["hospital_id"])]] = ["H1", "H1"]
        pl.DataFrame(frame).write_csv(src / f"round_{r:03d}.csv")
    pl.DataFrame({"定点医药机构代码": ["H1"], "定点医药机构名称": ["甲"], "医保结算等级": ["三级"]}
                 ).write_csv(src / "hospitals.csv")
    db = tmp_path / "w.duckdb"
    summary = run_ingest(src, db, progress=QUIET, quality=False)
    assert not summary.refused, summary.refused
    assert query(db, "SELECT count(*) FROM load_errors") == [(0,)]
    for table in ("cases", "settlements"):
        names = sorted(c for c in spellings if c in {r[0] for r in query(db, f"DESCRIBE {table}")})
        got = query(db, f"SELECT case_id, {', '.join(names)} FROM {table} ORDER BY case_id")
        assert len(got) == 2 * rounds, table
        for row in got:
            empty = [n for n, v in zip(names, row[1:], strict=True) if v is None]
            assert not empty, (table, row[0], empty)
