"""特例单议 and ungrouped cases (docs/rules.md) on the city of ``test_arithmetic`` (``core_min_cases``
3; PV = pv_budget = 43000/42210; six grouped 2020 cases c1–c5, c8; c6 has no history group;
c7 a critical finding).

- candidates: c5 (ratio 7.86 > 5: 费用极端异常) is listed on every run.
- decisions: c5 approved by item (points = 10000 ÷ PV), c4 approved at an adjusted 1500
  points, c1 rejected. The cap: 500‰ of 6 discharges = 3 → both paid as special; 200‰ → 1:
  only the earlier decision (c5, 2020-05-01) is, c4 is paid as an ordinary case and listed.
- ungrouped inside the fund at factor 0.8: c6 scores 0.8 × 5000 ÷ PV; c7 (critical) does not.
- a new-technology list holding 47.01: c4 (47.0100) is a candidate too.
"""

from __future__ import annotations

import pytest

from dip_sim.policy import Scenario
from tests.inputs import simulated_city
from tests.test_arithmetic import PV_BUDGET, _write_city


@pytest.fixture(scope="module")
def review(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("review")
    decisions = tmp_path / "decisions.csv"
    decisions.write_text(
        "case_id,decision,method,points,reviewer,date,note\n"
        "c5,approved,by_item,,专家丙,2020-05-01,极端费用\n"
        "c4,approved,adjusted,1500,专家丙,2020-06-01,复杂手术\n"
        "c1,rejected,by_item,,专家丙,2020-06-02,\n", encoding="utf-8")
    tech = tmp_path / "tech.csv"
    tech.write_text("prefix,note\n47.01,示例新技术\n", encoding="utf-8")
    three = {"catalog.core_min_cases": 3}
    decided = {**three, "special_review.decisions_file": str(decisions)}
    with simulated_city(tmp_path, _write_city(tmp_path), [
        Scenario("t3", changes=three),
        Scenario("wide_cap", changes={**decided, "special_review.cap_per_mille": 500.0}),
        Scenario("narrow_cap", changes={**decided, "special_review.cap_per_mille": 200.0}),
        Scenario("ungrouped", changes={**three, "special_review.ungrouped_mode": "points",
                                       "special_review.ungrouped_points_factor": 0.8}),
        Scenario("tech", changes={**three, "special_review.new_technology_file": str(tech)}),
    ]) as con:
        yield con


def _points(con, scenario):
    return dict(con.execute("SELECT case_id, case_points FROM case_scores WHERE scenario = ?",
                            [scenario]).fetchall())


def test_candidates_are_listed(review):
    rows = review.execute("SELECT case_id, reasons, paid_as_special FROM special_cases "
                          "WHERE scenario = 't3'").fetchall()
    assert rows == [("c5", "费用极端异常", False)]


def test_approved_cases_paid_by_item_or_adjusted_standard(review):
    wide, base = _points(review, "wide_cap"), _points(review, "t3")
    assert wide["c5"] == pytest.approx(10000 / PV_BUDGET)
    assert wide["c4"] == pytest.approx(1500)
    assert wide["c1"] == pytest.approx(base["c1"])  # rejected: ordinary points


def test_the_cap_pays_the_earliest_and_reports_the_overflow(review):
    narrow, base = _points(review, "narrow_cap"), _points(review, "t3")
    assert narrow["c5"] == pytest.approx(10000 / PV_BUDGET)
    assert narrow["c4"] == pytest.approx(base["c4"])
    rows = {r[0]: r[1:] for r in review.execute(
        "SELECT case_id, decision, paid_as_special, cap_note FROM special_cases "
        "WHERE scenario = 'narrow_cap'").fetchall()}
    assert rows["c4"] == ("approved", False, "超出特例单议上限（200.0‰），按病种分值结算")
    assert rows["c5"][:2] == ("approved", True)
    assert rows["c1"][:2] == ("rejected", False)


def test_ungrouped_cases_inside_the_fund(review):
    got = _points(review, "ungrouped")
    assert got["c6"] == pytest.approx(0.8 * 5000 / PV_BUDGET)
    assert "c7" not in got and "c6" not in _points(review, "t3")


def test_new_technology_procedures_are_candidates(review):
    rows = dict(review.execute("SELECT case_id, reasons FROM special_cases "
                               "WHERE scenario = 'tech'").fetchall())
    assert rows == {"c4": "新技术 47.0100", "c5": "费用极端异常"}  # c4: K35.8 with 47.0100
