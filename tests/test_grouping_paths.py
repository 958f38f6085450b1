"""Gold cases: one small case per grouping path and tie rule, the group written by hand (docs/rules.md).

Every history case is of 2019 (weight 7 of 1:2:7, so weighted means are plain means), all at
hospital H1; ``catalog.core_min_cases`` = 2. Procedures: M = 47.0901 (surgery), R1 = 54.2100
(surgery), R2 = 38.9300 (therapeutic), N = 96.0400 (therapeutic), D = 88.7600 (diagnostic),
99.1800 (conservative). Keys list their procedures sorted: M+R2 is ``38.9300+47.0901``.

history (2019)            costs                 `all` key cases
K35.3  M                  1000, 1000            2
K35.3  M+R1               1600, 1600            2
K35.3  M+R2               1400, 1400            2
K35.3  M+R1+R2            2200                  1
K35.8  M                  1000, 1000            2
K35.8  M+R1               1500, 1500            2
K35.8  M+R2               1500, 1500            2
K35.2  M                  1000, 1000            2
K35.2  M+N                1050, 1050            2
K35.2  M+R1               2000                  1
K35.2  D                  500                   1
J18.0  99.1800            600                   1       → 20 cases, 12 keys

Related procedures (main_plus_related, share 10%): mean with r ≥ 1.1 × mean without r.
  K35.3 R1: with (1600+1600+2200)/3 = 1800; without (1000·2 + 1400·2)/4 = 1200 → related
  K35.3 R2: with (1400·2 + 2200)/3 = 1666.7; without (1000·2 + 1600·2)/4 = 1300 → related
  K35.8 R1: with 1500; without (1000·2 + 1500·2)/4 = 1250; 1500 ≥ 1375 → related (R2 alike)
  K35.2 R1: with 2000; without (1000·2 + 1050·2)/4 = 1025 → related
  K35.2 N:  with 1050; without (1000·2 + 2000)/3 = 1333.3; 1050 < 1466.7 → not related
So the K35.2 M+N cases key on M alone (K35.2|47.0901: 4 cases, core), and the keys with one
case (K35.3 M+R1+R2, K35.2 M+R1) are matched to a core group by part of their key.

Coverage threshold (`all` keys): covered(2) = 8 keys × 2 = 16 of 20 = 0.80; covered(1) = 1.
  share 0.80 → the largest threshold still covering 80% is 2 (8 core groups);
  share 0.85 → 1 (all 12 keys are core).
"""

from __future__ import annotations

import pytest

from dip_sim.policy import Scenario
from tests.inputs import case_row, settlement_row, simulated_city, write_inputs

M, R1, R2, N, D = "47.0901", "54.2100", "38.9300", "96.0400", "88.7600"

HISTORY = [
    ("K35.300", (M,), [1000, 1000]),
    ("K35.300", (M, R1), [1600, 1600]),
    ("K35.300", (M, R2), [1400, 1400]),
    ("K35.300", (M, R1, R2), [2200]),
    ("K35.800x001", (M,), [1000, 1000]),
    ("K35.800x001", (M, R1), [1500, 1500]),
    ("K35.800x001", (M, R2), [1500, 1500]),
    ("K35.200", (M,), [1000, 1000]),
    ("K35.200", (M, N), [1050, 1050]),
    ("K35.200", (M, R1), [2000]),
    ("K35.200", (D,), [500]),
    ("J18.000", ("99.1800",), [600]),
]

# 2020 cases: (id, main dx, procedures, cost), each hitting one path (expected below)
YEAR_2020 = [
    ("exact", "K35.300", (M,), 1000),
    ("nearest", "K35.300", (M, R1, R2), 1450),   # |1450−1600| = 150 > |1450−1400| = 50 → M+R2
    ("points", "K35.300", (M, R1, R2), 1500),    # 100 = 100 → higher points: M+R1 (1600)
    ("code", "K35.800x001", (M, R1, R2), 2000),  # 500 = 500, means equal → lower code: M+R2
    ("most", "K35.200", (M, R1), 1800),          # only K35.2|M is part of the key
    ("unrelated", "K35.200", (M, N), 1000),      # N is not related: key M alone, exact
    ("diagnostic", "K35.200", (D,), 400),        # key K35.2|88.7600 has 1 case → comprehensive
    ("conservative", "J18.000", ("99.1800",), 500),  # no procedure in the key → comprehensive
    ("no_history", "I21.000", (), 5000),         # I21 × conservative has no history case
    ("critical", "Z99.999x999", (), 800),        # invalid main diagnosis
]


@pytest.fixture(scope="module")
def gold(tmp_path_factory):
    """The city ingested and simulated for 2020 under each grouping variant."""
    tmp_path = tmp_path_factory.mktemp("gold")
    rows = []
    for i, (dx, procs, costs) in enumerate(HISTORY):
        for j, cost in enumerate(costs):
            rows.append((f"h{i}_{j}", "2019-06-01", dx, procs, cost))
    rows += [(cid, "2020-03-01", dx, procs, cost) for cid, dx, procs, cost in YEAR_2020]
    cases = [case_row(cid, "H1", date, dx, procs) for cid, date, dx, procs, _ in rows]
    settlements = [settlement_row(cid, date, cost, cost * 0.8)
                   for cid, date, _, _, cost in rows]
    two = {"catalog.core_min_cases": 2}
    with simulated_city(tmp_path, write_inputs(tmp_path / "in", cases, settlements), [
        Scenario("all", changes=two),
        Scenario("related", changes={**two, "catalog.procedure_key": "main_plus_related"}),
        Scenario("cov80", changes={"catalog.core_threshold_method": "coverage",
                                   "catalog.core_coverage": 0.80}),
        Scenario("cov85", changes={"catalog.core_threshold_method": "coverage",
                                   "catalog.core_coverage": 0.85}),
    ]) as con:
        yield con


def _assigned(con, scenario):
    return {r[0]: r[1:] for r in con.execute(
        "SELECT case_id, group_code, trace FROM case_groups WHERE scenario = ?",
        [scenario]).fetchall()}


def test_related_procedures_join_the_key_and_others_do_not(gold):
    got = _assigned(gold, "related")
    assert got["exact"] == ("K35.3|47.0901", "core exact key")
    # N adds 5% (< 10%): left out, so M+N keys on M alone and is an exact core case
    assert got["unrelated"] == ("K35.2|47.0901", "core exact key")
    assert got["h8_0"][0] == "K35.2|47.0901"  # a history M+N case: the same group
    # related ones stay in the key: the history M+R1 cases are their own core group
    assert got["h1_0"] == (f"K35.3|{M}+{R1}", "core exact key")


def test_partial_key_most_procedures_matched(gold):
    got = _assigned(gold, "related")
    assert got["most"] == ("K35.2|47.0901", f"core partial key: K35.2|{M}+{R1} -> K35.2|{M} "
                           "(1 of 2 procedures matched; most procedures matched)")


def test_partial_key_tie_nearest_mean_cost(gold):
    got = _assigned(gold, "related")
    assert got["nearest"][0] == f"K35.3|{R2}+{M}"
    assert got["nearest"][1].endswith("(2 of 3 procedures matched; tie: nearest mean cost)")
    # the history case of that key (2200): 600 from M+R1 (1600), 800 from M+R2 (1400)
    assert got["h3_0"][0] == f"K35.3|{M}+{R1}"


def test_partial_key_tie_higher_points(gold):
    got = _assigned(gold, "related")
    assert got["points"][0] == f"K35.3|{M}+{R1}"
    assert got["points"][1].endswith("tie: higher points)")


def test_partial_key_tie_group_code(gold):
    got = _assigned(gold, "related")
    assert got["code"][0] == f"K35.8|{R2}+{M}"  # '38.9300+…' sorts before '47.0901+…'
    assert got["code"][1].endswith("tie: group code)")


def test_comprehensive_and_not_grouped_traces(gold):
    for scenario in ("all", "related"):
        got = _assigned(gold, scenario)
        assert got["diagnostic"] == ("K35:comp:diagnostic",
                                     f"comprehensive: class diagnostic from {D}")
        assert got["conservative"] == ("J18:comp:conservative",
                                       "comprehensive: class conservative (no procedure in the key)")
        assert got["no_history"] == (None, "not grouped: no history for I21:comp:conservative")
        assert got["critical"] == (None, "not grouped: critical quality issue main_dx_invalid")


def test_all_procedures_key_has_no_partial_matching(gold):
    # `all` (the baseline rule): M+R1+R2 has 1 case, not core, and goes comprehensive
    got = _assigned(gold, "all")
    assert got["nearest"] == ("K35:comp:surgery", f"comprehensive: class surgery from {M}")
    # and N is part of the key: K35.2 M+N has its own 2 cases, a core group
    assert got["unrelated"] == (f"K35.2|{M}+{N}", "core exact key")


def test_catalogue_mean_counts_the_partially_matched_history_case(gold):
    # K35.3|M+R1 under main_plus_related: its 2 exact cases and the 2200 case → 5400 / 3
    mean = gold.execute("SELECT n_cases, mean_cost_yuan FROM catalog_groups "
                        "WHERE scenario = 'related' AND group_code = ?",
                        [f"K35.3|{M}+{R1}"]).fetchall()
    assert mean == [(3, pytest.approx(1800))]


def test_coverage_threshold(gold):
    def core_groups(scenario):
        return gold.execute("SELECT count(*) FROM catalog_groups WHERE scenario = ? "
                            "AND group_type = 'core'", [scenario]).fetchall()[0][0]
    assert core_groups("all") == 8  # core_min_cases 2
    assert core_groups("cov80") == 8  # threshold 2: 16 / 20 = 0.80 ≥ 0.80
    assert core_groups("cov85") == 12  # threshold 1: only then 20 / 20 ≥ 0.85
