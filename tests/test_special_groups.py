"""基层病种 and 中医优势病种 (docs/rules.md) on the city of ``test_arithmetic`` (``core_min_cases`` 3;
A K35.3|47.0901 rw 1470, B J18.0 rw 650, D K35:comp:diagnostic rw 400, S K35:comp:surgery rw
900; PV = pv_budget = 43000/42210; every history case at H1, level 3).

- B listed as 基层病种: c2 (H2, level 2, cost 560) takes no level coefficient: base 650 (not
  650 × 0.85 = 552.5); ratio 560 / (650 · PV) = 0.846 → no outlier → 650 points.
- The rule (CV ≤ 0.7, share of history cases at level 1/2 ≥ 0.5, ≥ 30 cases) finds nothing
  here (all history at level 3); with share ≥ 0 and ≥ 3 cases: A (5 cases, CV 0.22) and B
  (3, CV 0.36), not D (2) or S (1).
- S listed as 中医优势病种 with factor 1.1: c4 (H1, cost 3000, high outlier):
  (3000/PV − 900) × 1.1.
"""

from __future__ import annotations

import pytest

from dip_sim.policy import Scenario
from tests.inputs import simulated_city
from tests.test_arithmetic import PV_BUDGET, _write_city


@pytest.fixture(scope="module")
def special(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("special")
    primary = tmp_path / "primary.csv"
    primary.write_text("group_code,note\nJ18.0,肺炎\n", encoding="utf-8")
    tcm = tmp_path / "tcm.csv"
    tcm.write_text("group_code,note\nK35:comp:surgery,示例\n", encoding="utf-8")
    three = {"catalog.core_min_cases": 3}
    with simulated_city(tmp_path, _write_city(tmp_path), [
        Scenario("t3", changes=three),
        Scenario("listed", changes={**three, "special.primary_method": "list",
                                    "special.primary_list_file": str(primary),
                                    "special.tcm_list_file": str(tcm)}),
        Scenario("rule", changes={**three, "special.primary_method": "rule"}),
        Scenario("rule_any_level", changes={**three, "special.primary_method": "rule",
                                            "special.primary_min_low_level_share": 0.0,
                                            "special.primary_min_cases": 3}),
    ]) as con:
        yield con


def _scores(con, scenario):
    return {r[0]: r[1:] for r in con.execute(
        "SELECT case_id, level_coefficient, case_points, primary_group, tcm_factor "
        "FROM case_scores WHERE scenario = ?", [scenario]).fetchall()}


def test_primary_group_takes_no_level_coefficient(special):
    listed, base = _scores(special, "listed"), _scores(special, "t3")
    assert base["c2"][:2] == (0.85, pytest.approx(552.5))
    assert listed["c2"][:3] == (1.0, pytest.approx(650), True)
    assert listed["c3"][0] == 0.70  # A is not listed: level 1 keeps its coefficient


def test_tcm_group_points_factor(special):
    listed = _scores(special, "listed")
    assert listed["c4"][1:] == (pytest.approx((3000 / PV_BUDGET - 900) * 1.1), False, 1.1)
    tcm = special.execute("SELECT n_tcm_cases, tcm_points, n_primary_cases FROM hospital_indices"
                          " WHERE scenario = 'listed' AND hospital_id = 'H1'").fetchall()[0]
    assert tcm == (1, pytest.approx((3000 / PV_BUDGET - 900) * 1.1), 1)  # c4; c8 is B


def test_primary_rule_candidates_are_reviewed_before_adoption(special):
    def flags(scenario):
        return {r[0]: r[1:] for r in special.execute(
            "SELECT group_code, primary_candidate, primary_group FROM catalog_groups "
            "WHERE scenario = ?", [scenario]).fetchall()}
    assert not any(c or p for c, p in flags("rule").values())  # all history at level 3
    any_level = flags("rule_any_level")
    assert {g for g, (c, _) in any_level.items() if c} == {"K35.3|47.0901", "J18.0"}
    assert {g for g, (_, p) in any_level.items() if p} == {"K35.3|47.0901", "J18.0"}
    # without adoption (method none) the candidates are still computed, none is paid so
    base = flags("t3")
    assert not any(p for _, p in base.values())
    counts = special.execute("SELECT scenario, n_primary_candidates, n_primary, n_tcm "
                             "FROM catalog_summary ORDER BY scenario").fetchall()
    assert counts == [("listed", 0, 1, 1), ("rule", 0, 0, 0), ("rule_any_level", 2, 2, 0),
                      ("t3", 0, 0, 0)]


def test_bad_list_file_is_refused(tmp_path):
    from dip_sim.catalog.special import load_group_list
    from dip_sim.policy import PolicyError

    bad = tmp_path / "bad.csv"
    bad.write_text("code,note\nJ18.0,x\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="应有列 group_code"):
        load_group_list(str(bad))
    with pytest.raises(PolicyError, match="名单文件不存在"):
        load_group_list(str(tmp_path / "missing.csv"))
