"""Measured on planted behaviour (docs/supervision.md): the indices find the gaming the generator plants.

The ``planted_city`` fixture (``conftest.py``): 20,000 discharges a year, 2017–2020, the
example plan (``data/examples/gaming_plan.yaml``: each behaviour at 5% of a hospital's 2020
discharges), ingested, simulated and supervised. Targets: every planting hospital ranks in the
top 3 of its matching index, and split admissions are found with case-level recall ≥ 90%.
"""

from __future__ import annotations

import pandas as pd
import pytest

from dip_sim.supervise.detection import MATCHING_INDEX, detection_report, meets_targets


@pytest.fixture(scope="module")
def report(planted_city):
    return detection_report(planted_city["db"], planted_city["truth"])


def test_every_behaviour_of_the_plan_is_measured(report, planted_city):
    planned = set(pd.read_csv(planted_city["truth"])["behaviour"])
    assert set(report["behaviour"]) == planned and planned <= set(MATCHING_INDEX)
    assert (report["n_hospitals"] > 30).all()


def test_every_planting_hospital_ranks_in_the_top_three(report):
    assert (report["rank"] <= 3).all(), report.to_string()


def test_split_admissions_are_found_case_by_case(report):
    split = report[report["behaviour"] == "split_admission"]
    assert (split["recall"] >= 0.90).all(), split.to_string()
    # the case-level indices find every planted case here
    case_level = report[report["recall"].notna()]
    assert (case_level["recall"] == 1.0).all(), case_level.to_string()
    assert meets_targets(report)


def test_the_upcoders_categories_show_where_to_look(planted_city):
    """编码高套 by category: the procedure upcoder's categories with the most procedures beyond
    its own last year moved to richer groups (mean points up against last year)."""
    import duckdb

    with duckdb.connect(str(planted_city["db"]), read_only=True) as con:
        top = con.execute("""
            SELECT dx3, mean_rw, prev_mean_rw, proc_rate, prev_proc_rate
            FROM supervision_upcoding
            WHERE scenario = 'baseline' AND year = 2020 AND hospital_id = 'H140303001'
            ORDER BY excess_proc_cases DESC LIMIT 3""").fetchall()
    assert len(top) == 3
    for dx3, mean_rw, prev_mean_rw, proc_rate, prev_proc_rate in top:
        assert proc_rate > prev_proc_rate and mean_rw > prev_mean_rw, dx3
