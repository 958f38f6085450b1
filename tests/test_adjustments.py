"""The panel's catalogue adjustments with their audit trail (docs/rules.md), on the city of
``test_arithmetic`` (history weights 1:2:7, ``core_min_cases`` 3), numbers by hand:

groups before: A K35.3|47.0901 rw 1470, B J18.0 rw 650, D K35:comp:diagnostic rw 400,
S K35:comp:surgery rw 900. W_g = Σ year weights of the group's history cases:
  W_A = 1 + 1 + 2 + 7 + 7 = 18, W_B = 1 + 1 + 7 = 9, W_D = 2 + 7 = 9, W_S = 7
  T = Σ W_g·rw_g = 18·1470 + 9·650 + 9·400 + 7·900 = 42210 (the budget point value's divisor)

set_points B = 800: k = (T − 9·800) / (T − 9·650) = 35010 / 36360; A, D, S × k; T unchanged.
merge D into S: the pooled cases D18 750 (2018), D19 300 and S19 900 (2019):
  m = (2·750 + 7·(300 + 900)/2) / (2 + 7) = 5700 / 9 = 633.33 → rw 633.33 (M = 1000)
conservative_procedure 88.7600: D's key K35.2|88.7600 becomes K35.2 (2 cases < 3), class
  conservative → K35:comp:conservative, same cases, rw 400; S19 (47.0100 + 88.7600) keys on
  47.0100 alone and stays surgery.
"""

from __future__ import annotations

import pytest

from dip_sim.catalog.adjustments import load_adjustments
from dip_sim.policy import PolicyError, Scenario
from dip_sim.reports.catalog_diff import catalog_diff, format_diff
from tests.inputs import simulated_city
from tests.test_arithmetic import _write_city

HEADER = "adjustments:\n"


def _item(adj_id, action, **fields):
    lines = [f"  - id: {adj_id}", f"    action: {action}", "    author: 专家甲",
             "    date: 2020-01-15", "    reason: 专家组论证"]
    lines += [f"    {k}: {v}" for k, v in fields.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def adjusted(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("adjusted")
    files = {
        "points": _item("A1", "set_points", group="J18.0", points=800)
                  + _item("A9", "set_points", group="X99.9|00.0000", points=5),
        "merge": _item("A2", "merge", groups="[K35:comp:diagnostic, K35:comp:surgery]",
                       into="K35:comp:surgery"),
        "conservative": _item("A3", "conservative_procedure", code='"88.7600"'),
    }
    scenarios = []
    for name, body in files.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(HEADER + body, encoding="utf-8")
        scenarios.append(Scenario(name, changes={"catalog.core_min_cases": 3,
                                                 "catalog.adjustments_file": str(path)}))
    with simulated_city(tmp_path, _write_city(tmp_path), [
            Scenario("t3", changes={"catalog.core_min_cases": 3}), *scenarios]) as con:
        yield con


def _rw(con, scenario):
    return {r[0]: r[1:] for r in con.execute(
        "SELECT group_code, rw, rw_computed, adjusted_by, n_cases FROM catalog_groups "
        "WHERE scenario = ?", [scenario]).fetchall()}


def test_negotiated_points_rescale_the_rest_keeping_total_points(adjusted):
    rw = _rw(adjusted, "points")
    k = 35010 / 36360
    assert rw["J18.0"][:3] == (800, pytest.approx(650), "A1")
    assert rw["K35.3|47.0901"][:3] == (pytest.approx(1470 * k), pytest.approx(1470), "A1:rescale")
    assert rw["K35:comp:diagnostic"][0] == pytest.approx(400 * k)
    assert rw["K35:comp:surgery"][0] == pytest.approx(900 * k)
    total = 18 * rw["K35.3|47.0901"][0] + 9 * 800 + 9 * rw["K35:comp:diagnostic"][0] \
        + 7 * rw["K35:comp:surgery"][0]
    assert total == pytest.approx(42210)
    pv = dict(adjusted.execute("SELECT scenario, pv_budget_yuan FROM point_values").fetchall())
    assert pv["points"] == pytest.approx(pv["t3"]) == pytest.approx(43000 / 42210)


def test_merge_pools_the_cases_of_the_merged_groups(adjusted):
    rw = _rw(adjusted, "merge")
    assert "K35:comp:diagnostic" not in rw
    assert rw["K35:comp:surgery"][0] == pytest.approx(5700 / 9)
    assert rw["K35:comp:surgery"][2:] == ("A2", 3)
    trace = adjusted.execute("SELECT group_code, trace FROM case_groups WHERE scenario = 'merge'"
                             " AND case_id = 'D19'").fetchall()[0]
    assert trace == ("K35:comp:surgery",
                     "comprehensive: class diagnostic from 88.7600; merged into "
                     "K35:comp:surgery by A2")


def test_conservative_procedure_changes_keys(adjusted):
    rw = _rw(adjusted, "conservative")
    assert rw["K35:comp:conservative"][0] == pytest.approx(400)
    assert rw["K35:comp:conservative"][3] == 2
    assert "K35:comp:diagnostic" not in rw
    traces = dict(adjusted.execute(
        "SELECT case_id, trace FROM case_groups WHERE scenario = 'conservative' "
        "AND case_id IN ('D19', 'S19')").fetchall())
    assert traces["D19"] == ("comprehensive: class conservative (no procedure in the key); "
                             "key adjusted by A3")
    assert traces["S19"] == ("comprehensive: class surgery from 47.0100; key adjusted by A3")


def test_audit_trail_and_version(adjusted):
    rows = adjusted.execute(
        "SELECT scenario, adjustment_id, action, author, applied, not_applied_reason "
        "FROM catalog_adjustments ORDER BY scenario, seq").fetchall()
    assert rows == [
        ("conservative", "A3", "conservative_procedure", "专家甲", True, None),
        ("merge", "A2", "merge", "专家甲", True, None),
        ("points", "A1", "set_points", "专家甲", True, None),
        ("points", "A9", "set_points", "专家甲", False, "病种不在目录中，或被后面同一病种的调整取代"),
    ]
    versions = dict(adjusted.execute(
        "SELECT scenario, catalog_version FROM catalog_summary").fetchall())
    assert len(set(versions.values())) == 4  # each adjustments file: its own version


@pytest.mark.parametrize(("body", "message"), [
    ("adjustments:\n  - id: A1\n    action: merge\n", "缺少字段"),
    (HEADER + _item("A1", "split_everything", group="x"), "action 'split_everything' 未知"),
    (HEADER + _item("A1", "merge", groups="[A]", into="A"), "至少两个"),
    (HEADER + _item("A1", "merge", groups="[A, B]", into="C"), "into 'C' 应为 groups 中的一个"),
    (HEADER + _item("A1", "set_points", group="A", points=-3), "points 应为正数"),
    (HEADER + _item("A1", "set_points", group="A", points=3) * 2, "id 重复"),
    ("adjustments: [", "不是有效的 YAML"),
])
def test_bad_adjustment_files_are_refused_naming_the_item(tmp_path, body, message):
    path = tmp_path / "bad.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(PolicyError, match=message):
        load_adjustments(str(path))


def test_catalog_diff_says_what_changed_why_and_for_whom(adjusted):
    diff = catalog_diff(adjusted, "t3", "merge")
    params = diff["参数差异"]
    assert list(params["parameter"]) == ["catalog.adjustments_file"]
    groups = diff["病种变化"].set_index("group_code")
    assert groups.loc["K35:comp:diagnostic", "change"] == "removed"
    assert groups.loc["K35:comp:surgery", "change"] == "repointed"
    assert groups.loc["K35:comp:surgery", "adjusted_by"] == "A2"
    assert groups.loc["K35:comp:surgery", "rw_b"] == pytest.approx(5700 / 9)
    moves = diff["病例流向"]
    assert moves[["group_a", "group_b", "n_cases"]].values.tolist() == [
        ["K35:comp:diagnostic", "K35:comp:surgery", 2]]  # D18 and D19, history cases
    assert moves["trace_b"].iloc[0].endswith("merged into K35:comp:surgery by A2")
    # every hospital is listed; the fund is the same, so the DIP amounts only move between them
    # (outlier points depend on the budget point value, which the merge changes too)
    hospitals = diff["医院影响"].set_index("hospital_id")
    assert set(hospitals.index) == {"H1", "H2", "H3"}
    assert hospitals["dip_change_yuan"].sum() == pytest.approx(0, abs=1e-6)
    text = format_diff(diff, "t3", "merge")
    assert "删除 1 组" in text and "K35:comp:diagnostic → K35:comp:surgery: 2 例" in text
    assert "A2 merge" in text and "已应用" in text
    with pytest.raises(ValueError, match="情景 nope 没有目录结果"):
        catalog_diff(adjusted, "t3", "nope")
