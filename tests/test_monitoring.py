"""Monthly monitoring (运行监测, docs/rules.md#运行监测), by hand.

Two hospitals of level 3, one group J18.0, every case costing 1000 with 800 paid by the fund
(rw = 1000, R = 0.8). Cases discharged in March and September:

                 2017       2018       2019       2020
                Mar Sep    Mar Sep    Mar Sep    Mar Sep
  H1             1   1      2   1      2   2      4   4
  H2             1   1      1   1      2   2      2   2

and one 2020 case of H2 in April with an invalid diagnosis (not grouped).
Through June 2020: points H1 4000, H2 2000, to date 6000.
History share of the year's rw by the end of June: 2017 2/4 = 0.5, 2018 3/5 = 0.6,
  2019 4/8 = 0.5; weighted 1:2:7 → (0.5 + 1.2 + 3.5) ÷ 10 = 0.52.
Year's points: 6000 ÷ 0.52 = 11538.46 (range 6000 ÷ 0.6 = 10000 to 6000 ÷ 0.5 = 12000).
Fund: 2019's 8 × 800 = 6400 × 1.05 = 6720; F ÷ R = 8400.
pv estimate 8400 ÷ 11538.46 = 0.728 (range 0.70 to 0.84); budget pv 1.0 → 27.2% below: alert.
Through December the estimate is the year itself: 8400 ÷ 12000 = 0.70 = the settlement's.
H1: rw to date 4000 against 2019's first half 2000 → +100%; its pace (4000 ÷ 2000)^(1/2) − 1 =
  41.4%: 58.6% over it, above the 10% line → alert. H2: 2000 against 2000 → 0%, no alert;
  its ungrouped rate 1 of 3 cases.
"""

from __future__ import annotations

import pytest

from dip_sim.policy import Scenario
from tests.inputs import case_row, query, settlement_row, simulated_city, write_inputs

MARCH_SEPTEMBER = {2017: {"H1": (1, 1), "H2": (1, 1)}, 2018: {"H1": (2, 1), "H2": (1, 1)},
                   2019: {"H1": (2, 2), "H2": (2, 2)}, 2020: {"H1": (4, 4), "H2": (2, 2)}}
HOSPITALS = [{"hospital_id": "H1", "hospital_name": "甲医院", "level": 3, "county": "城区"},
             {"hospital_id": "H2", "hospital_name": "乙医院", "level": 3, "county": "城区"}]
BASE = {"catalog.core_min_cases": 2}


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("monitoring")
    cases, settlements = [], []
    for year, by_hospital in MARCH_SEPTEMBER.items():
        for hospital, counts in by_hospital.items():
            for month, n in zip((3, 9), counts, strict=True):
                for i in range(n):
                    cid = f"{hospital}-{year}-{month}-{i}"
                    cases.append(case_row(cid, hospital, f"{year}-{month:02d}-15", "J18.000"))
                    settlements.append(settlement_row(cid, f"{year}-{month:02d}-15", 1000, 800))
    cases.append(case_row("bad", "H2", "2020-04-15", "Z99.999x999"))
    settlements.append(settlement_row("bad", "2020-04-15", 500, 400))
    with simulated_city(tmp_path, write_inputs(tmp_path / "in", cases, settlements, HOSPITALS), [
        Scenario("baseline"),
        Scenario("june", changes={**BASE, "monitoring.through_month": 6}),
        Scenario("december", changes=BASE),
    ]):
        pass
    return tmp_path / "w.duckdb"


def _estimate(db, scenario):
    return query(db, "SELECT through_month, points_to_date, history_share, points_estimate, "
                 "points_low, points_high, pv_estimate_yuan, pv_low_yuan, pv_high_yuan, "
                 "pv_budget_yuan, pv_gap, pv_alert FROM monitor_estimate WHERE scenario = ?",
                 [scenario])[0]


def test_the_running_point_value_is_grossed_up_by_the_history_seasonality(city):
    (month, to_date, share, est, low, high, pv, pv_low, pv_high, pv_budget, gap,
     alert) = _estimate(city, "june")
    assert month == 6
    assert (to_date, share, est, low, high) == pytest.approx(
        (6000, 0.52, 6000 / 0.52, 10000, 12000))
    assert (pv, pv_low, pv_high, pv_budget) == pytest.approx((8400 / (6000 / 0.52), 0.7, 0.84, 1.0))
    assert gap == pytest.approx(8400 / (6000 / 0.52) - 1)
    assert alert


def test_through_december_the_estimate_is_the_settlement(city):
    month, to_date, share, est, *_ = _estimate(city, "december")
    assert (month, to_date, share, est) == pytest.approx((9, 12000, 1.0, 12000))  # data end in Sep.
    pv = _estimate(city, "december")[6]
    settled = query(city, "SELECT pv_settlement_yuan FROM point_values WHERE scenario = "
                          "'december'")[0][0]
    assert pv == pytest.approx(settled, rel=1e-12) == pytest.approx(0.7)


def test_each_hospital_against_its_pace(city):
    rows = {r[0]: r[1:] for r in query(
        city, "SELECT hospital_id, points_to_date, points_share, growth_to_date, history_pace, "
        "growth_alert, ungrouped_rate, outlier_rate, indicator_share FROM monitor_hospitals "
        "WHERE scenario = 'june' ORDER BY hospital_id")}
    points, share, growth, pace, alert, ungrouped, outliers, _ = rows["H1"]
    assert (points, share, growth, pace) == pytest.approx((4000, 2 / 3, 1.0, 2 ** 0.5 - 1))
    assert alert and ungrouped == 0 and outliers == 0
    points, share, growth, pace, alert, ungrouped, _, _ = rows["H2"]
    assert (points, share, growth, ungrouped) == pytest.approx((2000, 1 / 3, 0.0, 1 / 3))
    assert not alert
    assert rows["H1"][-1] + rows["H2"][-1] == pytest.approx(1.0)


def test_months_beside_the_same_months_of_the_history(city):
    rows = {r[0]: r[1:] for r in query(
        city, "SELECT month, monitored, n_cases, points, history_rw, history_cum_share "
        "FROM monitor_months WHERE scenario = 'june' ORDER BY month")}
    assert len(rows) == 12
    assert rows[3][:3] == (True, 6, pytest.approx(6000))
    assert rows[3][3:] == pytest.approx((3000, (0.5 + 0.6 + 0.5) / 3))
    assert rows[9][:3] == (False, 0, None)  # after the month monitored


def test_dip_sim_monitor_reruns_the_stage_for_another_month(city, tmp_path, capsys):
    """The baseline (the same single group here) seen through June by dip-sim monitor, without
    writing: the estimate of the worked example, its alerts, and the workbook."""
    import polars as pl

    from dip_sim.cli import main

    db = str(city)
    out = tmp_path / "monitor.xlsx"
    assert main(["monitor", "--year", "2020", "--through-month", "6", "--db", db,
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "截至 6 月" in text and f"{8400 / (6000 / 0.52):.4f}" in text
    assert "医院分值增长超过历史年均增长：甲医院（H1）" in text
    assert "结算点值估计低于预算点值" in text
    sheets = pl.read_excel(out, sheet_id=0)
    assert set(sheets) == {"点值估计", "逐月", "医院", "预警"}
    assert main(["monitor", "--year", "2020", "--db", db]) == 0  # as stored: through September
    assert "截至 9 月" in capsys.readouterr().out
    assert main(["monitor", "--year", "2019", "--db", db]) == 1
