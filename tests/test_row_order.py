"""The results do not depend on the order the cases are stored in.

A city is simulated (the baseline and every scenario of ``data/scenarios/``) and supervised;
then its case features are written again in another order, and the same runs are made once
more. Every result table and view must hold the same rows to the last bit: sums of doubles
are taken exactly (DECIMAL; the convention is explained in ``catalog/int_keyed.sql``), since a
floating-point sum depends on the order its rows arrive in, and DuckDB's threads deliver them
in an order of their own on a larger city.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from dip_sim.paths import SCENARIO_DIR
from pipelines.simulate import run_simulate
from pipelines.supervise import run_supervise
from tests.inputs import ingest_generated_city

YEAR = 2020
# the records of the runs themselves (times, fingerprints), not their results
RUN_RECORDS = {"runs", "load_batches", "warehouse_meta"}


def _quiet(message: str) -> None:
    del message


def _run(db: Path, force: bool) -> None:
    run_simulate(db, YEAR, scenario_files=sorted(SCENARIO_DIR.glob("*.yaml")), progress=_quiet,
                 force=force)
    run_supervise(db, progress=_quiet)


def _results(db: Path) -> dict[str, list[tuple]]:
    """Every table and view of the main schema but the run records, its rows sorted."""
    with duckdb.connect(str(db), read_only=True) as con:
        names = [name for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' "
            "AND NOT temporary UNION SELECT view_name FROM duckdb_views() "
            "WHERE schema_name = 'main' AND NOT internal AND NOT temporary").fetchall()]
        return {name: con.execute(f"SELECT * FROM {name} ORDER BY ALL").fetchall()
                for name in names if name not in RUN_RECORDS}


def test_the_same_cases_in_another_order_give_the_same_results(tmp_path):
    db = ingest_generated_city(tmp_path, 2_000, seed=5)
    _run(db, force=False)
    before = _results(db)
    with duckdb.connect(str(db)) as con:
        con.execute("""
            CREATE TEMP TABLE reordered AS FROM case_features;
            DELETE FROM case_features;
            INSERT INTO case_features FROM reordered ORDER BY hash(case_id || 'another order');
            DROP TABLE reordered""")
    _run(db, force=True)
    after = _results(db)
    assert sorted(after) == sorted(before)
    for table in ("point_values", "supervision_hospitals", "monitor_months", "catalog_summary"):
        assert before[table], table
    differing = [name for name in sorted(before) if after[name] != before[name]]
    assert not differing, f"changed with the order of the cases: {differing}"
