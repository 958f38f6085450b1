"""The settlement cycle (docs/rules.md) on the city of ``test_point_values`` (floating point value,
R = 0.8, pv_b = 0.8; 2020 points H1 3000, H2 850, H3 1400; fee-for-service fund claims of the
2020 cases H1 1920, H2 640, H3 1280), numbers by hand.

sharing (retain 0.6 within 85%, overspend 0.5 up to 110%), reserve 10%:
  F = 3840 × 1.05 × 0.9 = 3628.8, reserve 403.2; pv = (F ÷ 0.8) ÷ 5250 = 0.864
  A: H1 3000 × 0.864 × 0.8 = 2073.6, H2 587.52, H3 967.68
  H1 C 1920 ≤ A: surplus 153.6, band 2073.6 − max(1920, 1762.56) = 153.6 → keeps 92.16;
     pays 2012.16, clawback 61.44
  H2 C 640 > A: band min(640, 646.272) − 587.52 = 52.48 → 26.24
  H3 C 1280 > A: band min(1280, 1064.448) − 967.68 = 96.768 → 48.384
  reserve 403.2 + 61.44 ≥ 74.624 requested → all paid; left 390.016; retention 0.6
  Σ year-end = 2012.16 + 613.76 + 1016.064 = 3641.984 = F + (74.624 − 61.44)
assessment H1 0.95 with half its deposit released; deductions H2 50 in March; no reserve:
  F 4032; H1 DIP 2304 → 2188.8; deposit 5% of gross 3000 × 0.8 × 0.8 = 1920 → 96, half kept
  → year-end 2140.8; net prepaid 1920 − 96 = 1824 → clearing 316.8
  H2 DIP 652.8 − 50 = 602.8; gross 544, deposit 27.2, net 544 − 27.2 − 50 = 466.8 → 136
  Σ year-end = 2140.8 + 602.8 + 1075.2 = 3818.8 = 4032 − (115.2 + 50 + 48) into the reserve
advance 1 month: H1's 2019 grouped fund payments 1600 ÷ 12 = 133.33, repaid at clearing.
"""

from __future__ import annotations

import duckdb
import pytest

from dip_sim.pipeline.run import make
from dip_sim.policy import Scenario, load_baseline, parameters_for_year
from tests.inputs import simulated_city
from tests.test_point_values import HISTORY, YEAR_2020, case_row, settlement_row, write_inputs


@pytest.fixture(scope="module")
def cycle(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("cycle")
    rows = [(f"h{i}", h, "2019-06-01", "J18.000", cost) for i, (h, cost) in enumerate(HISTORY)]
    rows += [(f"c{i}", h, "2020-03-01", "J18.000", 800) for i, h in enumerate(YEAR_2020)]
    cases = [case_row(cid, h, date, dx) for cid, h, date, dx, _ in rows]
    settlements = [settlement_row(cid, date, cost, cost * 0.8) for cid, _, date, _, cost in rows]
    assessment = tmp_path / "assessment.csv"
    assessment.write_text("hospital_id,coefficient,withhold_release,note\nH1,0.95,0.5,考核\n",
                          encoding="utf-8")
    deductions = tmp_path / "deductions.csv"
    deductions.write_text("hospital_id,month,amount_yuan,reason\nH2,3,50,审核扣款\n",
                          encoding="utf-8")
    two = {"catalog.core_min_cases": 2}
    with simulated_city(tmp_path, write_inputs(tmp_path / "in", cases, settlements), [
        Scenario("plain", changes=two),
        Scenario("sharing", changes={**two, "sharing.enabled": True, "budget.reserve_rate": 0.1}),
        Scenario("assessed", changes={**two, "settlement.assessment_file": str(assessment),
                                      "settlement.deductions_file": str(deductions),
                                      "settlement.advance_months": 1.0}),
    ]) as con:
        yield con


def _hospitals(con, scenario):
    return {r[0]: r[1:] for r in con.execute(
        "SELECT hospital_id, dip_amount_yuan, year_end_amount_yuan, surplus_retained_yuan, "
        "clawback_yuan, overspend_shared_yuan, clearing_yuan, prepaid_yuan, advance_yuan "
        "FROM hospital_settlement WHERE scenario = ?", [scenario]).fetchall()}


def test_surplus_retention_and_overspend_sharing(cycle):
    h = _hospitals(cycle, "sharing")
    assert h["H1"][:5] == (pytest.approx(2073.6), pytest.approx(2012.16), pytest.approx(92.16),
                           pytest.approx(61.44), 0)
    assert h["H2"][1:5] == (pytest.approx(613.76), 0, 0, pytest.approx(26.24))
    assert h["H3"][1:5] == (pytest.approx(1016.064), 0, 0, pytest.approx(48.384))
    fund, total, inflow, paid, left, rate = cycle.execute(
        "SELECT dip_fund_yuan, year_end_total_yuan, reserve_inflow_yuan, reserve_paid_yuan, "
        "reserve_left_yuan, surplus_retention_rate FROM point_values "
        "WHERE scenario = 'sharing'").fetchall()[0]
    assert fund == pytest.approx(3628.8) and left == pytest.approx(390.016)
    assert rate == pytest.approx(0.6)
    # the invariant with sharing on: Σ amounts = fund + reserve used (paid out − taken in)
    assert total == pytest.approx(fund + paid - inflow) == pytest.approx(3641.984)


def test_assessment_deductions_deposit_and_advance(cycle):
    h = _hospitals(cycle, "assessed")
    assert h["H1"][1] == pytest.approx(2140.8) and h["H1"][6] == pytest.approx(1824)
    assert h["H1"][5] == pytest.approx(2140.8 - 1824 - 1600 / 12)  # clearing less the advance
    assert h["H2"][1] == pytest.approx(602.8) and h["H2"][6] == pytest.approx(466.8)
    assert h["H2"][5] == pytest.approx(602.8 - 466.8 - 2 * 480 / 12)  # H2 2019: 600 × 0.8 × 2
    total = cycle.execute("SELECT year_end_total_yuan, reserve_left_yuan FROM point_values "
                          "WHERE scenario = 'assessed'").fetchall()[0]
    assert total == (pytest.approx(3818.8), pytest.approx(213.2))
    march = cycle.execute("SELECT deductions_yuan, prepaid_yuan, cum_prepaid_yuan "
                          "FROM hospital_monthly WHERE scenario = 'assessed' AND "
                          "hospital_id = 'H2' AND month = 3").fetchall()[0]
    assert march == (50, pytest.approx(466.8), pytest.approx(466.8))


@pytest.mark.parametrize("scenario", ["plain", "sharing", "assessed"])
def test_each_hospital_amount_decomposes_into_its_cases_and_adjustments(cycle, scenario):
    rows = cycle.execute("""
        SELECT h.hospital_id, h.year_end_amount_yuan,
               (SELECT sum(case_amount_yuan) FROM case_scores s
                WHERE s.scenario = h.scenario AND s.hospital_id = h.hospital_id) AS cases,
               h.assessed_amount_yuan - h.dip_amount_yuan AS assessment_and_deductions,
               h.overspend_shared_yuan - h.clawback_yuan AS sharing,
               h.withheld_yuan - h.withhold_released_yuan AS deposit_kept
        FROM hospital_settlement h WHERE h.scenario = ?""", [scenario]).fetchall()
    for _, year_end, cases, assessment, sharing, kept in rows:
        assert year_end == pytest.approx(cases + assessment + sharing - kept)


@pytest.mark.parametrize(("claims", "retained", "clawback", "requested"), [
    (1000, 0, 0, 0),        # C = A: neither surplus nor overspend
    (850, 0.6 * 150, 60, 0),  # C = floor × A: the whole surplus is in the band
    (800, 0.6 * 150, 110, 0),  # below the floor: only the band 850–1000 counts
    (1100, 0, 0, 50),       # C = cap × A: half of the 100 overspend
    (1300, 0, 0, 50),       # above the cap: only up to 110%
])
def test_sharing_bands_at_their_edges(claims, retained, clawback, requested):
    # A = 1000; retain 0.6 within 85%, overspend 0.5 up to 110% (the defaults)
    con = duckdb.connect()
    values = parameters_for_year(load_baseline(), 2020)
    values["sharing.enabled"] = True
    con.execute("CREATE TEMP TABLE int_budget AS SELECT 0.0 AS reserve_yuan")
    con.execute("""
        CREATE TEMP TABLE int_year_end AS SELECT 'H' AS hospital_id, 1000.0 AS assessed_amount_yuan,
            ?::DOUBLE AS ffs_fund_paid_yuan, 1000.0 AS dip_amount_yuan,
            1.0 AS assessment_coefficient, 0.0 AS deductions_yuan, 0.0 AS withhold_kept_yuan""",
                [claims])
    make(con, ["int_sharing"], load_baseline(), values)
    got = con.execute("SELECT surplus_retained_yuan, clawback_yuan, overspend_requested_yuan "
                      "FROM int_sharing").fetchall()[0]
    assert got == (pytest.approx(retained), pytest.approx(clawback), pytest.approx(requested))
