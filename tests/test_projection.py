"""Point-value projection (docs/rules.md#点值预测), by hand.

Two hospitals of level 3 (coefficient 1), one group J18.0, every case costing 1000 with 800
paid by the fund, so rw = 1000 and R = 0.8:

  cases     2017 2018 2019 2020
  H1           1    2    4    8
  H2           2    2    2    2

2020: points H1 8000, H2 2000, P = 10000. Fund (growth 5% on 2019's 6 × 800 = 4800) = 5040;
  pv = 5040 ÷ 0.8 ÷ 10000 = 0.63. Budget pv: every year's cost per point is 1 → 1.0.
Volume trend from 2017 to 2020 (3 years, trend_min_cases 1): H1 (8 ÷ 1)^(1/3) − 1 = 100% a year,
  H2 (2 ÷ 2)^(1/3) − 1 = 0.
2021: points H1 16000, H2 2000, P = 18000; fund 5040 × 1.05 = 5292; pv = 6615 ÷ 18000 = 0.3675
  (the point value falls by 0.2625, to 58.3% of 2020's: below the 90% risk line).
  H1 16000 × 0.3675 × 0.8 = 4704, H2 588; Σ 5292. H1 makes all of the growth.
2022: P = 32000 + 2000 = 34000; fund 5556.6; pv = 6945.75 ÷ 34000 = 0.20428676…
With a volume cap of 50%: 2021 P = 12000 + 2000 = 14000, pv = 6615 ÷ 14000 = 0.4725.
Coding intensity 10% with no volume growth: 2021 P = 11000 (cost stays 10000, rw 11000),
  pv = 6615 ÷ 11000 = 0.60136…; 2022 P = 12100, pv = 6945.75 ÷ 12100 = 0.57403…;
  budget pv 2022 over 2019, 2020, 2021 at 1:2:7 =
  (6000 + 2 × 10000 + 7 × 10000) ÷ (6000 + 2 × 10000 + 7 × 11000) = 96000 ÷ 103000 = 0.932039.
"""

from __future__ import annotations

import pytest

from dip_sim.policy import Scenario
from tests.inputs import case_row, settlement_row, simulated_city, write_inputs

COUNTS = {2017: {"H1": 1, "H2": 2}, 2018: {"H1": 2, "H2": 2}, 2019: {"H1": 4, "H2": 2},
          2020: {"H1": 8, "H2": 2}}
HOSPITALS = [{"hospital_id": "H1", "hospital_name": "甲医院", "level": 3, "county": "城区"},
             {"hospital_id": "H2", "hospital_name": "乙医院", "level": 3, "county": "城区"}]
BASE = {"catalog.core_min_cases": 2, "projection.trend_min_cases": 1}


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("projection")
    cases, settlements = [], []
    for year, by_hospital in COUNTS.items():
        for hospital, n in by_hospital.items():
            for i in range(n):
                cid = f"{hospital}-{year}-{i}"
                cases.append(case_row(cid, hospital, f"{year}-06-01", "J18.000"))
                settlements.append(settlement_row(cid, f"{year}-06-01", 1000, 800))
    with simulated_city(tmp_path, write_inputs(tmp_path / "in", cases, settlements, HOSPITALS), [
        Scenario("trend", changes=BASE),
        Scenario("capped", changes={**BASE, "projection.volume_growth_cap": 0.5}),
        Scenario("coding", changes={**BASE, "projection.volume_growth": 0.0,
                                    "projection.coding_intensity": 0.1}),
    ]) as con:
        yield con


def _years(con, scenario):
    return {r[0]: r[1:] for r in con.execute(
        "SELECT year, total_points, dip_fund_yuan, pv_settlement_yuan, pv_budget_yuan, "
        "below_risk_line FROM projection_years WHERE scenario = ? ORDER BY year",
        [scenario]).fetchall()}


def test_the_point_value_falls_as_one_hospitals_volume_doubles(city):
    years = _years(city, "trend")
    assert sorted(years) == [2020, 2021, 2022, 2023]  # projection.years = 3
    points, fund, pv, pv_budget, below = years[2020]
    assert (points, fund, pv, pv_budget, below) == pytest.approx((10000, 5040, 0.63, 1.0, False))
    stored = city.execute("SELECT pv_settlement_yuan FROM point_values WHERE scenario = 'trend'"
                          ).fetchall()[0][0]
    assert pv == pytest.approx(stored, rel=1e-12)  # the simulation year's is the settlement's
    points, fund, pv, pv_budget, below = years[2021]
    assert (points, fund, pv, pv_budget) == pytest.approx((18000, 5292, 0.3675, 1.0))
    assert years[2020][2] - pv == pytest.approx(0.2625)
    assert below
    assert years[2022][2] == pytest.approx(6945.75 / 34000)


def test_hospital_amounts_sum_to_the_fund_and_name_the_driver(city):
    rows = dict(((h, y), (a, s)) for h, y, a, s in city.execute(
        "SELECT hospital_id, year, amount_yuan, growth_share FROM projection_hospitals "
        "WHERE scenario = 'trend'").fetchall())
    assert rows[("H1", 2021)][0] == pytest.approx(4704)
    assert rows[("H2", 2021)][0] == pytest.approx(588)
    assert rows[("H1", 2021)][1] == pytest.approx(1.0)
    assert rows[("H2", 2021)][1] == pytest.approx(0.0)
    assert rows[("H1", 2020)][1] is None  # no growth in the simulation year itself


def test_a_volume_cap_holds_the_point_value_up(city):
    assert _years(city, "capped")[2021][2] == pytest.approx(0.4725)


def test_coding_intensity_raises_points_not_cost(city):
    years = _years(city, "coding")
    assert years[2021][0] == pytest.approx(11000)
    assert years[2021][2] == pytest.approx(6615 / 11000)
    assert years[2022][2] == pytest.approx(6945.75 / 12100)
    assert years[2022][3] == pytest.approx(96000 / 103000)


def test_the_risk_line_names_the_year_and_the_hospital(city):
    from dip_sim.reports.projection import format_projection, projection_tables, risk_line

    assert risk_line(city, "trend") == ("trend：结算点值将在 2021 年降至 0.3675，为模拟年度的 58.3%，"
                                        "低于风险线 90%；分值增长主要来自 甲医院（H1，100.0%）")
    # 2022 stays at 0.5740 ÷ 0.63 = 91.1%; 2023: 7293.04 ÷ 13310 = 0.5479 (87.0%); the points grow
    # 10% a year at both hospitals: H1 +2648 of +3310 (80%), H2 +662 (20%)
    assert risk_line(city, "coding") == (
        "coding：结算点值将在 2023 年降至 0.5479，为模拟年度的 87.0%，低于风险线 90%；"
        "分值增长主要来自 甲医院（H1，80.0%）、乙医院（H2，20.0%）")
    tables = projection_tables(city, ["trend", "capped"])
    settlement = tables["点值预测"].query("metric == '结算点值（元/分）' and year == 2021")
    assert settlement[["trend", "capped"]].values.tolist() == [pytest.approx([0.3675, 0.4725])]
    text = format_projection(tables, ["trend", "capped"])
    assert "风险线" in text and "0.4725" in text
    with pytest.raises(ValueError, match="nope"):
        projection_tables(city, ["nope"])
