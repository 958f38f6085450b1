"""Pipeline: run catalog → group → budget → score → settle for the baseline and scenarios."""

from __future__ import annotations

import time
from pathlib import Path

from dip_sim.policy import BASELINE, Scenario, load_baseline, load_scenario
from dip_sim.simulation import simulate
from pipelines.warehouse import connect


def run_simulate(db_path: Path, year: int, history: list[int] | None = None,
                 scenario_files: list[Path] | None = None, progress=print) -> list[dict]:
    """Simulate ``year`` for the baseline and every scenario file; print the point values."""
    params = load_baseline()
    scenarios = [Scenario(BASELINE, "基线：data/policy 中的默认参数")]
    scenarios += [load_scenario(Path(f), params) for f in scenario_files or []]
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        raise ValueError(f"情景名称重复: {names}")
    started = time.perf_counter()
    con = connect(db_path)
    try:
        results = simulate(con, year, history, scenarios, params, progress)
    finally:
        con.close()
    for r in results:
        progress(f"{r['scenario']}: DIP 基金 {r['dip_fund_yuan']:,.2f} 元，"
                 f"预算点值 {r['pv_budget_yuan']:.4f}，结算点值 {r['pv_settlement_yuan']:.4f}，"
                 f"医保支付比例 {r['fund_ratio']:.4f}，总分值 {r['total_points']:,.1f}")
    progress(f"模拟完成，用时 {time.perf_counter() - started:.1f} 秒")
    return results
