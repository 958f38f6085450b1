"""Invariants on generated data: totals reconcile, every case accounted for, every
parameter reaches the results that depend on it."""

from __future__ import annotations

import duckdb
import pytest

from dip_sim.policy import BASELINE, Scenario, load_baseline
from dip_sim.quality.status import recode_cases
from dip_sim.simulation import simulate
from pipelines.ingest import run_ingest
from tests.inputs import ingest_generated_city

QUIET = lambda message: None  # noqa: E731
SCENARIOS = [
    Scenario(BASELINE),
    Scenario("empty"),  # no changes: must reproduce the baseline exactly
    Scenario("g10", changes={"budget.growth_rate": 0.10}),
    Scenario("core30", changes={"catalog.core_min_cases": 30}),
    Scenario("main_only", changes={"catalog.procedure_key": "main_only"}),
    Scenario("levels", changes={"coefficients.hospital_level": {1: 0.5, 2: 0.8, 3: 1.0}}),
    Scenario("reserve", changes={"budget.reserve_rate": 0.02}),
    Scenario("withhold", changes={"settlement.withhold_rate": 0.10}),
    Scenario("weights", changes={"catalog.history_weights": [1, 1, 1]}),
]


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("generated")
    db = ingest_generated_city(tmp, 4000, seed=7)
    con = duckdb.connect(str(db))
    simulate(con, 2020, None, SCENARIOS, load_baseline(), progress=QUIET)
    yield tmp, db, con
    con.close()


def _one(con, sql, params=()):
    return con.execute(sql, list(params)).fetchall()[0]


def _pv(con, scenario):
    return con.execute("SELECT * EXCLUDE (scenario) FROM point_values WHERE scenario = ?",
                       [scenario]).fetchdf().iloc[0]


@pytest.mark.parametrize("scenario", [s.name for s in SCENARIOS])
def test_hospital_amounts_sum_to_the_dip_fund(city, scenario):
    _, _, con = city
    fund, total, year_end, paid = _one(con, """
        SELECT (SELECT dip_fund_yuan FROM point_values WHERE scenario = ?),
               (SELECT sum(dip_amount_yuan) FROM hospital_settlement WHERE scenario = ?),
               (SELECT sum(year_end_amount_yuan) FROM hospital_settlement WHERE scenario = ?),
               (SELECT sum(clearing_yuan + prepaid_yuan) FROM hospital_settlement
                WHERE scenario = ?)""", [scenario] * 4)
    assert fund > 0
    assert abs(fund - total) < 0.01
    # sharing off, no assessment or deductions: the year-end amounts are the DIP amounts,
    # and what a hospital is paid (prepayments + clearing) is its year-end amount
    assert abs(fund - year_end) < 0.01 and abs(year_end - paid) < 0.01


def test_every_input_case_has_exactly_one_status(city):
    _, _, con = city
    n_status, n_distinct = _one(con, "SELECT count(*), count(DISTINCT case_id) FROM case_status")
    n_inputs = _one(con, "SELECT count(*) FROM (SELECT case_id FROM cases UNION "
                         "SELECT case_id FROM settlements)")[0]
    assert n_status == n_distinct == n_inputs
    assert _one(con, "SELECT count(*) FROM case_status WHERE status IS NULL")[0] == 0
    # the generator's deliberate defects show up
    assert _one(con, "SELECT count(*) FROM case_status WHERE severity = 'critical'")[0] > 0


@pytest.mark.parametrize("scenario", [s.name for s in SCENARIOS])
def test_grouped_plus_not_grouped_is_all(city, scenario):
    _, _, con = city
    grouped, not_grouped, total = _one(con, """
        SELECT count(*) FILTER (WHERE grouped), count(*) FILTER (WHERE NOT grouped), count(*)
        FROM case_groups WHERE scenario = ?""", [scenario])
    assert grouped + not_grouped == total == _one(con, "SELECT count(*) FROM case_status")[0]
    scored = _one(con, "SELECT count(*) FROM case_scores WHERE scenario = ?", [scenario])[0]
    grouped_2020 = _one(con, "SELECT count(*) FROM case_groups WHERE scenario = ? AND year = 2020 "
                             "AND grouped", [scenario])[0]
    assert scored == grouped_2020  # every grouped case of the year is scored, none other


def test_recoding_derives_the_same_keys_as_loading(city):
    _, _, con = city
    sql = ("SELECT case_id, row_hash, proc_key_all, proc_key_main, proc_class_max FROM cases "
           "ORDER BY case_id, row_hash")
    at_load = con.execute(sql).fetchall()
    assert any(r[2] for r in at_load) and any("+" in r[2] for r in at_load)
    recode_cases(con)
    assert con.execute(sql).fetchall() == at_load


def test_empty_scenario_reproduces_the_baseline_exactly(city):
    _, _, con = city
    for table in ("catalog_groups", "case_groups", "case_scores", "point_values",
                  "hospital_settlement", "hospital_monthly"):
        diff = _one(con, f"""
            SELECT count(*) FROM (
                (SELECT * EXCLUDE (scenario) FROM {table} WHERE scenario = 'baseline'
                 EXCEPT ALL SELECT * EXCLUDE (scenario) FROM {table} WHERE scenario = 'empty')
                UNION ALL
                (SELECT * EXCLUDE (scenario) FROM {table} WHERE scenario = 'empty'
                 EXCEPT ALL SELECT * EXCLUDE (scenario) FROM {table} WHERE scenario = 'baseline'))""")
        assert diff[0] == 0, table


def test_growth_rate_raises_settlement_point_value_in_proportion(city):
    _, _, con = city
    base, g10 = _pv(con, "baseline"), _pv(con, "g10")
    assert g10.pv_settlement_yuan / base.pv_settlement_yuan == pytest.approx(1.10 / 1.05)
    assert g10.dip_fund_yuan / base.dip_fund_yuan == pytest.approx(1.10 / 1.05)
    assert g10.pv_budget_yuan == pytest.approx(base.pv_budget_yuan)


def test_core_threshold_lowers_the_number_of_core_groups(city):
    _, _, con = city
    counts = dict(con.execute("""
        SELECT scenario, count(*) FILTER (WHERE group_type = 'core') FROM catalog_groups
        WHERE scenario IN ('baseline', 'core30') GROUP BY scenario""").fetchall())
    assert 0 < counts["core30"] < counts["baseline"]


def test_every_parameter_reaches_its_results(city):
    _, _, con = city
    base = _pv(con, "baseline")
    assert _pv(con, "reserve").dip_fund_yuan == pytest.approx(base.dip_fund_yuan * 0.98)
    assert _pv(con, "weights").pv_budget_yuan != pytest.approx(base.pv_budget_yuan)
    assert _pv(con, "main_only").total_points != pytest.approx(base.total_points)
    assert _pv(con, "levels").total_points < base.total_points
    prepaid = dict(con.execute("SELECT scenario, sum(prepaid_yuan) FROM hospital_settlement "
                               "WHERE scenario IN ('baseline', 'withhold') GROUP BY 1").fetchall())
    assert prepaid["withhold"] / prepaid["baseline"] == pytest.approx(0.90 / 0.95)


def test_rerunning_a_scenario_replaces_its_results(city):
    _, _, con = city
    before = _one(con, "SELECT count(*) FROM case_scores WHERE scenario = 'g10'")[0]
    simulate(con, 2020, None, [Scenario("g10", changes={"budget.growth_rate": 0.10})],
             load_baseline(), progress=QUIET)
    assert _one(con, "SELECT count(*) FROM case_scores WHERE scenario = 'g10'")[0] == before
    assert _one(con, "SELECT count(*) FROM runs WHERE scenario = 'g10'")[0] == 1


def test_reingesting_generated_data_adds_no_rows(city, monkeypatch):
    tmp, db, con = city
    monkeypatch.setenv("DIP_SIM_PSEUDONYM_KEY", "k")  # the key the city was loaded with
    count_sql = ("SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM settlements), "
                 "(SELECT count(*) FROM hospitals), (SELECT count(*) FROM case_status)")
    before = _one(con, count_sql)
    con.close()
    try:
        summary = run_ingest(tmp / "in", db, force=True, progress=QUIET)
    finally:
        city_con = duckdb.connect(str(db))
    assert summary.total("rows_loaded") == 0
    assert _one(city_con, count_sql) == before
    city_con.close()
