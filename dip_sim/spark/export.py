"""The export step: a warehouse's ingest and quality results as the Parquet inputs of Spark.

Ingest and quality stay per-region DuckDB jobs (their reading of many file formats, the
header mapping and the 病案质控 rules run where the files are, one region's batch at a time);
what they leave in the warehouse (``case_features``, ``case_status``, the quality findings,
the loaded cases, settlements and hospitals, the reference tables) is written here, one folder
of Parquet per table (:func:`dip_sim.spark.engine.input_tables`), and Spark reads those.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from dip_sim.spark.engine import SparkEngineError, input_tables


def export_parquet(con: duckdb.DuckDBPyConnection, out: Path) -> dict[str, int]:
    """Write each input table of the Spark engine to ``out/<table>/data.parquet``; the rows
    written per table."""
    there = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables").fetchall()}
    missing = [t for t in input_tables() if t not in there]
    if missing:
        raise SparkEngineError(f"仓库中缺少 {', '.join(missing)}：请先运行 dip-sim ingest 与 "
                               "dip-sim quality")
    written = {}
    for table in input_tables():
        folder = Path(out) / table
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.parquet"):
            old.unlink()
        target = str(folder / "data.parquet").replace("'", "''")
        con.execute(f"COPY (SELECT * FROM {table}) TO '{target}' (FORMAT parquet)")
        written[table] = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    return written
