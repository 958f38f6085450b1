"""The export step: a warehouse's ingest and quality results as the Parquet inputs of Spark.

Ingest and quality stay per-region DuckDB jobs (their reading of many file formats, the
header mapping and the 病案质控 rules run where the files are, one region's batch at a time);
what they leave in the warehouse (``case_features``, ``case_status``, the quality findings,
the loaded cases, settlements and hospitals, the reference tables) is written here, one folder
of Parquet per table (:func:`dip_sim.spark.engine.input_tables`), and Spark reads those.

Every table is written by pooling region, ``DIR/<table>/region=<code>/``, so that a region's
run on Spark reads its own files and nothing else (the unit of work is the region:
:mod:`dip_sim.spark.engine`), and so that the exports of several warehouses (one per region or
province, each from its own ingest job) gather into one tree without touching each other: an
export replaces only its own regions' folders. A table a region's run reads only its own rows
of (:data:`dip_sim.pipeline.regions.SCOPED`) has each case under its hospital's region; the
others (reference codes, ``warehouse_meta``: the batches behind that region's results) are
copied whole into each region's folder. A city of one region has all its rows under that
region's folder, as its DuckDB run reads them all. In a province, a row of no region's
hospital (a hospital missing from the hospital table, a settlement without its case) belongs
to no region's run, as on DuckDB; their number is returned under :data:`UNATTACHED` for the
caller to report, and quality lists each one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from dip_sim.pipeline.regions import SCOPED, regions, unattached
from dip_sim.spark.engine import SparkEngineError, input_tables

# the key of the export's counts that holds the rows of no region (a province only)
UNATTACHED = "unattached"


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def export_parquet(con: duckdb.DuckDBPyConnection, out: Path) -> dict[str, int]:
    """Write each input table of the Spark engine under ``out/<table>/region=<code>/`` for
    each region of the warehouse; the rows written per table (a table copied into each region
    counted once), and under :data:`UNATTACHED` the input rows of no region (a province
    only)."""
    there = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables").fetchall()}
    missing = [t for t in input_tables() if t not in there]
    if missing:
        raise SparkEngineError(f"仓库中缺少 {', '.join(missing)}：请先运行 dip-sim ingest 与 "
                               "dip-sim quality")
    every = regions(con)
    province = len(every) > 1
    if province:  # each hospital's region, and each case's (through its hospital)
        con.execute("CREATE OR REPLACE TEMP TABLE export_hospital_regions AS "
                    "SELECT hospital_id, trim(region) AS region FROM hospitals")
        con.execute("CREATE OR REPLACE TEMP TABLE export_case_regions AS "
                    "SELECT f.case_id, r.region FROM case_features f "
                    "JOIN export_hospital_regions r USING (hospital_id)")
    written = {}
    try:
        for table in input_tables():
            folder = Path(out) / table
            folder.mkdir(parents=True, exist_ok=True)
            for region in every:  # an earlier export of these regions, not of others
                shutil.rmtree(folder / f"region={region.code}", ignore_errors=True)
            if province and table in SCOPED:
                written[table] = _export_by_region(con, table, folder, every)
                continue
            # the whole table in each region's folder (a city: its one region's)
            for region in every:
                part = folder / f"region={region.code}"
                part.mkdir(parents=True)
                con.execute(f"COPY (SELECT * FROM {table}) TO "
                            f"'{_quoted(part / 'data.parquet')}' (FORMAT parquet)")
            written[table] = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        if province:
            written[UNATTACHED] = unattached(con)
    finally:
        con.execute("DROP TABLE IF EXISTS temp.main.export_hospital_regions")
        con.execute("DROP TABLE IF EXISTS temp.main.export_case_regions")
    return written


def _export_by_region(con: duckdb.DuckDBPyConnection, table: str, folder: Path,
                      every) -> int:
    """Write a region-bound table of a province, one folder per region; the rows written."""
    if table == "hospitals":  # its own region column stays in its files: one file a region
        total = 0
        for region in every:
            part = folder / f"region={region.code}"
            part.mkdir(parents=True)
            select = "SELECT * FROM hospitals WHERE trim(region) = ?"
            con.execute(f"COPY ({select}) TO '{_quoted(part / 'data.parquet')}' "
                        f"(FORMAT parquet)", [region.code])
            total += con.execute(f"SELECT count(*) FROM ({select})", [region.code]
                                 ).fetchall()[0][0]
        return total
    regions_of = ("export_hospital_regions" if SCOPED[table] == "hospital_id"
                  else "export_case_regions")
    key = SCOPED[table]
    # one pass over the table: the region (from the join) names the folder and is not written
    select = (f"SELECT t.*, r.region AS region FROM {table} t "
              f"JOIN {regions_of} r USING ({key})")
    con.execute(f"COPY ({select}) TO '{_quoted(folder)}' (FORMAT parquet, "
                "PARTITION_BY (region), OVERWRITE_OR_IGNORE, FILENAME_PATTERN 'data_{i}')")
    for region in every:  # a region without rows of this table: a file of its columns
        part = folder / f"region={region.code}"
        if not any(part.glob("*.parquet")):
            part.mkdir(parents=True, exist_ok=True)
            con.execute(f"COPY (SELECT * FROM {table} LIMIT 0) TO "
                        f"'{_quoted(part / 'data_0.parquet')}' (FORMAT parquet)")
    return con.execute(f"SELECT count(*) FROM ({select})").fetchall()[0][0]
