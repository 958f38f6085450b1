"""Pipeline: supervision indices, assessment and the anomaly screen for simulated scenarios.

Uses each scenario's grouping in the warehouse and the parameter values its simulation ran
with (``runs.params_json``); parameters newer than that run take their baseline values. Every
scenario's results are stored in one transaction: interrupted, the run leaves them all as
they were.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from dip_sim.policy import load_baseline, parameters_for_year
from dip_sim.supervise.run import supervise
from dip_sim.transaction import transaction
from pipelines.warehouse import connect


def run_supervise(db_path: Path, scenarios: list[str] | None = None, progress=print) -> dict:
    """Supervise ``scenarios`` (default: the baseline); counts of flagged cases per scenario."""
    started = time.perf_counter()
    con = connect(db_path)
    found = {}
    try:
        # each scenario's latest run: the values it simulated with, and its year
        runs = {scenario: (params_json, year) for scenario, params_json, year in con.execute(
            """SELECT scenario, arg_max(params_json, run_at), arg_max(year, run_at)
               FROM runs GROUP BY scenario""").fetchall()}
        params = load_baseline()
        with transaction(con):
            for scenario in scenarios or ["baseline"]:
                if scenario not in runs:
                    raise ValueError(f"情景 {scenario} 尚未模拟：请先运行 dip-sim simulate")
                params_json, year = runs[scenario]
                values = {**parameters_for_year(params, year), **json.loads(params_json)}
                found[scenario] = counts = supervise(con, scenario, values, params, progress)
                progress(f"{scenario}: " + "，".join(f"{k} {v:,}" for k, v in counts.items()))
    finally:
        con.close()
    progress(f"监管指标完成，用时 {time.perf_counter() - started:.1f} 秒")
    return found
