"""Pooling regions side by side on Spark: one runner per region, several at once.

A region's run reads only its own input files and writes only its own partitions
(:class:`dip_sim.spark.engine.SparkRunner`), so regions are independent jobs. Each runs in a
thread of the driver, with a Spark session of its own (its temporary views; the Spark context,
hence the executors, shared): while one region's driver is planning a model or handing a small
table to DuckDB, another's jobs use the executors. ``parallel`` is how many regions run at
once (Spark's scheduler shares the executors among their jobs).

A failure in one region stops the others from starting (those already running finish their
current scenario) and is raised with its region named; nothing is loaded into the warehouse
then (:mod:`pipelines.spark_simulate` loads only after every region has run).
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dip_sim.pipeline.regions import Region
from dip_sim.policy import Scenario
from dip_sim.policy.parameters import Parameter
from dip_sim.spark.engine import Progress, SparkEngineError, SparkRunner


def run_regions(spark: Any, inputs: Path | str, out: Path | str,
                todo: Mapping[Region, Sequence[Scenario]], params: dict[str, Parameter],
                year: int, history: Sequence[int], parallel: int = 2,
                progress: Progress = print) -> list[dict[str, Any]]:
    """Run each region's scenarios (``todo``), ``parallel`` regions at a time; the point
    values of every scenario and region, in the order of ``todo``."""
    stop = threading.Event()
    lock = threading.Lock()

    def said(message: str) -> None:
        with lock:  # one line at a time from the regions' threads
            progress(message)

    def one(region: Region, scenarios: Sequence[Scenario]) -> list[dict[str, Any]]:
        if stop.is_set():
            return []
        begun = time.perf_counter()
        runner = SparkRunner(spark, inputs, out, region, said)
        try:
            rows = []
            for scenario in scenarios:
                if stop.is_set():
                    break
                rows.append(runner.run_scenario(scenario, params, year, history))
            said(f"统筹区 {region.code}（{region.name}）在 Spark 上完成 {len(rows)} 个情景"
                 f"（{time.perf_counter() - begun:.1f} 秒）")
            return rows
        except Exception as exc:
            stop.set()
            if isinstance(exc, SparkEngineError):
                raise SparkEngineError(f"统筹区 {region.code}（{region.name}）：{exc}") from exc
            raise
        finally:
            runner.close()

    work = [(region, scenarios) for region, scenarios in todo.items() if scenarios]
    results: dict[Region, list[dict[str, Any]]] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, parallel),
                                               thread_name_prefix="dip-sim-region") as pool:
        futures = {pool.submit(one, region, scenarios): region for region, scenarios in work}
        try:
            for future in concurrent.futures.as_completed(futures):
                results[futures[future]] = future.result()
        except BaseException:  # a failed region or Ctrl-C: start no other region
            stop.set()
            for future in futures:
                future.cancel()
            raise
    return [row for region, _ in work for row in results.get(region, [])]
