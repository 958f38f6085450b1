"""Outlier branches at their exact boundaries, on a city where rw = 1000 and pv_budget = 1.

History: one group K35.3|47.0901, every history case costing 1000 yuan → m = M = 1000,
rw = 1000 / 1000 × 1000 = 1000, pv_budget = Σ w·cost / Σ w·points = 1000·n / (1000·n) = 1.
A level-3 case (coefficient 1.00) costing c has ratio = c / (1000 × 1.00 × 1) = c / 1000.
"""

from __future__ import annotations

import duckdb
import pytest

from dip_sim.policy import Scenario, load_baseline
from dip_sim.simulation import simulate
from pipelines.ingest import run_ingest
from tests.inputs import case_row, settlement_row, write_inputs

COSTS_2020 = {  # case id → (cost, expected outlier, expected points)
    "low": (499, "low", 499.0),  # 0.499 < 0.5 → ratio × base = 0.499 × 1000
    "at_low": (500, "none", 1000.0),  # 0.5 is not < 0.5 → base
    "at_high": (2000, "none", 1000.0),  # 2.0 is not > 2.0 → base
    "high": (2001, "high", 1001.0),  # (2.001 − 1) × 1000
    "at_extreme": (5000, "high", 4000.0),  # 5.0 is not > 5.0 → high, (5 − 1) × 1000
    "extreme": (5001, "extreme", 4001.0),  # > 5 → extreme, scored as high
}


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("outliers")
    mp = pytest.MonkeyPatch()
    mp.setenv("DIP_SIM_PSEUDONYM_KEY", "k")
    history = [(f"h{y}{i}", f"{y}-06-0{i + 1}") for y in (2017, 2018, 2019) for i in range(2)]
    cases = [case_row(cid, "H1", d, "K35.300", ("47.0901",)) for cid, d in history]
    settlements = [settlement_row(cid, d, 1000, 800) for cid, d in history]
    for cid, (cost, _, _) in COSTS_2020.items():
        cases.append(case_row(cid, "H1", "2020-05-01", "K35.300", ("47.0901",)))
        settlements.append(settlement_row(cid, "2020-05-01", cost, cost * 0.8))
    db = tmp / "w.duckdb"
    run_ingest(write_inputs(tmp / "in", cases, settlements), db, progress=lambda m: None)
    connection = duckdb.connect(str(db))
    simulate(connection, 2020, None, [
        Scenario("t", changes={"catalog.core_min_cases": 1}),
        Scenario("bounds", changes={"catalog.core_min_cases": 1, "outliers.low_ratio": 0.6,
                                    "outliers.high_ratio": 3.0, "outliers.extreme_ratio": 5.001}),
        Scenario("scale", changes={"catalog.core_min_cases": 1, "points.scale": 100}),
    ], load_baseline(), progress=lambda m: None)
    yield connection
    connection.close()
    mp.undo()


def _scores(con, scenario):
    return {r[0]: r[1:] for r in con.execute(
        "SELECT case_id, outlier, case_points, cost_ratio FROM case_scores WHERE scenario = ?",
        [scenario]).fetchall()}


def test_budget_point_value_is_one(con):
    pv = con.execute("SELECT pv_budget_yuan FROM point_values WHERE scenario = 't'").fetchall()
    assert pv[0][0] == pytest.approx(1.0)
    rw = con.execute("SELECT rw FROM catalog_groups WHERE scenario = 't'").fetchall()
    assert rw == [(pytest.approx(1000.0),)]


@pytest.mark.parametrize("case_id", list(COSTS_2020))
def test_outlier_branch_and_boundary(con, case_id):
    cost, outlier, points = COSTS_2020[case_id]
    got = _scores(con, "t")[case_id]
    assert got[2] == pytest.approx(cost / 1000)
    assert got[0] == outlier
    assert got[1] == pytest.approx(points)


def test_outlier_bounds_are_parameters(con):
    scores = _scores(con, "bounds")
    assert scores["at_low"][0] == "low"  # 0.5 < 0.6 now: points 0.5 × 1000
    assert scores["at_low"][1] == pytest.approx(500.0)
    assert scores["high"][0] == "none"  # 2.001 ≤ 3.0 now
    assert scores["extreme"][0] == "high"  # 5.001 is not > 5.001


def test_points_scale_is_a_parameter(con):
    # scale 100: rw = 100; pv_budget = 1000·n / (100·n) = 10; ratios unchanged
    rw = con.execute("SELECT rw FROM catalog_groups WHERE scenario = 'scale'").fetchall()[0][0]
    assert rw == pytest.approx(100.0)
    pv = con.execute("SELECT pv_budget_yuan FROM point_values WHERE scenario = 'scale'")
    assert pv.fetchall()[0][0] == pytest.approx(10.0)
    assert _scores(con, "scale")["at_low"][1] == pytest.approx(100.0)
