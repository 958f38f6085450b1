"""Supervision indices and assessment on hand-made cases (docs/supervision.md), sums in the comments.

The case-level models (``mart_supervision_cases``, ``sv_hospital_rows``) run on minimal
tables built here; the assessment SQL on hand-written index rows.
"""

from __future__ import annotations

import datetime as dt
import math

import duckdb
import pytest

from dip_sim.pipeline.run import make
from dip_sim.policy import PolicyError, load_baseline, parameters_for_year

D = dt.date


def _values(**changes) -> dict:
    values = parameters_for_year(load_baseline(), 2020)
    values.update({f"supervision.{k}": v for k, v in changes.items()})
    return values


# case_id, hospital, patient, admit, discharge, disposition, main_dx, group, cost, other_dx
# (LOS = discharge − admit; every case in 2020, month = discharge month)
CASES = [
    # patient P: A → B back in H1 after 10 days with the same category (分解住院, 15/31-day
    # readmission any and same); B → C at H2 after 11 days, another category (15/31-day any)
    ("A", "H1", "P", D(2020, 1, 5), D(2020, 1, 10), 1, "K80.100", "K80.1", 1000, ""),
    ("B", "H1", "P", D(2020, 1, 20), D(2020, 1, 25), 1, "K80.200", "K80.1", 1000, ""),
    ("C", "H2", "P", D(2020, 2, 5), D(2020, 2, 9), 1, "I10.x00", "I10.x", 1000, ""),
    # patient Q: D ended in a planned transfer (离院方式 2): E the same day is no readmission
    ("D", "H2", "Q", D(2020, 3, 1), D(2020, 3, 5), 2, "K80.100", "K80.1", 1000, ""),
    ("E", "H1", "Q", D(2020, 3, 5), D(2020, 3, 9), 1, "K80.100", "K80.1", 1000, ""),
    # 低标入院: I10 is on the outpatient list; group mean 1000, ratio 0.5:
    # F 2 days at 400 (0.4 < 0.5) is flagged; G at 600 (0.6) is not; H at 400 but 4 days is not
    ("F", "H2", "R", D(2020, 4, 1), D(2020, 4, 3), 1, "I10.x00", "I10.x", 400, ""),
    ("G", "H2", "S", D(2020, 4, 1), D(2020, 4, 3), 1, "I10.x00", "I10.x", 600, ""),
    ("H", "H2", "T", D(2020, 4, 1), D(2020, 4, 5), 1, "I10.x00", "I10.x", 400, ""),
    # 超长住院: K80.1's mean LOS is 5, multiple 2: 11 days is flagged, 10 days is not
    ("I", "H1", "U", D(2020, 5, 1), D(2020, 5, 12), 1, "K80.100", "K80.1", 1000, ""),
    ("J", "H1", "V", D(2020, 5, 1), D(2020, 5, 11), 1, "K80.100", "K80.1", 1000, ""),
    # a severity code among the other diagnoses (编码高套, severity)
    ("K", "H1", "W", D(2020, 6, 1), D(2020, 6, 3), 1, "K80.100", "K80.1", 1000, "R57.000"),
]
CATALOG = [("K80.1", 100.0, 1000.0, 5.0), ("I10.x", 50.0, 1000.0, 3.0)]


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("""CREATE TABLE case_features (case_id VARCHAR, year INTEGER, month INTEGER,
                 hospital_id VARCHAR, level INTEGER, dx5 VARCHAR, dx3 VARCHAR, los_days INTEGER,
                 proc_key_all VARCHAR, total_cost_yuan DECIMAL(18, 2), patient_id VARCHAR,
                 admit_date DATE, discharge_date DATE, discharge_disposition INTEGER,
                 drug_yuan DECIMAL(18, 2), consumable_yuan DECIMAL(18, 2),
                 patient_paid_yuan DECIMAL(18, 2), eligible BOOLEAN)""")
    c.execute("CREATE TABLE cases (case_id VARCHAR, other_dx VARCHAR)")
    c.execute("""CREATE TABLE sv_groups_t (case_id VARCHAR, year INTEGER, hospital_id VARCHAR,
                 eligible BOOLEAN, group_code VARCHAR, grouped BOOLEAN)""")
    for (case, hosp, patient, admit, discharge, disp, dx, group, cost, other) in CASES:
        c.execute("INSERT INTO case_features VALUES (?, 2020, ?, ?, 3, ?, ?, ?, '', ?, ?, ?, ?, "
                  "?, ?, 0, ?, TRUE)",
                  [case, discharge.month, hosp, dx[:5], dx[:3], (discharge - admit).days, cost,
                   patient, admit, discharge, disp, cost * 0.3, cost * 0.2])
        c.execute("INSERT INTO cases VALUES (?, ?)", [case, other])
        c.execute("INSERT INTO sv_groups_t VALUES (?, 2020, ?, TRUE, ?, TRUE)", [case, hosp, group])
    c.execute("CREATE TEMP VIEW sv_groups AS SELECT * FROM sv_groups_t")
    c.execute("CREATE TABLE sv_catalog_t (group_code VARCHAR, rw DOUBLE, mean_cost_yuan DOUBLE, "
              "mean_los_days DOUBLE)")
    c.executemany("INSERT INTO sv_catalog_t VALUES (?, ?, ?, ?)", CATALOG)
    c.execute("CREATE TEMP VIEW sv_catalog AS SELECT * FROM sv_catalog_t")
    c.execute("CREATE TEMP TABLE aux_dx_charlson AS SELECT 'I21.000' AS code")
    c.execute("CREATE TEMP TABLE aux_dx_severity AS SELECT 'R57.000' AS code")
    yield c
    c.close()


LISTS = ["supervision_lists", "run_sv_windows", "run_sv_excluded", "run_assessment_bands"]
CASE_FLAGS = ["sv_severity_cases", "sv_base", "sv_readmissions", "sv_group_mortality",
              "mart_supervision_cases"]
HOSPITAL_ROWS = ["sv_hospital_base", "sv_hospital_categories", "mart_supervision_upcoding",
                 "sv_hospital_rows"]


def _flags(con, values) -> set[tuple[str, str]]:
    make(con, LISTS + CASE_FLAGS, load_baseline(), values)
    return set(con.execute("SELECT case_id, index_code FROM mart_supervision_cases").fetchall())


def test_case_flags_follow_the_definitions(con):
    flags = _flags(con, _values())
    readmit_b = {("B", f"readmit_{d}d_{k}") for d in (15, 31) for k in ("any", "same")}
    readmit_c = {("C", "readmit_15d_any"), ("C", "readmit_31d_any")}
    assert flags == (readmit_b | readmit_c | {("B", "split_admission"), ("F", "low_standard"),
                                              ("I", "long_stay")})
    related = dict(con.execute("SELECT case_id, related_case_id FROM mart_supervision_cases "
                               "WHERE index_code = 'readmit_31d_any'").fetchall())
    assert related == {"B": "A", "C": "B"}
    gap = con.execute("SELECT value FROM mart_supervision_cases WHERE case_id = 'C' "
                      "AND index_code = 'readmit_15d_any'").fetchall()[0][0]
    assert gap == 11  # 2020-02-05 − 2020-01-25


def test_changing_a_parameter_changes_the_flags(con):
    # a 10-day readmission window drops C (11 days) but keeps B (10 days)
    flags = _flags(con, _values(readmit_days=[10]))
    assert ("B", "readmit_10d_any") in flags and ("C", "readmit_10d_any") not in flags
    # a multiple of 1.9 × 5 = 9.5 days also flags J (10 days); a ratio of 0.7 flags G (0.6)
    flags = _flags(con, _values(long_stay_multiple=1.9, low_admission_ratio=0.7))
    assert {("J", "long_stay"), ("G", "low_standard")} <= flags
    # planned transfers no longer excluded: E (same day after D) is a readmission
    flags = _flags(con, _values(readmit_excluded_dispositions=[9]))
    assert ("E", "readmit_15d_any") in flags


def test_hospital_rates_against_the_region(con):
    make(con, LISTS + CASE_FLAGS + HOSPITAL_ROWS, load_baseline(), _values())
    rows = {(r[0], r[1]): r[2:] for r in con.execute(
        "SELECT hospital_id, index_code, n_base, n_flagged, value, region_value, "
        "ratio_to_region, expected, z_score FROM sv_hospital_rows").fetchall()}
    # H1 has 6 cases (A B E I J K), 1 split admission (B); H2 5 cases, none.
    # region rate 1 / 11; H1 expected 6/11 = 0.5455; z = 2(√1 − √0.5455) = 0.5228
    n, flagged, value, region, ratio, expected, z = rows[("H1", "split_admission")]
    assert (n, flagged) == (6, 1)
    assert value == pytest.approx(1 / 6) and region == pytest.approx(1 / 11)
    assert ratio == pytest.approx((1 / 6) / (1 / 11))
    assert expected == pytest.approx(6 / 11)
    assert z == pytest.approx(2 * (1 - math.sqrt(6 / 11)))
    # H2: 0 flagged, expected 5/11: z = −2√(5/11) = −1.3484
    assert rows[("H2", "split_admission")][6] == pytest.approx(-2 * math.sqrt(5 / 11))
    # 编码高套, severity: K is H1's only severity-coded case; K80's regional rate is 1/7
    # (A B D E I J K); H1 has 6 K80 cases (A B E I J K) → expected 6/7 (first year: the
    # region's rate), observed 1 → ratio 1 ÷ 6/7 = 7/6
    sev = rows[("H1", "upcode_severity")]
    assert sev[1] == 1 and sev[4] == pytest.approx(7 / 6)
    # drug share: 0.3 of every cost everywhere → value = region = 0.3, ratio 1
    drug = rows[("H2", "drug_share")]
    assert drug[2] == pytest.approx(0.3) and drug[4] == pytest.approx(1.0)


def test_assessment_points_score_and_bands():
    con = duckdb.connect()
    values = parameters_for_year(load_baseline(), 2020)
    con.execute("""CREATE TEMP TABLE mart_supervision_hospitals AS SELECT * FROM (VALUES
        ('baseline', 2020, 'H1', 'split_admission', 2.0, 2.0, NULL::DOUBLE),
        ('baseline', 2020, 'H1', 'quality_index', 90.0, 1.0, NULL),
        ('baseline', 2020, 'H2', 'split_admission', 0.5, 0.5, NULL),
        ('baseline', 2020, 'H2', 'quality_index', 99.0, 1.0, NULL))
        t(scenario, year, hospital_id, index_code, value, ratio_to_region, z_score)""")
    make(con, LISTS + ["mart_assessment_indicators", "mart_assessment"], load_baseline(), values)
    points = dict(con.execute("SELECT hospital_id || ':' || indicator, indicator_points "
                              "FROM mart_assessment_indicators").fetchall())
    # 分解住院 ratio 2.0, full 1.0, zero 3.0, weight 15: 15 × (3 − 2) ÷ (3 − 1) = 7.5
    assert points["H1:split_admission"] == pytest.approx(7.5)
    # 病案质量指数 90, full 95, zero 80, weight 20: 20 × (80 − 90) ÷ (80 − 95) = 13.33
    assert points["H1:quality_index"] == pytest.approx(20 * 10 / 15)
    # better than full: all the points
    assert points["H2:split_admission"] == 15 and points["H2:quality_index"] == 20
    scores = {r[0]: r[1:] for r in con.execute(
        "SELECT hospital_id, score, assessment_coefficient, withhold_release "
        "FROM mart_assessment").fetchall()}
    # H1: 100 × (7.5 + 13.33) ÷ 35 = 59.52 → below 60: coefficient 0.95, release 0.40
    assert scores["H1"][0] == pytest.approx(100 * (7.5 + 20 * 10 / 15) / 35)
    assert scores["H1"][1:] == (0.95, 0.40)
    # H2: 100 → the top band
    assert scores["H2"] == (100.0, 1.0, 1.0)


def test_a_score_on_a_band_edge_takes_that_band():
    con = duckdb.connect()
    values = parameters_for_year(load_baseline(), 2020)
    values["assessment.scheme_file"] = None
    con.execute("CREATE TEMP TABLE mart_assessment_indicators AS SELECT 'baseline' AS scenario, "
                "2020 AS year, 'H1' AS hospital_id, 80.0 AS indicator_points, 100.0 AS weight, "
                "1.0 AS x")
    make(con, LISTS + ["mart_assessment"], load_baseline(), values)
    # a score of exactly 80 reaches the [80, 0.99] band, not the one below
    assert con.execute("SELECT score, assessment_coefficient, withhold_release FROM mart_assessment"
                       ).fetchall() == [(80.0, 0.99, 0.90)]


def test_bad_assessment_scheme_is_refused(tmp_path):
    bad = tmp_path / "scheme.csv"
    bad.write_text("indicator,measure,weight,full_at,zero_at\nlong_stay,median,10,1,3\n",
                   encoding="utf-8")
    values = parameters_for_year(load_baseline(), 2020)
    values["assessment.scheme_file"] = str(bad)
    with pytest.raises(PolicyError, match="第 2 行 measure"):
        make(duckdb.connect(), ["supervision_lists"], load_baseline(), values)


def test_the_scheme_sets_the_settlements_assessment(planted_city, tmp_path):
    """settlement.assessment_source = scheme: each hospital's coefficient and deposit release
    are its 2020 score's bands, the same scores as supervising the stored baseline; what the
    assessment holds back goes to the reserve, so Σ year-end amounts = fund − that inflow."""
    import shutil

    from dip_sim.paths import SCENARIO_DIR
    from pipelines.simulate import run_simulate

    db = tmp_path / "w.duckdb"
    shutil.copy(planted_city["db"], db)
    run_simulate(db, 2020, scenario_files=[SCENARIO_DIR / "assessment_scheme.yaml"],
                 progress=lambda message: None)
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("""
            SELECT s.hospital_id, s.assessment_coefficient, a.assessment_coefficient, s.withheld_yuan,
                   s.withhold_released_yuan, a.withhold_release, b.score, a.score
            FROM hospital_settlement s
            JOIN assessment a ON a.scenario = s.scenario AND a.hospital_id = s.hospital_id
                             AND a.year = 2020
            JOIN assessment b ON b.scenario = 'baseline' AND b.hospital_id = s.hospital_id
                             AND b.year = 2020
            WHERE s.scenario = 'assessment_scheme'""").fetchall()
        fund, total, inflow = con.execute(
            "SELECT dip_fund_yuan, year_end_total_yuan, reserve_inflow_yuan FROM point_values "
            "WHERE scenario = 'assessment_scheme'").fetchall()[0]
    assert len(rows) > 30
    for _, used, coefficient, withheld, released, release, base_score, score in rows:
        assert used == coefficient
        assert released == pytest.approx(withheld * release)
        assert score == pytest.approx(base_score)  # in-run supervision = the stored one's
    assert min(r[2] for r in rows) < 1.0  # some hospital is assessed below full
    assert inflow > 0 and total == pytest.approx(fund - inflow, abs=0.01)


def test_a_scheme_indicator_that_is_no_index_is_refused(planted_city, tmp_path):
    """A typo in the scheme (or a window the parameters do not compute) is named, not scored 0."""
    from dip_sim.supervise.run import compute_supervision

    scheme = tmp_path / "scheme.csv"
    scheme.write_text("indicator,measure,weight,full_at,zero_at\n"
                      "split_admision,ratio,10,1,3\nlong_stay,ratio,10,1,3\n", encoding="utf-8")
    values = parameters_for_year(load_baseline(), 2020)
    values["assessment.scheme_file"] = str(scheme)
    with duckdb.connect(str(planted_city["db"]), read_only=True) as con, \
            pytest.raises(PolicyError, match="split_admision"):
        compute_supervision(con, "baseline", values, load_baseline(), 2020, [2017, 2018, 2019],
                            progress=lambda m: None)


def test_an_outpatient_prefix_longer_than_a_subcategory_is_refused(tmp_path):
    bad = tmp_path / "outpatient.csv"
    bad.write_text("dx_prefix,name,source\nI10,高血压,x\nE11.900,糖尿病,x\n", encoding="utf-8")
    values = _values(outpatient_conditions_file=str(bad))
    with pytest.raises(PolicyError, match="第 3 行 dx_prefix"):
        make(duckdb.connect(), ["supervision_lists"], load_baseline(), values)
