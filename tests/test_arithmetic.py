"""Every formula of docs/rules.md on a small city whose numbers are worked out by hand.

The city (hospitals H1 level 3, H2 level 2, H3 level 1), history 2017–2019 at 1:2:7,
``catalog.core_min_cases`` = 3 so that a handful of cases make core groups:

group                          2017          2018      2019               cases
A  K35.3|47.0901 (core)        900, 1100     1250      1500, 1700         5
B  J18.0 (core, none in 2018)  700, 1300     -         600                3 (= threshold)
D  K35:comp:diagnostic         -             750       300 (key K35.2|88.7600, 2 cases < 3)
S  K35:comp:surgery            -             -         900 (K35.8|47.0100+88.7600: surgery
                                                            beats diagnostic)
year mean of all grouped cases 4000/4=1000   2000/2=1000  5000/5=1000  → M = 1000

m_A = (1·1000 + 2·1250 + 7·1600) / 10 = 14700 / 10 = 1470 → rw 1470
m_B = (1·1000 + 7·600) / (1 + 7) = 5200 / 8 = 650 → rw 650  (B has no 2018 cases)
m_D = (2·750 + 7·300) / (2 + 7) = 3600 / 9 = 400 → rw 400
m_S = 7·900 / 7 = 900 → rw 900

pv_budget = Σ w·cost / Σ w·points
  2017: cost 4000, points 2·1470 + 2·650 = 4240
  2018: cost 2000, points 1470 + 400 = 1870
  2019: cost 5000, points 2·1470 + 650 + 900 + 400 = 4890
  = (4000 + 2·2000 + 7·5000) / (4240 + 2·1870 + 7·4890) = 43000 / 42210

DIP fund = 2019 fund payments of grouped cases (1200+1360+480+720+240 = 4000) × 1.05 = 4200
"""

from __future__ import annotations

import polars as pl
import pytest
from sklearn.metrics import r2_score

from dip_sim.policy import Scenario
from dip_sim.reports.catalog import write_catalog_report
from dip_sim.reports.compare import compare_tables, format_compare
from dip_sim.reports.statements import hospital_statement, write_report
from tests.inputs import case_row, settlement_row, simulated_city, write_inputs

PV_BUDGET = 43000 / 42210
QUIET = lambda message: None  # noqa: E731


def _history():
    """History cases of the module docstring: (id, hospital, date, dx, procs, cost, fund)."""
    a = ("K35.300", ("47.0901",))
    b = ("J18.000", ())
    d = ("K35.200", ("88.7600",))
    s = ("K35.800x001", ("47.0100", "88.7600"))
    return [
        ("A17a", "H1", "2017-03-01", *a, 900, 720), ("A17b", "H1", "2017-05-01", *a, 1100, 880),
        ("B17a", "H1", "2017-03-01", *b, 700, 560), ("B17b", "H1", "2017-06-01", *b, 1300, 1040),
        ("A18", "H1", "2018-04-01", *a, 1250, 1000), ("D18", "H1", "2018-04-02", *d, 750, 600),
        ("A19a", "H1", "2019-02-01", *a, 1500, 1200), ("A19b", "H1", "2019-03-01", *a, 1700, 1360),
        ("B19", "H1", "2019-03-05", *b, 600, 480), ("S19", "H1", "2019-07-01", *s, 900, 720),
        ("D19", "H1", "2019-08-01", *d, 300, 240),
    ]


def _year_2020():
    """Simulation-year cases, chosen to hit every branch (see each comment)."""
    return [
        # base 1470×1.0; ratio 1500/(1470·PV) ≈ 1.00 → none, points 1470; January
        ("c1", "H1", "2020-01-15", "K35.300", ("47.0901",), 1500, 1200),
        # B at level 2: base 650×0.85 = 552.5; ratio ≈ 0.99 → none; January
        ("c2", "H2", "2020-01-20", "J18.000", (), 560, 420),
        # A at level 1: base 1029; ratio 200/(1029·PV) ≈ 0.19 → low, points = ratio × base
        #   = 200 / PV; February
        ("c3", "H3", "2020-02-10", "K35.300", ("47.0901",), 200, 160),
        # key K35.8|47.0100 is not core → K35:comp:surgery, base 900; ratio ≈ 3.27 → high,
        #   points = (ratio − 1) × base = 3000/PV − 900; February
        ("c4", "H1", "2020-02-11", "K35.800x001", ("47.0100",), 3000, 2400),
        # A at level 2: base 1249.5; ratio ≈ 7.86 > 5 → extreme, points = 10000/PV − 1249.5
        ("c5", "H2", "2020-03-01", "K35.300", ("47.0901",), 10000, 8000),
        # I21: no history cases in its comprehensive group → not grouped
        ("c6", "H3", "2020-03-02", "I21.000", (), 5000, 4000),
        # invalid main diagnosis → critical, not grouped
        ("c7", "H1", "2020-03-03", "Z99.999x999", (), 800, 640),
        # 99.1800 (electrolyte infusion) is conservative: left out of the key → core B
        ("c8", "H1", "2020-03-04", "J18.000", ("99.1800",), 650, 520),
    ]


def _write_city(tmp_path):
    rows = _history() + _year_2020()
    cases = [case_row(cid, h, date, dx, procs) for cid, h, date, dx, procs, _, _ in rows]
    settlements = [settlement_row(cid, date, cost, fund)
                   for cid, _, date, _, _, cost, fund in rows]
    return write_inputs(tmp_path / "in", cases, settlements)


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    """The hand-computed city ingested and simulated for 2020; yields an open connection."""
    tmp_path = tmp_path_factory.mktemp("city")
    with simulated_city(tmp_path, _write_city(tmp_path), [
        Scenario("t3", changes={"catalog.core_min_cases": 3}),
        Scenario("t4", changes={"catalog.core_min_cases": 4}),
        Scenario("fixed", changes={"catalog.core_min_cases": 3, "budget.method": "fixed",
                                   "budget.fixed_fund_yuan": 10000.0}),
        Scenario("trim", changes={"catalog.core_min_cases": 3,
                                  "point_value.budget_refinement": "quantile"}),
    ]) as con:
        yield con


def _groups(con, scenario="t3"):
    rows = con.execute("SELECT group_code, group_type, n_cases, mean_cost_yuan, rw, proc_class "
                       "FROM catalog_groups WHERE scenario = ?", [scenario]).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_points_weighted_1_2_7_including_group_missing_a_year(city):
    groups = _groups(city)
    assert groups["K35.3|47.0901"][:2] == ("core", 5)
    assert groups["K35.3|47.0901"][2] == pytest.approx(1470)  # (1000 + 2·1250 + 7·1600)/10
    assert groups["K35.3|47.0901"][3] == pytest.approx(1470)  # 1470 / M(1000) × 1000
    assert groups["J18.0"][3] == pytest.approx(650)  # (1000 + 7·600) / 8, no 2018 cases
    assert groups["K35:comp:diagnostic"][3] == pytest.approx(400)  # (2·750 + 7·300) / 9
    assert groups["K35:comp:surgery"][3] == pytest.approx(900)  # 7·900 / 7


def test_core_threshold_and_comprehensive_fallback(city):
    groups = _groups(city)
    # B has exactly 3 = core_min_cases cases → core; K35.2|88.7600 has 2 → comprehensive
    assert groups["J18.0"][0] == "core"
    assert "K35.2|88.7600" not in groups
    assert groups["K35:comp:diagnostic"][:2] == ("comprehensive", 2)
    assert set(groups) == {"K35.3|47.0901", "J18.0", "K35:comp:diagnostic", "K35:comp:surgery"}
    # threshold 4: B (3 cases) falls into its comprehensive group J18 × conservative
    groups4 = _groups(city, "t4")
    assert "J18.0" not in groups4
    assert groups4["J18:comp:conservative"][:2] == ("comprehensive", 3)


def test_comprehensive_class_is_highest_procedure_class(city):
    # K35.8 with 47.0100 (surgery) and 88.7600 (diagnostic) → surgery; 88.7600 alone → diagnostic
    groups = _groups(city)
    assert groups["K35:comp:surgery"][4] == "surgery"
    assert groups["K35:comp:diagnostic"][4] == "diagnostic"
    assert groups["K35.3|47.0901"][4] == "surgery"
    assert groups["J18.0"][4] == "conservative"


def test_group_assignment_and_not_grouped(city):
    rows = dict(city.execute("SELECT case_id, group_code FROM case_groups "
                             "WHERE scenario = 't3' AND year = 2020").fetchall())
    assert rows["c1"] == "K35.3|47.0901"
    assert rows["c4"] == "K35:comp:surgery"
    assert rows["c8"] == "J18.0"  # the conservative 99.1800 is not part of the key
    assert rows["c6"] is None and rows["c7"] is None
    rules = dict(city.execute("SELECT case_id, rule FROM case_groups WHERE scenario = 't3' "
                              "AND case_id IN ('c6', 'c7')").fetchall())
    assert "无历史病例" in rules["c6"] and "main_dx_invalid" in rules["c7"]


def test_budget_point_value_fund_and_ratio(city):
    pv = city.execute("SELECT dip_fund_yuan, fund_ratio, pv_budget_yuan FROM point_values "
                      "WHERE scenario = 't3'").fetchall()[0]
    assert pv[2] == pytest.approx(43000 / 42210)
    assert pv[0] == pytest.approx(4000 * 1.05)  # 2019 grouped fund payments × (1 + 5%)
    # R over grouped 2020 cases c1 c2 c3 c4 c5 c8:
    #   fund 1200+420+160+2400+8000+520 = 12700; cost 1500+560+200+3000+10000+650 = 15910
    assert pv[1] == pytest.approx(12700 / 15910)
    fixed = city.execute("SELECT dip_fund_yuan FROM point_values WHERE scenario = 'fixed'")
    assert fixed.fetchall()[0][0] == pytest.approx(10000)


def test_case_points_and_outlier_branches(city):
    rows = {r[0]: r[1:] for r in city.execute(
        "SELECT case_id, outlier, case_points, level_coefficient, cost_ratio FROM case_scores "
        "WHERE scenario = 't3'").fetchall()}
    assert set(rows) == {"c1", "c2", "c3", "c4", "c5", "c8"}
    assert rows["c1"][:2] == ("none", pytest.approx(1470))
    assert rows["c2"][:3] == ("none", pytest.approx(552.5), 0.85)  # 650 × 0.85
    assert rows["c3"][0] == "low"
    assert rows["c3"][1] == pytest.approx(200 / PV_BUDGET)  # ratio × 1029 = 200 / PV
    assert rows["c3"][3] == pytest.approx(200 / (1470 * 0.70 * PV_BUDGET))
    assert rows["c4"][0] == "high"
    assert rows["c4"][1] == pytest.approx(3000 / PV_BUDGET - 900)  # (ratio − 1) × 900
    assert rows["c5"][0] == "extreme"
    assert rows["c5"][1] == pytest.approx(10000 / PV_BUDGET - 1249.5)  # scored as high
    assert rows["c8"][:2] == ("none", pytest.approx(650))


def _total_points():
    # 1470 + 552.5 + 200/PV + (3000/PV − 900) + (10000/PV − 1249.5) + 650
    return 1470 + 552.5 - 900 - 1249.5 + 650 + 13200 / PV_BUDGET


def test_settlement_point_value_and_hospital_amounts(city):
    r = 12700 / 15910
    pv = city.execute("SELECT total_points, pv_settlement_yuan FROM point_values "
                      "WHERE scenario = 't3'").fetchall()[0]
    assert pv[0] == pytest.approx(_total_points())
    assert pv[1] == pytest.approx((4200 / r) / _total_points())  # (fund ÷ R) ÷ Σ points
    amounts = {h: (n, pts, dip, ffs) for h, n, pts, dip, ffs in city.execute(
        "SELECT hospital_id, n_cases, total_points, dip_amount_yuan, ffs_fund_paid_yuan "
        "FROM hospital_settlement WHERE scenario = 't3'").fetchall()}
    # amount = points × pv_settlement × R = 4200 × hospital points ÷ Σ points
    h1_points = 1470 + (3000 / PV_BUDGET - 900) + 650
    assert amounts["H1"][1] == pytest.approx(h1_points)
    assert amounts["H1"][2] == pytest.approx(4200 * h1_points / _total_points())
    assert amounts["H1"][3] == pytest.approx(1200 + 2400 + 520)  # FFS: fund paid of c1 c4 c8
    assert amounts["H3"][:2] == (1, pytest.approx(200 / PV_BUDGET))  # c6 is not grouped
    assert sum(a[2] for a in amounts.values()) == pytest.approx(4200, abs=0.01)


def test_monthly_prepayment_and_clearing(city):
    r = 12700 / 15910
    months = {(h, m): (pts, pre) for h, m, pts, pre in city.execute(
        "SELECT hospital_id, month, points, prepaid_yuan FROM hospital_monthly "
        "WHERE scenario = 't3'").fetchall()}
    # H1 January: c1 only, 1470 points × PV × R × (1 − 5%)
    assert months[("H1", 1)][1] == pytest.approx(1470 * PV_BUDGET * r * 0.95)
    # H1 February: c4; March: c8
    assert months[("H1", 2)][1] == pytest.approx((3000 / PV_BUDGET - 900) * PV_BUDGET * r * 0.95)
    h1 = city.execute("SELECT dip_amount_yuan, prepaid_yuan, clearing_yuan FROM "
                      "hospital_settlement WHERE scenario = 't3' AND hospital_id = 'H1'")
    dip, prepaid, clearing = h1.fetchall()[0]
    h1_points = 1470 + (3000 / PV_BUDGET - 900) + 650
    assert prepaid == pytest.approx(h1_points * PV_BUDGET * r * 0.95)
    assert clearing == pytest.approx(dip - prepaid)  # year-end clearing = DIP − Σ prepayments


def test_every_case_has_one_status_and_one_group_row(city):
    n_status = city.execute("SELECT count(*), count(DISTINCT case_id) FROM case_status")
    assert n_status.fetchall()[0] == (19, 19)
    counts = city.execute("SELECT count(*) FILTER (WHERE grouped), count(*) FILTER "
                          "(WHERE NOT grouped), count(*) FROM case_groups WHERE scenario = 't3'")
    grouped, not_grouped, total = counts.fetchall()[0]
    assert (grouped, not_grouped, total) == (17, 2, 19)


def test_catalogue_quality_metrics(city):
    # history (t3): A 900 1100 1250 1500 1700; B 700 1300 600; D 750 300; S 900 → N 11, S 11000
    row = city.execute("SELECT core_threshold, n_core, n_comprehensive, n_history_cases, "
                       "core_coverage, grouping_rate_history, grouping_rate_year, "
                       "n_cv_below_05, riv FROM catalog_summary WHERE scenario = 't3'"
                       ).fetchall()[0]
    assert row[:4] == (3, 2, 2, 11)
    assert row[4] == pytest.approx(8 / 11)  # A 5 + B 3 in core groups
    assert row[5] == 1 and row[6] == pytest.approx(6 / 8)  # 2020: c6, c7 not grouped
    assert row[7] == 4  # CVs 0.220, 0.357, 0.429, 0
    # RIV = SS_between / SS_total:
    #   Σx² = 8,722,500 + 2,540,000 + 652,500 + 810,000 = 12,725,000; S²/N = 11,000,000
    #   Σ S_g²/n_g = 6450²/5 + 2600²/3 + 1050²/2 + 900² = 11,935,083.33
    assert row[8] == pytest.approx(935_083.333 / 1_725_000)
    costs = [900, 1100, 1250, 1500, 1700, 700, 1300, 600, 750, 300, 900]
    means = [1290] * 5 + [2600 / 3] * 3 + [525] * 2 + [900]
    assert row[8] == pytest.approx(r2_score(costs, means))  # the same as scikit-learn's R²
    a = city.execute("SELECT p5_cost_yuan, median_cost_yuan, p95_cost_yuan, mean_los_days, "
                     "outlier_share, share_level3 FROM catalog_groups WHERE scenario = 't3' "
                     "AND group_code = 'K35.3|47.0901'").fetchall()[0]
    # interpolated quantiles: p5 at position 0.2 → 900 + 0.2·200; p95 at 3.8 → 1500 + 0.8·200
    assert a == (pytest.approx(940), 1250, pytest.approx(1660), 3, 0, 1)
    years = dict(city.execute("SELECT year, n_cases FROM catalog_group_years WHERE scenario = "
                              "'t3' AND group_code = 'K35.3|47.0901'").fetchall())
    assert years == {2017: 2, 2018: 1, 2019: 2}


def test_hospital_cmi_and_consumption_indices(city):
    # 2020 grouped: H1 c1 (A 1500), c4 (S 3000), c8 (B 650); H2 c2 (B 560), c5 (A 10000);
    # H3 c3 (A 200). Regional means: A (1500+200+10000)/3 = 3900, B 605, S 3000; LOS all 3.
    rows = {r[0]: r[1:] for r in city.execute(
        "SELECT hospital_id, n_cases, cmi, cost_index, time_index FROM hospital_indices "
        "WHERE scenario = 't3'").fetchall()}
    assert rows["H1"] == (3, pytest.approx((1470 + 900 + 650) / 3),
                          pytest.approx((1500 / 3900 + 1 + 650 / 605) / 3), 1)
    assert rows["H2"] == (2, pytest.approx(1060), pytest.approx((560 / 605 + 10000 / 3900) / 2), 1)
    assert rows["H3"] == (1, pytest.approx(1470), pytest.approx(200 / 3900), 1)


def test_catalog_report_workbook(city, tmp_path):
    out = tmp_path / "catalog.xlsx"
    rows = write_catalog_report(city, "t3", out)
    sheets = pl.read_excel(out, sheet_id=0)
    assert list(sheets) == ["目录概况", "病种组", "CV大于0.7的组", "辅助分型", "基层病种候选与中医病种",
                            "各年病例", "医院CMI与消耗指数"]
    assert rows["病种组"] == 4 and sheets["病种组"]["病种编码"].to_list()[0] == "K35.3|47.0901"
    summary = dict(zip(sheets["目录概况"]["指标"], sheets["目录概况"]["数值"], strict=True))
    assert summary["核心病种阈值（例）"] == "3" and summary["核心病种组数"] == "2"
    with pytest.raises(ValueError, match="已有: .*t3"):
        write_catalog_report(city, "nope", out)


def test_budget_point_value_trimmed_at_the_quantiles(city):
    # per group, costs outside [P2.5, P97.5] (interpolated) are left out of the budget PV:
    #   A 900 1100 1250 1500 1700 → [920, 1680]: keeps 1100 (2017), 1250 (2018), 1500 (2019)
    #   B 600 700 1300 → [605, 1270]: keeps 700 (2017); D 300 750 → [311.25, 738.75]: none;
    #   S 900 → [900, 900]: keeps it (2019)
    # pv = Σ w·cost / Σ w·rw = (1100 + 2·1250 + 7·1500 + 700 + 7·900)
    #                         / (1470 + 2·1470 + 7·1470 + 650 + 7·900) = 21100 / 21650
    pv = dict(city.execute("SELECT scenario, pv_budget_yuan FROM point_values").fetchall())
    assert pv["trim"] == pytest.approx(21100 / 21650)
    assert pv["t3"] == pytest.approx(PV_BUDGET)


def test_compare_scenarios_and_reports(city, tmp_path):
    tables = compare_tables(city, ["t3", "fixed"])
    params = tables["参数变化"]
    assert set(params["parameter"]) == {"budget.method", "budget.fixed_fund_yuan"}
    figures = tables["关键指标"].set_index("metric")
    assert figures.loc["DIP 基金总额（元）", "fixed"] == pytest.approx(10000)
    assert figures.loc["总额准确度（基金 ÷ 结算合计）", "t3"] == pytest.approx(1.0)
    hospitals = tables["医院年终结算额"].set_index("hospital_id")
    assert hospitals.loc["H1", "fixed − t3"] == pytest.approx(
        hospitals.loc["H1", "fixed"] - hospitals.loc["H1", "t3"])
    assert "fixed: budget.method" in format_compare(tables, ["t3", "fixed"])
    statement = hospital_statement(city, "t3", "H1")
    # the groups' DIP amounts (each case's share) add up to the hospital's DIP amount
    amount = city.execute("SELECT dip_amount_yuan FROM hospital_settlement WHERE scenario = 't3' "
                          "AND hospital_id = 'H1'").fetchall()[0][0]
    assert statement["病种明细"]["dip_amount_yuan"].sum() == pytest.approx(amount)
    out = tmp_path / "h1.xlsx"
    write_report(city, "t3", "H1", out)
    assert list(pl.read_excel(out, sheet_id=0)) == ["结算汇总", "年度支付预算指标", "病种明细",
                                                     "费用偏差病例", "特例单议", "月度预付"]
    write_report(city, "t3", None, out)
    sheets = pl.read_excel(out, sheet_id=0)
    assert list(sheets)[:4] == ["基金与点值", "医院", "年度支付预算指标", "按医院等级"]
    assert sheets["医院"]["DIP 支付（元）"].sum() == pytest.approx(4200)  # the fund
    with pytest.raises(ValueError, match="没有医院 H9"):
        hospital_statement(city, "t3", "H9")


def test_point_value_over_the_years(city):
    # history years' cost ÷ catalogue points (module docstring): 2017 4000 / 4240,
    # 2018 2000 / 1870, 2019 5000 / 4890; then the 2020 settlement point value
    rows = city.execute("SELECT year, kind, value_per_point FROM point_value_years "
                        "WHERE scenario = 't3' ORDER BY year").fetchall()
    assert [r[:2] for r in rows] == [(2017, "history"), (2018, "history"), (2019, "history"),
                                     (2020, "settlement")]
    assert [r[2] for r in rows[:3]] == [pytest.approx(4000 / 4240), pytest.approx(2000 / 1870),
                                        pytest.approx(5000 / 4890)]
    pv = city.execute("SELECT pv_settlement_yuan FROM point_values WHERE scenario = 't3'")
    assert rows[3][2] == pytest.approx(pv.fetchall()[0][0])
