"""Auxiliary typing (辅助分型, docs/rules.md) on data built to trigger it and not to.

History: 2019 only (weight 7, so weighted means are plain means), hospital H1 (level 3),
``catalog.core_min_cases`` 2, auxiliary N = 15, n = 5, CV reduction 20%. E11.900 (diabetes
without complication, Charlson 1) makes a case's CCI 一般; A41.900 is sepsis (重度 with LOS ≥ 3).

G1 J18.0        10 × 1000 (no other diagnosis), 10 × 3000 (E11.900) → mean 2000, SD 1000,
                CV 0.5; split by CCI: within-type SD 0 → CV 0, −100% → triggered;
                coefficients 1000/2000 = 0.5 (无) and 3000/2000 = 1.5 (一般).
G2 K35.3|47.0901  无 900, 1100 × 5 each; 一般 1000, 1200 × 5 each → mean 1050;
                CV before √(250000/20)/1050 = 0.10648, after √(200000/20)/1050 = 0.09524:
                −10.6% < 20% → not triggered. Forced by the panel's split: 1000/1050, 1100/1050.
G3 K35.8|47.0100  8 × 1000, 7 × 3000 (E11.900): 15 cases, not more than N → not triggered.
G4 K35.2|88.7600  15 × 1000, 5 × 3000 (E11.900): 5 一般 cases, not more than n → folded into
                无, one type left → not triggered.
G5 K35.2        6 × 5000 (A41.900, LOS 5 → 重度), 6 × 1000 (A41.900, LOS 2 → 轻度): 12 cases;
                forced split by severity: 5000/3000 and 1000/3000.
"""

from __future__ import annotations

import pytest

from dip_sim.policy import Scenario
from tests.inputs import case_row, settlement_row, simulated_city, write_inputs

E11, SEPSIS = "E11.900", "A41.900"


def _history():
    """(dx, procs, cost, extra fields) per history case."""
    rows = []
    rows += [("J18.000", (), 1000, {})] * 10 + [("J18.000", (), 3000, {"other_dx": E11})] * 10
    for cost in (900, 1100):
        rows += [("K35.300", ("47.0901",), cost, {})] * 5
    for cost in (1000, 1200):
        rows += [("K35.300", ("47.0901",), cost, {"other_dx": E11})] * 5
    rows += [("K35.800x001", ("47.0100",), 1000, {})] * 8
    rows += [("K35.800x001", ("47.0100",), 3000, {"other_dx": E11, "icu_days": 5})] * 7
    rows += [("K35.200", ("88.7600",), 1000, {})] * 15
    rows += [("K35.200", ("88.7600",), 3000, {"other_dx": E11})] * 5
    rows += [("K35.200", (), 5000, {"other_dx": SEPSIS, "los": 5})] * 6
    rows += [("K35.200", (), 1000, {"other_dx": SEPSIS, "los": 2})] * 6
    return rows


YEAR_2020 = [
    ("g1_none", "J18.000", (), 1000, {}),
    # E11.900 and E11.200 (with complication, 2): only the higher counts → 2 → 一般, not 严重
    ("g1_cci", "J18.000", (), 3000, {"other_dx": f"{E11};E11.200"}),
    ("g5_severe", "K35.200", (), 5000, {"other_dx": SEPSIS, "los": 4}),
    # death: a sub-type without history cases → the base type (轻度)
    ("g5_death", "K35.200", (), 1000, {"discharge_disposition": 5}),
]


def _write(tmp_path):
    cases, settlements = [], []
    rows = [(f"h{i}", "2019-06-01", dx, procs, cost, extra)
            for i, (dx, procs, cost, extra) in enumerate(_history())]
    rows += [(cid, "2020-03-01", dx, procs, cost, extra)
             for cid, dx, procs, cost, extra in YEAR_2020]
    for cid, date, dx, procs, cost, extra in rows:
        extra = dict(extra)
        los = extra.pop("los", 3)
        cases.append(case_row(cid, "H1", date, dx, procs, los=los, **extra))
        settlements.append(settlement_row(cid, date, cost, cost * 0.8))
    return write_inputs(tmp_path / "in", cases, settlements)


@pytest.fixture(scope="module")
def aux(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("aux")
    splits = tmp_path / "splits.yaml"
    splits.write_text(
        "adjustments:\n"
        "  - {id: S1, action: split, group: K35.3|47.0901, by: cci, author: 专家乙,"
        " date: 2020-01-20, reason: 合并症影响费用}\n"
        "  - {id: S2, action: split, group: K35.2, by: severity, author: 专家乙,"
        " date: 2020-01-20, reason: 脓毒症}\n"
        "  - {id: S3, action: split, group: X00.0, by: age, author: 专家乙,"
        " date: 2020-01-20, reason: 不存在的病种}\n"
        "  - {id: S4, action: split, group: K35.8|47.0100, by: icu, author: 专家乙,"
        " date: 2020-01-20, reason: 重症监护}\n", encoding="utf-8")
    two = {"catalog.core_min_cases": 2}
    with simulated_city(tmp_path, _write(tmp_path), [
        Scenario("off", changes=two),
        Scenario("aux", changes={**two, "auxiliary.enabled": True}),
        Scenario("forced", changes={**two, "catalog.adjustments_file": str(splits)}),
    ]) as con:
        yield con


def _subtypes(con, scenario):
    return {(r[0], r[1]): r[2:] for r in con.execute(
        "SELECT group_code, subtype, dimension, n_cases, aux_coefficient, cv_before, cv_after, "
        "forced_by FROM catalog_subtypes WHERE scenario = ?", [scenario]).fetchall()}


def test_trigger_splits_only_the_group_that_qualifies(aux):
    got = _subtypes(aux, "aux")
    assert {g for g, _ in got} == {"J18.0"}  # G2: −10.6%; G3: 15 cases; G4: 5 一般 cases
    assert got[("J18.0", "无")][:3] == ("cci", 10, pytest.approx(0.5))
    assert got[("J18.0", "一般")][:3] == ("cci", 10, pytest.approx(1.5))
    assert got[("J18.0", "一般")][3:5] == (pytest.approx(0.5), pytest.approx(0))
    dims = dict(aux.execute("SELECT group_code, aux_dimension FROM catalog_groups "
                            "WHERE scenario = 'aux' AND aux_dimension IS NOT NULL").fetchall())
    assert dims == {"J18.0": "cci"}
    assert _subtypes(aux, "off") == {}


def test_case_points_carry_the_coefficient(aux):
    rows = {r[0]: r[1:] for r in aux.execute(
        "SELECT case_id, aux_type, aux_coefficient, case_points, rw FROM case_scores "
        "WHERE scenario = 'aux'").fetchall()}
    assert rows["g1_none"][:2] == ("cci:无", pytest.approx(0.5))
    assert rows["g1_cci"][:2] == ("cci:一般", pytest.approx(1.5))  # hierarchy: 2, not 1 + 2
    for case in ("g1_none", "g1_cci"):
        assert rows[case][2] == pytest.approx(rows[case][3] * rows[case][1])  # rw × 1 × coef
    off = dict(aux.execute("SELECT case_id, aux_coefficient FROM case_scores "
                           "WHERE scenario = 'off'").fetchall())
    assert set(off.values()) == {1.0}


def test_history_points_and_budget_point_value_do_not_change(aux):
    pv = dict(aux.execute("SELECT scenario, pv_budget_yuan FROM point_values").fetchall())
    assert pv["aux"] == pytest.approx(pv["off"]) == pytest.approx(pv["forced"])


def test_panel_split_forces_a_dimension(aux):
    got = _subtypes(aux, "forced")
    assert {g for g, _ in got} == {"K35.3|47.0901", "K35.2", "K35.8|47.0100"}  # not J18.0
    assert got[("K35.3|47.0901", "无")][2] == pytest.approx(1000 / 1050)
    assert got[("K35.3|47.0901", "一般")][2] == pytest.approx(1100 / 1050)
    assert got[("K35.3|47.0901", "一般")][5] == "S1"
    assert got[("K35.2", "重度")][:3] == ("severity", 6, pytest.approx(5 / 3))
    assert got[("K35.2", "轻度")][:3] == ("severity", 6, pytest.approx(1 / 3))  # LOS 2
    # ICU days 5 → 2–7天: 3000 ÷ ((8·1000 + 7·3000) / 15) = 1.552; none → 无: 1000 ÷ 1933.3
    assert got[("K35.8|47.0100", "2–7天")][:3] == ("icu", 7, pytest.approx(3000 / (29000 / 15)))
    assert got[("K35.8|47.0100", "无")][2] == pytest.approx(1000 / (29000 / 15))
    cases = dict(aux.execute("SELECT case_id, aux_type FROM case_scores "
                             "WHERE scenario = 'forced'").fetchall())
    assert cases["g5_severe"] == "severity:重度"
    assert cases["g5_death"] == "severity:轻度"  # 死亡 has no history case here
    applied = dict(aux.execute("SELECT adjustment_id, applied FROM catalog_adjustments "
                               "WHERE scenario = 'forced'").fetchall())
    assert applied == {"S1": True, "S2": True, "S3": False, "S4": True}
