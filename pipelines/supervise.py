"""Pipeline: supervision indices, assessment and the anomaly screen for simulated scenarios.

Uses each scenario's grouping in the warehouse and the parameter values its simulation ran
with (``runs.params_json``), pooling region by region; parameters newer than that run take
their baseline values. Every scenario's results are stored in one transaction: interrupted,
the run leaves them all as they were.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from dip_sim.pipeline.regions import in_each_region
from dip_sim.policy import load_baseline, parameters_for_year
from dip_sim.supervise.run import supervise
from dip_sim.transaction import transaction
from pipelines.warehouse import connect


def run_supervise(db_path: Path, scenarios: list[str] | None = None, progress=print) -> dict:
    """Supervise ``scenarios`` (default: the baseline) in every pooling region; counts of
    flagged cases per scenario (summed over the regions)."""
    started = time.perf_counter()
    con = connect(db_path)
    found: dict[str, dict[str, int]] = {}
    try:
        if not con.execute("SELECT count(*) FROM runs").fetchall()[0][0]:
            raise ValueError(f"情景 {(scenarios or ['baseline'])[0]} 尚未模拟：请先运行 dip-sim simulate")
        # each scenario's latest run in each region: the values it simulated with, and its year
        runs = {(scenario, region): (params_json, year)
                for scenario, region, params_json, year in con.execute(
                    """SELECT scenario, region, arg_max(params_json, run_at), arg_max(year, run_at)
                       FROM runs GROUP BY scenario, region""").fetchall()}
        params = load_baseline()
        several = len({region for _, region in runs}) > 1
        wanted = scenarios or ["baseline"]
        unknown = [s for s in wanted if s not in {k[0] for k in runs}]
        if unknown:
            raise ValueError(f"情景 {unknown[0]} 尚未模拟：请先运行 dip-sim simulate")
        with transaction(con):
            for region in in_each_region(con, progress=progress):
                for scenario in wanted:
                    if (scenario, region.code) not in runs:
                        raise ValueError(f"情景 {scenario} 在统筹区 {region.code} 尚未模拟："
                                         "请先运行 dip-sim simulate")
                    params_json, year = runs[scenario, region.code]
                    values = {**parameters_for_year(params, year, region.code),
                              **json.loads(params_json)}
                    counts = supervise(con, scenario, values, params, progress, region.code)
                    total = found.setdefault(scenario, {})
                    for k, v in counts.items():
                        total[k] = total.get(k, 0) + v
                    where = f"（统筹区 {region.code}）" if several else ""
                    progress(f"{scenario}{where}: "
                             + "，".join(f"{k} {v:,}" for k, v in counts.items()))
    finally:
        con.close()
    progress(f"监管指标完成，用时 {time.perf_counter() - started:.1f} 秒")
    return found
