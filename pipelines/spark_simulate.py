"""Pipeline: ``dip-sim simulate --engine spark``, the stages on Spark, the results in the warehouse.

1. The warehouse's ingest and quality results are exported as Parquet (``dip-sim
   export-parquet``; or ``--inputs DIR``, a folder exported before, e.g. by each region's
   DuckDB job).
2. The baseline and every scenario run on Spark in every pooling region, several regions at
   once (:mod:`dip_sim.spark.regions`, :mod:`dip_sim.spark.engine`), each written as its
   partition ``OUT/<table>/scenario=<name>/region=<code>/``.
3. The Parquet rows are loaded into the warehouse (:func:`load_results`), in one transaction
   that the output contract's data tests guard, as a DuckDB run stores its own: the dashboard,
   reports and ``dip-sim compare`` read them as they read any run.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb

from dip_sim.contract import CONTRACTS, create_sql
from dip_sim.pipeline import scenario_tables
from dip_sim.pipeline.regions import Region, check_named, regions
from dip_sim.policy import BASELINE, Scenario, load_baseline, load_scenario
from dip_sim.policy.parameters import regions_named
from dip_sim.simulation import (
    SimulationError,
    check_inputs,
    check_outputs,
    current_run,
    default_history,
    mark_stale,
)
from dip_sim.spark.engine import RUNS, at, is_uri, parquet_glob, start_session
from dip_sim.spark.export import UNATTACHED, export_parquet
from dip_sim.spark.regions import run_regions
from dip_sim.sql_text import quoted
from dip_sim.transaction import transaction
from pipelines.simulate import recorded_files, with_bases
from pipelines.warehouse import connect


def default_out(db_path: Path) -> Path:
    """Where the Spark results of warehouse ``db_path`` go by default: ``<db>.spark/``
    beside it."""
    return Path(str(db_path) + ".spark")


def _leaf(out: Path | str, table: str, scenario: str, region: str) -> str:
    return at(out, table, f"scenario={scenario}", f"region={region}")


def written_rows(con: duckdb.DuckDBPyConnection, out: Path | str, table: str, scenario: str,
             region: str, spark: Any) -> str | None:
    """A SELECT of the rows the Spark run wrote for ``table``, ``scenario`` and ``region``
    (with those two columns), or None when it wrote none. A local folder is read by DuckDB;
    a URI through Spark (Arrow) into a temp table."""
    leaf = _leaf(out, table, scenario, region)
    keys = f"{quoted(scenario)} AS scenario, {quoted(region)} AS region"
    if not is_uri(leaf):
        if not any(Path(leaf).glob("*.parquet")):
            return None
        source = f"read_parquet('{parquet_glob(leaf)}')"
    else:
        try:
            arrow = spark.read.parquet(leaf).toArrow()
        except Exception:  # no such partition: the run wrote no rows there
            return None
        con.register("spark_rows", arrow)
        con.execute("CREATE OR REPLACE TEMP TABLE spark_rows_loaded AS SELECT * FROM spark_rows")
        con.unregister("spark_rows")
        source = "spark_rows_loaded"
    rows = con.execute(f"SELECT count(*) FROM {source}").fetchall()[0][0]
    return f"SELECT *, {keys} FROM {source}" if rows else None


def load_results(con: duckdb.DuckDBPyConnection, out: Path | str,
                 todo: Mapping[Region, Sequence[str]], progress=print,
                 spark: Any = None) -> None:
    """Replace each region's and scenario's stored rows by the Spark run's Parquet under
    ``out``, record its run, and run the data tests; in one transaction (a failure keeps the
    warehouse as it was). The supervision tables are replaced only where the Spark run wrote
    rows for the scenario (a simulation computes them only under the assessment scheme)."""
    with transaction(con):
        scenario_tables.ensure(con)
        for table in CONTRACTS:
            if table not in scenario_tables.LAYERED:
                con.execute(create_sql(table))
        for region, scenarios in todo.items():
            for scenario in scenarios:
                for table in CONTRACTS:
                    layered = table in scenario_tables.LAYERED
                    target = f"{scenario_tables.SCHEMA}.{table}" if layered else table
                    rows = written_rows(con, out, table, scenario, region.code, spark)
                    if rows is None and not layered:
                        continue
                    if rows is None and table == RUNS:
                        raise SimulationError(f"{out} 中没有情景 {scenario}、统筹区 {region.code} 的 "
                                              "Spark 运行记录（runs）：请重新运行 Spark 模拟")
                    con.execute(f"DELETE FROM {target} WHERE scenario = ? AND region = ?",
                                [scenario, region.code])
                    if rows is not None:
                        columns = ", ".join(c.name for c in CONTRACTS[table].stored_columns)
                        con.execute(f"INSERT INTO {target} BY NAME SELECT {columns} FROM ({rows})")
                scenario_tables.set_sources(con, scenario, region.code, scenario_tables.LAYERED,
                                            None)
                scenario_tables.drop_unreferenced(con, scenario, region.code)
                mark_stale(con, scenario, region.code)
        con.execute("DROP TABLE IF EXISTS temp.main.spark_rows_loaded")
        check_outputs(con, sorted({s for names in todo.values() for s in names}), progress)


def run_spark_simulate(db_path: Path, year: int, history: list[int] | None = None,
                       scenario_files: list[Path] | None = None, master: str = "local[2]",
                       inputs: Path | str | None = None, out: Path | str | None = None,
                       progress=print, spark: Any = None, force: bool = False,
                       parallel: int = 2) -> list[dict]:
    """Simulate ``year`` on Spark for the baseline and every scenario file, in every pooling
    region (``parallel`` regions at once), from the warehouse's inputs (exported to
    ``OUT/inputs`` unless ``inputs`` names a folder or URI of them) into ``out`` (default
    :func:`default_out`), then load the results into the warehouse. As with DuckDB, a region's
    baseline is not run again when its stored results are current
    (:func:`dip_sim.simulation.current_run`) unless ``force``. ``spark``: a session to use
    (else one is started on ``master`` and stopped at the end)."""
    history = list(history) if history else default_history(year)
    if year in history:
        raise SimulationError(f"模拟年度 {year} 不能同时是历史年度")
    params = load_baseline()
    scenarios = [Scenario(BASELINE, "基线：data/policy 中的默认参数")]
    scenarios += [load_scenario(Path(f), params) for f in scenario_files or []]
    out = out if out is not None else default_out(db_path)
    started = time.perf_counter()
    con = connect(db_path)
    try:
        scenarios = with_bases(scenarios, recorded_files(con, "true"), params)
        check_inputs(con, year, history)
        every = regions(con)
        check_named(regions_named(params), every, "政策参数文件")
        for scenario in scenarios:
            check_named(scenario.regions_named(), every, f"情景 {scenario.name} ")
        todo: dict[Region, list[Scenario]] = {}
        for region in every:
            todo[region] = list(scenarios)
            if not force and current_run(con, scenarios[0], params, year, history, region.code):
                progress(f"统筹区 {region.code}（{region.name}）情景 {BASELINE}：数据、模型与参数自上次模拟"
                         "以来未变，沿用其结果（--force 重新运行）")
                todo[region] = todo[region][1:]
        if not any(todo.values()):
            return []
        if inputs is None:
            inputs = at(out, "inputs")
            if is_uri(inputs):
                raise SimulationError(f"结果目录 {out} 是 URI：请先用 dip-sim export-parquet 导出输入"
                                      "并上传，再以 --inputs 指定其位置")
            _said_export(inputs, export_parquet(con, Path(inputs)), progress)
        parallel = max(1, min(parallel, sum(1 for r in todo if todo[r])))
        own = spark is None
        spark = start_session(master, parallel=parallel) if own else spark
        try:
            begun = time.perf_counter()
            results = run_regions(spark, inputs, out, todo, params, year, history, parallel,
                                  progress)
            progress(f"{len(todo)} 个统筹区在 Spark 上完成（{parallel} 个同时运行，"
                     f"{time.perf_counter() - begun:.1f} 秒）")
            load_results(con, out, {r: [s.name for s in todo[r]] for r in todo if todo[r]},
                         progress, spark)
        finally:
            if own:
                spark.stop()
    finally:
        con.close()
    progress(f"Spark 模拟完成，结果在 {out}，并已载入 {db_path}"
             f"（用时 {time.perf_counter() - started:.1f} 秒）")
    return results


def run_export(db_path: Path, out: Path, progress=print) -> dict[str, int]:
    """``dip-sim export-parquet``: write the Spark engine's inputs from the warehouse."""
    if not Path(db_path).exists():
        raise ValueError(f"仓库文件不存在: {db_path}（请先运行 dip-sim ingest）")
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        rows = export_parquet(con, out)
    finally:
        con.close()
    _said_export(out, rows, progress)
    return rows


def _said_export(out: Path | str, rows: dict[str, int], progress) -> None:
    """Report an export: rows per table, and the rows of no region's hospital (left out)."""
    left = rows.get(UNATTACHED, 0)
    progress(f"已导出 Spark 输入 {out}（每个统筹区一个目录）：" + "，".join(
        f"{t} {n:,} 行" for t, n in rows.items() if t != UNATTACHED))
    if left:
        progress(f"  {left:,} 条病例或结算不属于任何统筹区的医院，未纳入各统筹区的计算"
                 "（质控结果 unknown_hospital 等列出每一条）")
