"""Budget methods, point-value modes and budget point-value refinements (docs/rules.md), by hand.

History 2019 (weight 7), one group J18.0 (conservative), two cases a hospital:
  H1 (level 3) 1000, 1000; H2 (level 2) 600, 600; H3 (level 1) 800, 800; and one 2019 case
  with an invalid main diagnosis (not grouped), cost 500, fund 400.
  M = 4800 / 6 = 800 → rw = 1000. Fund = 0.8 × cost for every case, so R = 0.8.
pv_b (standard) = 4800 / 6000 = 0.8. 优值区间: cost per point H1 1.0, H2 0.6, H3 0.8, region
  0.8; below it only H2 → 0.6.
2020: J18.0 cases of cost 800: H1 × 3, H2 × 1, H3 × 2 → points (rw × level coefficient)
  P_H1 = 3000, P_H2 = 850, P_H3 = 2 × 700 = 1400; P = 5250.
DIP fund (growth 5%): 2019 grouped fund 3840 × 1.05 = 4032; F ÷ R = 5040.
  floating: pv = 5040 / 5250 = 0.96; H1 3000 × 0.96 × 0.8 = 2304.
  fixed:    every point at 0.8: H1 1920, H2 544, H3 896; Σ 3360, balance 4032 − 3360 = 672.
  elastic (base share 0.8 of the 2019 points, H1 2000, H2 1700, H3 1400):
    base B = 1600, 1360, 1120; paid at 0.8: 1600, 850, 1120 (Σ 3570); beyond: 1400, 0, 280
    (Σ 1680); pv_f = (5040 − 3570 × 0.8) / 1680 = 1.3;
    H1 = (1600 × 0.8 + 1400 × 1.3) × 0.8 = 2480, H2 = 544, H3 = (896 + 364) × 0.8 = 1008: Σ 4032.
    cap 1.2 × 0.8 = 0.96: H1 = (1280 + 1344) × 0.8 = 2099.2, H3 = (896 + 268.8) × 0.8 = 931.84,
    H2 544; Σ 3575.04, balance 456.96.
    floor 2.0 × 0.8 = 1.6 (above 1.3): H1 = (1280 + 1400 × 1.6) × 0.8 = 2816,
    H3 = (896 + 280 × 1.6) × 0.8 = 1075.2, H2 544; Σ 4435.2, the fund overspent by 403.2.
items: 10000 − 1000 (out of area) − 500 (non-DIP) = 8500; reserve 10% → fund 7650, reserve 850.
proportion: 10000 × 3840 / (3840 + 400) = 9056.60; reserve 10% → fund 8150.94.
split by insurance (H3's patients resident, the others employee):
  2019 fund: employee (2000 + 1200) × 0.8 = 2560 → 2688; resident 1600 × 0.8 = 1280 → 1344
  R 0.8 in both; points employee 3850, resident 1400
  pv employee (2688 ÷ 0.8) ÷ 3850 = 0.8727, resident (1344 ÷ 0.8) ÷ 1400 = 1.2
  H1 3000 × 0.8727 × 0.8 = 2094.55, H2 593.45, H3 1400 × 1.2 × 0.8 = 1344; Σ 4032
"""

from __future__ import annotations

import pytest

from dip_sim.policy import Scenario
from tests.inputs import case_row, settlement_row, simulated_city, write_inputs

HISTORY = [("H1", 1000), ("H1", 1000), ("H2", 600), ("H2", 600), ("H3", 800), ("H3", 800)]
YEAR_2020 = ["H1", "H1", "H1", "H2", "H3", "H3"]


@pytest.fixture(scope="module")
def pv(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("pv")
    rows = [(f"h{i}", h, "2019-06-01", "J18.000", cost) for i, (h, cost) in enumerate(HISTORY)]
    rows.append(("bad", "H1", "2019-07-01", "Z99.999x999", 500))
    rows += [(f"c{i}", h, "2020-03-01", "J18.000", 800) for i, h in enumerate(YEAR_2020)]
    # H3's patients have resident insurance, the others employee insurance
    cases = [case_row(cid, h, date, dx, insurance_type="resident" if h == "H3" else "employee")
             for cid, h, date, dx, _ in rows]
    settlements = [settlement_row(cid, date, cost, cost * 0.8) for cid, _, date, _, cost in rows]
    two = {"catalog.core_min_cases": 2}
    inpatient = {"budget.inpatient_fund_yuan": 10000.0, "budget.reserve_rate": 0.1}
    with simulated_city(tmp_path, write_inputs(tmp_path / "in", cases, settlements), [
        Scenario("floating", changes=two),
        Scenario("fixed_pv", changes={**two, "point_value.mode": "fixed"}),
        Scenario("elastic", changes={**two, "point_value.mode": "elastic"}),
        Scenario("elastic_cap", changes={**two, "point_value.mode": "elastic",
                                         "point_value.elastic_cap": 1.2}),
        Scenario("elastic_floor", changes={**two, "point_value.mode": "elastic",
                                           "point_value.elastic_floor": 2.0}),
        Scenario("optimal", changes={**two, "point_value.budget_refinement": "optimal_interval"}),
        Scenario("items", changes={**two, **inpatient, "budget.method": "items",
                                   "budget.out_of_area_yuan": 1000.0,
                                   "budget.non_dip_yuan": 500.0}),
        Scenario("proportion", changes={**two, **inpatient, "budget.method": "proportion"}),
        Scenario("split", changes={**two, "budget.split_by_insurance": True}),
    ]) as con:
        yield con


def _amounts(con, scenario):
    return dict(con.execute("SELECT hospital_id, dip_amount_yuan FROM hospital_settlement "
                            "WHERE scenario = ?", [scenario]).fetchall())


def _pv(con, scenario):
    return con.execute("SELECT dip_fund_yuan, pv_budget_yuan, pv_settlement_yuan, pv_float_yuan, "
                       "budget_balance_yuan, reserve_yuan, pv_gap, pv_yoy_change "
                       "FROM point_values WHERE scenario = ?", [scenario]).fetchall()[0]


def test_floating(pv):
    fund, pv_b, pv_s, _, balance, _, gap, yoy = _pv(pv, "floating")
    assert (fund, pv_b, pv_s) == (pytest.approx(4032), pytest.approx(0.8), pytest.approx(0.96))
    assert balance == pytest.approx(0, abs=1e-6)
    assert gap == pytest.approx(0.2) and yoy == pytest.approx(0.2)  # 0.96 vs 0.8, both
    assert _amounts(pv, "floating")["H1"] == pytest.approx(2304)


def test_fixed_point_value_pays_the_budget_value(pv):
    assert _amounts(pv, "fixed_pv") == {"H1": pytest.approx(1920), "H2": pytest.approx(544),
                                        "H3": pytest.approx(896)}
    assert _pv(pv, "fixed_pv")[4] == pytest.approx(672)  # the fund keeps 4032 − 3360


def test_elastic_point_value(pv):
    assert _amounts(pv, "elastic") == {"H1": pytest.approx(2480), "H2": pytest.approx(544),
                                       "H3": pytest.approx(1008)}
    fund, _, pv_s, pv_f, balance, *_ = _pv(pv, "elastic")
    assert pv_f == pytest.approx(1.3) and balance == pytest.approx(0, abs=1e-6)
    assert pv_s == pytest.approx(5040 / 5250)  # on average what floating pays
    assert _amounts(pv, "elastic_cap") == {"H1": pytest.approx(2099.2), "H2": pytest.approx(544),
                                           "H3": pytest.approx(931.84)}
    assert _pv(pv, "elastic_cap")[3:5] == (pytest.approx(0.96), pytest.approx(456.96))
    assert _amounts(pv, "elastic_floor") == {"H1": pytest.approx(2816), "H2": pytest.approx(544),
                                             "H3": pytest.approx(1075.2)}
    assert _pv(pv, "elastic_floor")[3:5] == (pytest.approx(1.6), pytest.approx(-403.2))


def test_optimal_interval_budget_point_value(pv):
    assert _pv(pv, "optimal")[1] == pytest.approx(0.6)


def test_items_and_proportion_budgets_keep_back_the_reserve(pv):
    fund, *_, reserve, _, _ = _pv(pv, "items")
    assert (fund, reserve) == (pytest.approx(7650), pytest.approx(850))
    fund, *_, reserve, _, _ = _pv(pv, "proportion")
    assert fund == pytest.approx(10000 * 3840 / 4240 * 0.9)
    assert reserve == pytest.approx(10000 * 3840 / 4240 * 0.1)


def test_split_by_insurance_reconciles_to_the_fund(pv):
    pools = {r[0]: r[1:] for r in pv.execute(
        "SELECT pool, dip_fund_yuan, fund_ratio, total_points, pv_settlement_yuan "
        "FROM point_values_by_insurance WHERE scenario = 'split'").fetchall()}
    assert pools["employee"] == (pytest.approx(2688), pytest.approx(0.8), pytest.approx(3850),
                                 pytest.approx(3360 / 3850))
    assert pools["resident"] == (pytest.approx(1344), pytest.approx(0.8), pytest.approx(1400),
                                 pytest.approx(1.2))
    amounts = _amounts(pv, "split")
    assert amounts == {"H1": pytest.approx(3000 * 3360 / 3850 * 0.8),
                       "H2": pytest.approx(850 * 3360 / 3850 * 0.8), "H3": pytest.approx(1344)}
    assert sum(amounts.values()) == pytest.approx(_pv(pv, "split")[0]) == pytest.approx(4032)
    unsplit = {r[0] for r in pv.execute("SELECT pool FROM point_values_by_insurance "
                                        "WHERE scenario = 'floating'").fetchall()}
    assert unsplit == {"all"}


def test_a_row_of_point_values_reads_as_a_data_frame_row_would():
    """first_row: a decimal comes as a float, a missing number as NaN, a missing text as None,
    integers and text as they are."""
    import math

    import duckdb

    from dip_sim.simulation import first_row

    row = first_row(duckdb.connect(), "SELECT 12.34::DECIMAL(18, 2) AS fund, 3 AS n, "
                    "5::UBIGINT AS u, NULL::DOUBLE AS pv, NULL::UINTEGER AS m, "
                    "NULL::VARCHAR AS name, 'R1' AS region WHERE ? > 0", [1])
    assert row["fund"] == 12.34 and isinstance(row["fund"], float)
    assert (row["n"], row["u"], row["region"]) == (3, 5, "R1")
    assert math.isnan(row["pv"]) and math.isnan(row["m"])
    assert row["name"] is None
