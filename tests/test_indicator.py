"""The hospitals' annual DIP budget indicators (医院年度支付预算指标), worked out by hand.

A city of three hospitals and two core groups (``catalog.core_min_cases`` = 3), history
2017–2019 weighted 1:2:7 (Σw = 10); group A (K35.3|47.0901) costs 1500 (fund 1200), group B
(J18.0) costs 500 (fund 400), and every year has as many A as B cases, so each year's mean cost
is 1000 = M: rw_A = 1500, rw_B = 500, and the budget point value is 1.

hospital  level  2017    2018    2019    weighted annual cases (Σ w·n / 10)
H1        3      A1 B1   A1      A2 B1   A (1+2+14)/10 = 1.7, B (1+0+7)/10 = 0.8 → V̄ = 2.5
H2        2      -       A1 B2   A1 B2   A (0+2+7)/10 = 0.9, B (0+4+14)/10 = 1.8 → V̄ = 2.7
H3        2      -       -       -       new hospital (one B case in 2020)

expected points E = Σ n̄ × rw × coefficient (level 3 → 1.00, level 2 → 0.85):
  E_H1 = (1.7·1500 + 0.8·500) × 1 = 2950;  E_H2 = (0.9·1500 + 1.8·500) × 0.85 = 1912.5
history points P (no coefficient): P_H1 = 2950, P_H2 = 2250
history fund F = Σ w·fund / 10: F_H1 = (1600 + 2·1200 + 7·2800)/10 = 2360,
                                F_H2 = (2·2000 + 7·2000)/10 = 1800
trend (growth): g_H1 = (3/2)^(1/2) − 1, T_H1 = 3·(3/2)^(1/2)/2.5 = 1.4697 → cap 1.2;
                H2 has no 2017 case → g = 0, T_H2 = 3/2.7 = 1.1111 (inside [0.8, 1.2])
DIP fund = 2019 grouped fund payments (3·1200 + 3·400 = 4800) × 1.05 = 5040.00 → 504000 cents;
R = 2020 fund ÷ cost = (1200 + 400) / (1500 + 500) = 0.8.
"""

from __future__ import annotations

import shutil
from decimal import Decimal

import pandas as pd
import pytest

from dip_sim.contract import run_data_tests
from dip_sim.dashboard import data
from dip_sim.dashboard.pages.hospital import indicator_progress
from dip_sim.policy import Scenario
from dip_sim.reports.statements import bureau_report, hospital_statement
from tests.inputs import case_row, settlement_row, simulated_city, write_inputs

HOSPITALS = [
    {"hospital_id": "H1", "hospital_name": "甲三级医院", "level": 3, "county": "城区"},
    {"hospital_id": "H2", "hospital_name": "乙二级医院", "level": 2, "county": "平定县"},
    {"hospital_id": "H3", "hospital_name": "丙二级新医院", "level": 2, "county": "盂县"},
]
A = ("K35.300", ("47.0901",), 1500, 1200)
B = ("J18.000", (), 500, 400)
# (hospital, year, group, how many)
HISTORY = [("H1", 2017, A, 1), ("H1", 2017, B, 1), ("H1", 2018, A, 1), ("H1", 2019, A, 2),
           ("H1", 2019, B, 1), ("H2", 2018, A, 1), ("H2", 2018, B, 2), ("H2", 2019, A, 1),
           ("H2", 2019, B, 2), ("H1", 2020, A, 1), ("H3", 2020, B, 1)]
CORE = {"catalog.core_min_cases": 3}


def _bonus(tmp_path):
    path = tmp_path / "bonus.csv"
    path.write_text("hospital_id,bonus,reason\nH2,0.05,重点专科\n", encoding="utf-8")
    return str(path)


def _inputs(tmp_path):
    cases, settlements = [], []
    for hospital, year, (dx, procs, cost, fund), n in HISTORY:
        for i in range(n):
            cid = f"{hospital}-{year}-{dx[:3]}-{i}"
            date = f"{year}-0{i + 3}-10"
            cases.append(case_row(cid, hospital, date, dx, procs))
            settlements.append(settlement_row(cid, date, cost, fund))
    return write_inputs(tmp_path / "in", cases, settlements, HOSPITALS)


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("indicator")
    with simulated_city(tmp_path, _inputs(tmp_path), [
        Scenario("ep", changes=CORE),
        Scenario("fund", changes={**CORE, "indicator.method": "fund_share"}),
        Scenario("points", changes={**CORE, "indicator.method": "points_share",
                                    "indicator.new_hospital": "zero"}),
        Scenario("growth_wide", changes={**CORE, "indicator.trend_cap": 2.0,
                                         "indicator.trend_floor": 1.15}),
        Scenario("last_year", changes={**CORE, "indicator.trend_method": "last_year",
                                       "indicator.trend_cap": 2.0}),
        Scenario("flat", changes={**CORE, "indicator.trend_method": "none"}),
        Scenario("bonus", changes={**CORE, "coefficients.bonus_file": _bonus(tmp_path)}),
    ]) as con:
        yield con


def _rows(con, scenario):
    cur = con.execute("SELECT * FROM hospital_budget_indicators WHERE scenario = ? "
                      "ORDER BY hospital_id", [scenario])
    names = [d[0] for d in cur.description]
    return {r[names.index("hospital_id")]: dict(zip(names, r, strict=True))
            for r in cur.fetchall()}


def test_the_city_is_as_computed_by_hand(city):
    rw = dict(city.execute("SELECT group_code, rw FROM catalog_groups WHERE scenario = 'ep'")
              .fetchall())
    assert rw == pytest.approx({"K35.3|47.0901": 1500, "J18.0": 500})
    fund, ratio, pv = city.execute("SELECT dip_fund_yuan, fund_ratio, pv_budget_yuan "
                                   "FROM point_values WHERE scenario = 'ep'").fetchone()
    assert (fund, ratio, pv) == pytest.approx((5040, 0.8, 1.0))


def test_history_mix_expected_points_and_trend(city):
    rows = _rows(city, "ep")
    h1, h2 = rows["H1"], rows["H2"]
    assert h1["history_cases"] == pytest.approx(2.5) and h2["history_cases"] == pytest.approx(2.7)
    assert h1["expected_points"] == pytest.approx(2950)
    assert h2["expected_points"] == pytest.approx(1912.5)  # level 2 coefficient 0.85
    assert (h1["history_points"], h2["history_points"]) == pytest.approx((2950, 2250))
    assert (h1["history_fund_paid_yuan"], h2["history_fund_paid_yuan"]) == pytest.approx((2360, 1800))
    assert h1["growth_rate"] == pytest.approx(1.5 ** 0.5 - 1)
    assert h2["growth_rate"] == 0  # no 2017 case: no growth to estimate
    assert h1["trend_factor"] == pytest.approx(1.2)  # 1.4697 capped
    assert h2["trend_factor"] == pytest.approx(3 / 2.7)


@pytest.mark.parametrize(("scenario", "h1", "h2"), [
    ("growth_wide", 3 * 1.5 ** 0.5 / 2.5, 1.15),  # H2's 1.1111 raised to the floor 1.15
    ("last_year", 3 / 2.5, 3 / 2.7),
    ("flat", 1.0, 1.0),
])
def test_trend_methods_cap_and_floor(city, scenario, h1, h2):
    rows = _rows(city, scenario)
    assert (rows["H1"]["trend_factor"], rows["H2"]["trend_factor"]) == pytest.approx((h1, h2))
    assert rows["H3"]["trend_factor"] == 1.0  # no history


def test_the_hospital_bonus_counts_as_in_scoring(city):
    rows = _rows(city, "bonus")
    # H2's coefficient 0.85 + 0.05: E = 2250 × 0.90 = 2025, base 2025 × (3/2.7) × 0.8 = 1800;
    # the new H3 takes its level's average, H2's 1800
    assert rows["H2"]["expected_points"] == pytest.approx(2025)
    assert [rows[h]["base_yuan"] for h in ("H1", "H2", "H3")] == pytest.approx([2832, 1800, 1800])


def test_expected_points_scaled_with_the_residue(city):
    rows = _rows(city, "ep")
    # bases: H1 2950 × 1.2 × 1 × 0.8 = 2832; H2 1912.5 × (3/2.7) × 0.8 = 1700; H3 (new, level 2)
    # = the level's average over hospitals with history = H2's 1700; Σ = 6232
    assert [rows[h]["base_yuan"] for h in ("H1", "H2", "H3")] == pytest.approx([2832, 1700, 1700])
    assert [rows[h]["basis"] for h in ("H1", "H2", "H3")] == ["history", "history", "level_average"]
    # 504000 × 2832/6232 = 229032.09, × 1700/6232 = 137483.95 (twice): floors 503998, residue 2
    # cents to the largest remainders, H2 and H3 (.95; tie by hospital_id), none to H1 (.09)
    assert {h: r["residue_cents"] for h, r in rows.items()} == {"H1": 0, "H2": 1, "H3": 1}
    assert {h: r["indicator_yuan"] for h, r in rows.items()} == {
        "H1": Decimal("2290.32"), "H2": Decimal("1374.84"), "H3": Decimal("1374.84")}
    assert sum(r["indicator_yuan"] for r in rows.values()) == Decimal("5040.00")
    assert rows["H1"]["dip_fund_yuan"] == Decimal("5040.00")
    assert rows["H1"]["method"] == "expected_points"


def test_fund_share(city):
    rows = _rows(city, "fund")
    # bases F: 2360, 1800, H3 = level 2 average 1800; Σ 5960
    # 504000 × 2360/5960 = 199570.47; × 1800/5960 = 152214.77 (twice): residue 2 → H2, H3
    assert [rows[h]["base_yuan"] for h in ("H1", "H2", "H3")] == pytest.approx([2360, 1800, 1800])
    assert {h: r["indicator_yuan"] for h, r in rows.items()} == {
        "H1": Decimal("1995.70"), "H2": Decimal("1522.15"), "H3": Decimal("1522.15")}


def test_points_share_and_a_new_hospital_at_zero(city):
    rows = _rows(city, "points")
    # bases P × pv × R: 2950 × 0.8 = 2360, 2250 × 0.8 = 1800, H3 0 (new_hospital = zero)
    # 504000 × 2360/4160 = 285923.08, × 1800/4160 = 218076.92: residue 1 → H2
    assert [rows[h]["base_yuan"] for h in ("H1", "H2", "H3")] == pytest.approx([2360, 1800, 0])
    assert rows["H3"]["basis"] == "zero"
    assert {h: r["indicator_yuan"] for h, r in rows.items()} == {
        "H1": Decimal("2859.23"), "H2": Decimal("2180.77"), "H3": Decimal("0.00")}
    assert {h: r["residue_cents"] for h, r in rows.items()} == {"H1": 0, "H2": 1, "H3": 0}


def test_every_scenario_sums_to_its_fund_and_the_data_test_can_fail(city):
    sums = city.execute("SELECT i.scenario, sum(i.indicator_yuan), any_value(v.dip_fund_yuan) "
                        "FROM hospital_budget_indicators i JOIN point_values v USING (scenario) "
                        "GROUP BY ALL").fetchall()
    assert len(sums) == 7
    assert all(total == Decimal("5040.00") and fund == pytest.approx(5040)
               for _, total, fund in sums)
    assert run_data_tests(city, tables=["hospital_budget_indicators"]) == []
    city.execute("BEGIN")
    try:
        # the rows as the run stored them (the table a reader sees is a view of them)
        city.execute("UPDATE stored.hospital_budget_indicators SET indicator_yuan = indicator_yuan + 0.01 "
                     "WHERE scenario = 'ep' AND hospital_id = 'H1'")
        failures = run_data_tests(city, tables=["hospital_budget_indicators"])
        assert len(failures) == 1 and "indicators_add_up_to_the_fund" in failures[0]
        city.execute("DELETE FROM stored.hospital_budget_indicators WHERE scenario = 'ep' "
                     "AND hospital_id = 'H3'")
        failures = run_data_tests(city, tables=["hospital_budget_indicators"])
        assert any("every_settled_hospital_has_an_indicator" in f for f in failures)
    finally:
        city.execute("ROLLBACK")


def test_progress_against_the_indicator():
    # months 1–3 gross 100, 200, 300 (net 95, 190, 285); through month 2: prepaid 95 + 190,
    # projected (100 + 200) × 12 / 2 = 1800 against an indicator of 2400: −600, 75%
    progress = pd.DataFrame({"month": [1, 2, 3], "prepaid_yuan": [95.0, 190.0, 285.0],
                             "gross_prepay_yuan": [100.0, 200.0, 300.0]})
    assert indicator_progress(2400, progress, 2) == pytest.approx(
        {"prepaid_yuan": 285, "projected_yuan": 1800, "diff_yuan": -600, "ratio": 0.75})


def test_statement_and_bureau_report_show_the_indicator(city):
    sheet = hospital_statement(city, "ep", "H1")["年度支付预算指标"].set_index("metric")["value"]
    assert sheet["年度支付预算指标（元）"] == pytest.approx(2290.32)
    assert sheet["测算方法"] == "预期分值法" and sheet["测算依据"] == "本院历史"
    # 2020: H1's A case 1500 points, H3's B case 500 × 0.85 = 425; the fund is paid out by
    # points: H1 5040 × 1500 / 1925 = 3927.27 year-end; 3927.27 − 2290.32 = 1636.95
    assert sheet["年终结算额 − 年度支付预算指标（元）"] == pytest.approx(5040 * 1500 / 1925 - 2290.32)
    report = bureau_report(city, "ep")["年度支付预算指标"].set_index("hospital_id")
    assert report["indicator_yuan"].sum() == pytest.approx(5040)
    assert report.loc["H3", "basis"] == "level_average"
    assert pd.isna(report.loc["H2", "year_end_amount_yuan"])  # no 2020 case: no settlement


def test_hospital_page_and_the_hospital_scope(city, tmp_path, monkeypatch):
    from tests.test_app import metrics, run_app

    city.execute("CHECKPOINT")
    copy = tmp_path / "w.duckdb"
    shutil.copy(city.execute("SELECT path FROM duckdb_databases() WHERE database_name = "
                             "current_database()").fetchone()[0], copy)
    monkeypatch.setenv(data.ENV_DB, str(copy))
    monkeypatch.delenv(data.ENV_HOSPITAL, raising=False)
    at = run_app("dip_sim/dashboard/pages/hospital.py",
                 {"name": "h1", "role": "hospital", "hospital_id": "H1"})
    at.selectbox(key="hospital_scenario").select("ep").run()
    shown = metrics(at)
    # H1's one case in March: gross 1500 points × 预算点值 1 × R 0.8 = 1200, net 1200 × 95%
    # = 1140; projected 1200 × 12 / 3 = 4800, 4800 − 2290.32 = +2509.68
    assert shown["年度支付预算指标"] == "2,290.32 元"
    assert shown["截至 3 月已预付"] == "1,140.00 元"
    assert shown["预计全年"] == "4,800.00 元"
    assert shown["预计全年 − 指标"] == "+2,509.68 元"
    assert any("预期分值法" in c.value for c in at.caption)
    # the simulated year-end amount 5040 × 1500 / 1925 = 3927.27 against the indicator
    assert any("模拟的年终结算额 3,927.27 元，较指标 +1,636.95 元" in c.value for c in at.caption)
    monkeypatch.setenv(data.ENV_HOSPITAL, "H1")
    assert len(data.hospital_budget_indicator("ep", "H1")) == 1
    assert data.hospital_budget_indicator("ep", "H2").empty  # another hospital's: nothing
    assert data.hospital_prepayment_progress("ep", "H3").empty
