"""Measured, not assumed: every planted record problem is found by its rule (docs/input.md)."""

from __future__ import annotations

import duckdb
import polars as pl

from dip_sim.quality.checks import load_checks
from dip_sim.synth import generate
from dip_sim.synth.plant import PLANTED_RULES, plant_problems
from pipelines.ingest import run_ingest

QUIET = lambda message: None  # noqa: E731


def _findings(db):
    con = duckdb.connect(str(db), read_only=True)
    try:
        found = set(con.execute("SELECT case_id, rule FROM quality_findings").fetchall())
        critical = {r[0] for r in con.execute(
            "SELECT case_id FROM case_status WHERE severity = 'critical'").fetchall()}
    finally:
        con.close()
    return found, critical


def test_every_planted_problem_is_found_and_no_clean_case_turns_critical(tmp_path):
    src = tmp_path / "city"
    generate(src, years=(2019, 2020), cases_per_year=3000, seed=21)
    before_db = tmp_path / "before.duckdb"
    run_ingest(src, before_db, progress=QUIET)
    _, critical_before = _findings(before_db)

    truth = plant_problems(src, rate=0.002, seed=5)
    # every rule of the catalogue is planted
    assert set(truth["rule"]) == set(PLANTED_RULES) == {c.code for c in load_checks()}
    after_db = tmp_path / "after.duckdb"
    run_ingest(src, after_db, progress=QUIET)
    found, critical_after = _findings(after_db)

    planted = set(truth.select("case_id", "rule").iter_rows())
    missed = planted - found
    assert not missed, f"planted problems not found: {sorted(missed)[:10]}"  # recall 100%
    # no case is newly critical unless a problem was planted on it
    planted_cases = {case_id for case_id, _ in planted}
    assert critical_after - critical_before <= planted_cases


def test_planted_problems_in_the_extract_format_are_found(tmp_path):
    """The extract generator plants every rule but unreadable values (typed frames)."""
    before_db, after_db = tmp_path / "before.duckdb", tmp_path / "after.duckdb"
    generate(tmp_path / "clean", years=(2020,), cases_per_year=3000, seed=8,
             file_format="extract")
    run_ingest(tmp_path / "clean", before_db, progress=QUIET)
    _, critical_before = _findings(before_db)
    generate(tmp_path / "spoilt", years=(2020,), cases_per_year=3000, seed=8,
             file_format="extract", plant_rate=0.002)
    truth = pl.read_csv(tmp_path / "spoilt" / "ground_truth.csv")
    assert set(truth["rule"]) == set(PLANTED_RULES) - {"value_unreadable"}
    run_ingest(tmp_path / "spoilt", after_db, progress=QUIET)
    found, critical_after = _findings(after_db)
    planted = set(truth.select("case_id", "rule").iter_rows())
    assert not planted - found  # recall 100%
    assert critical_after - critical_before <= {case_id for case_id, _ in planted}
