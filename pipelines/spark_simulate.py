"""Pipeline: ``dip-sim simulate --engine spark``, the stages on Spark, the results in the warehouse.

1. The warehouse's ingest and quality results are exported as Parquet (``dip-sim
   export-parquet``; or ``--inputs DIR``, a folder exported before, e.g. by each region's
   DuckDB job).
2. The baseline and every scenario run on Spark (:mod:`dip_sim.spark.engine`), each written
   as its partition of ``OUT/<table>/scenario=<name>/``.
3. The Parquet rows are loaded into the warehouse (:func:`load_results`), in one transaction
   that the output contract's data tests guard, as a DuckDB run stores its own: the dashboard,
   reports and ``dip-sim compare`` read them as they read any run.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from dip_sim.contract import CONTRACTS, create_sql
from dip_sim.pipeline import scenario_tables
from dip_sim.pipeline.regions import regions
from dip_sim.policy import BASELINE, Scenario, load_baseline, load_scenario
from dip_sim.simulation import (
    SimulationError,
    check_inputs,
    check_outputs,
    current_run,
    default_history,
    mark_stale,
)
from dip_sim.spark.engine import RUNS, SparkRunner, has_rows, parquet_glob, start_session
from dip_sim.spark.export import export_parquet
from dip_sim.transaction import transaction
from pipelines.simulate import recorded_files, with_bases
from pipelines.warehouse import connect


def default_out(db_path: Path) -> Path:
    """Where the Spark results of warehouse ``db_path`` go by default: ``<db>.spark/``
    beside it."""
    return Path(str(db_path) + ".spark")


def _read(out: Path, table: str, scenario: str, region: str) -> str:
    quoted, in_region = scenario.replace("'", "''"), region.replace("'", "''")
    return (f"SELECT * FROM read_parquet('{parquet_glob(Path(out) / table)}', "
            f"hive_partitioning = true, hive_types_autocast = false) "
            f"WHERE scenario = '{quoted}' AND region = '{in_region}'")


def load_results(con: duckdb.DuckDBPyConnection, out: Path, scenarios: Sequence[str],
                 region: str, progress=print) -> None:
    """Replace each scenario's stored rows by the Spark run's Parquet under ``out``, record its
    run, and run the data tests; in one transaction (a failure keeps the warehouse as it
    was). The supervision tables are replaced only where the Spark run wrote rows for the
    scenario (a simulation computes them only under the assessment scheme)."""
    with transaction(con):
        scenario_tables.ensure(con)
        for table in CONTRACTS:
            if table not in scenario_tables.LAYERED:
                con.execute(create_sql(table))
        for scenario in scenarios:
            for table in CONTRACTS:
                layered = table in scenario_tables.LAYERED
                target = f"{scenario_tables.SCHEMA}.{table}" if layered else table
                there = has_rows(Path(out) / table) and con.execute(
                    f"SELECT count(*) FROM ({_read(out, table, scenario, region)})"
                ).fetchall()[0][0]
                if not there and not layered:
                    continue
                con.execute(f"DELETE FROM {target} WHERE scenario = ? AND region = ?",
                            [scenario, region])
                if there:
                    columns = ", ".join(c.name for c in CONTRACTS[table].columns)
                    con.execute(f"INSERT INTO {target} BY NAME SELECT {columns} "
                                f"FROM ({_read(out, table, scenario, region)})")
            if not has_rows(Path(out) / RUNS):
                raise SimulationError(f"{out} 中没有 Spark 运行记录（runs）：请先运行 Spark 模拟")
            scenario_tables.set_sources(con, scenario, region, scenario_tables.LAYERED, None)
            scenario_tables.drop_unreferenced(con, scenario, region)
            mark_stale(con, scenario, region)
        check_outputs(con, list(scenarios), progress)


def run_spark_simulate(db_path: Path, year: int, history: list[int] | None = None,
                       scenario_files: list[Path] | None = None, master: str = "local[2]",
                       inputs: Path | None = None, out: Path | None = None,
                       progress=print, spark: Any = None, force: bool = False) -> list[dict]:
    """Simulate ``year`` on Spark for the baseline and every scenario file, from the
    warehouse's inputs (exported to ``OUT/inputs`` unless ``inputs`` names a folder of them)
    into ``out`` (default :func:`default_out`), then load the results into the warehouse.
    As with DuckDB, the baseline is not run again when its stored results are current
    (:func:`dip_sim.simulation.current_run`) unless ``force``. ``spark``: a session to use
    (else one is started on ``master`` and stopped at the end)."""
    history = list(history) if history else default_history(year)
    if year in history:
        raise SimulationError(f"模拟年度 {year} 不能同时是历史年度")
    params = load_baseline()
    scenarios = [Scenario(BASELINE, "基线：data/policy 中的默认参数")]
    scenarios += [load_scenario(Path(f), params) for f in scenario_files or []]
    out = Path(out) if out else default_out(db_path)
    started = time.perf_counter()
    con = connect(db_path)
    try:
        scenarios = with_bases(scenarios, recorded_files(con, "true"), params)
        check_inputs(con, year, history)
        every = regions(con)
        if len(every) > 1:  # the models run once per region; on Spark one region so far
            raise SimulationError(f"仓库中有 {len(every)} 个统筹区：Spark 引擎目前模拟只有一个统筹区的仓库，"
                                  "多个统筹区请用 DuckDB 引擎（dip-sim simulate 不加 --engine）")
        region = every[0]
        if not force and current_run(con, scenarios[0], params, year, history, region.code):
            progress(f"情景 {BASELINE}：数据、模型与参数自上次模拟以来未变，沿用其结果（--force 重新运行）")
            scenarios = scenarios[1:]
        if not scenarios:
            return []
        if inputs is None:
            inputs = out / "inputs"
            rows = export_parquet(con, inputs)
            progress(f"已导出 Spark 输入 {inputs}：" + "，".join(
                f"{t} {n:,} 行" for t, n in rows.items()))
        own = spark is None
        spark = start_session(master) if own else spark
        runner = SparkRunner(spark, Path(inputs), out, progress)
        try:
            results = []
            for scenario in scenarios:
                begun = time.perf_counter()
                results.append(runner.run_scenario(scenario, params, year, history, region))
                progress(f"情景 {scenario.name} 在 Spark 上完成 ({time.perf_counter() - begun:.1f} 秒)")
        finally:
            runner.close()
            if own:
                spark.stop()
        load_results(con, out, [s.name for s in scenarios], region.code, progress)
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
    progress(f"已写入 {out}：" + "，".join(f"{t} {n:,} 行" for t, n in rows.items()))
    return rows
