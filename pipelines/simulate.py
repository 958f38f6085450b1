"""Pipeline: run catalog → group → budget → score → settle for the baseline and scenarios.

The scenarios run after their bases (a scenario file's ``base:``, the baseline by default);
a base not among the files given is read from the file its stored run recorded, or from the
scenario's own folder. ``stale`` adds the scenarios whose base was simulated again since
their run (``runs.stale``), from the files they recorded.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from dip_sim.pipeline.incremental import has_run_records
from dip_sim.policy import BASELINE, PolicyError, Scenario, load_baseline, load_scenario
from dip_sim.policy.parameters import Parameter
from dip_sim.simulation import simulate
from pipelines.warehouse import connect


def recorded_files(con: duckdb.DuckDBPyConnection, where: str) -> dict[str, str]:
    """Scenario name → the file its stored run recorded, for the runs matching ``where``."""
    if not has_run_records(con):
        return {}
    return dict(con.execute(f"SELECT scenario, scenario_file FROM runs WHERE {where} "
                            "AND scenario_file IS NOT NULL ORDER BY scenario").fetchall())


def _find_base(name: str, near: Path, recorded: dict[str, str],
               params: dict[str, Parameter]) -> Scenario:
    """The base scenario ``name``: the file its stored run recorded, else a file of that name
    in the folder of the scenario built on it."""
    candidates = [Path(recorded[name])] if name in recorded else []
    candidates += [p for p in sorted(near.glob("*.yaml")) if p not in candidates]
    for path in candidates:
        if path.is_file():
            found = load_scenario(path, params)
            if found.name == name:
                return found
    raise PolicyError(f"找不到基础情景 {name} 的情景文件（已查找运行记录与 {near}）")


def with_bases(scenarios: list[Scenario], recorded: dict[str, str],
               params: dict[str, Parameter]) -> list[Scenario]:
    """The scenarios, each linked to its base scenario, in an order where every base comes
    before the scenarios built on it (bases not given are loaded, linked, not run)."""
    given = {s.name: s for s in scenarios}
    linked: dict[str, Scenario] = {}

    def link(s: Scenario, seen: tuple[str, ...] = ()) -> Scenario:
        if s.name in linked:
            return linked[s.name]
        if s.name in seen:
            raise PolicyError(f"情景的基础情景构成循环：{' → '.join((*seen, s.name))}")
        parent = None
        if s.base != BASELINE:
            base = given.get(s.base) or _find_base(s.base, Path(s.source).parent, recorded,
                                                  params)
            parent = link(base, (*seen, s.name))
        linked[s.name] = Scenario(s.name, s.description, s.changes, s.source, s.base, parent,
                                  s.region_changes)
        return linked[s.name]

    def depth(s: Scenario) -> int:
        return 0 if s.parent is None else 1 + depth(s.parent)

    ordered = [link(s) for s in scenarios]
    return sorted(ordered, key=lambda s: (s.name != BASELINE, depth(s)))


def run_simulate(db_path: Path, year: int, history: list[int] | None = None,
                 scenario_files: list[Path] | None = None, progress=print,
                 force: bool = False, stale: bool = False) -> list[dict]:
    """Simulate ``year`` for the baseline and every scenario file (and, with ``stale``, every
    stale scenario); print the point values. ``force``: run the baseline even when its stored
    results are current."""
    params = load_baseline()
    scenarios = [Scenario(BASELINE, "基线：data/policy 中的默认参数")]
    scenarios += [load_scenario(Path(f), params) for f in scenario_files or []]
    started = time.perf_counter()
    con = connect(db_path)
    try:
        recorded = recorded_files(con, "true")
        if stale:
            stale_files = recorded_files(con, "stale")
            progress(f"过期情景：{', '.join(stale_files) or '无'}")
            scenarios += [load_scenario(Path(f), params) for n, f in stale_files.items()
                          if n not in {s.name for s in scenarios}]
        names = [s.name for s in scenarios]
        if len(set(names)) != len(names):
            raise ValueError(f"情景名称重复: {names}")
        scenarios = with_bases(scenarios, recorded, params)
        results = simulate(con, year, history, scenarios, params, progress, force=force)
    finally:
        con.close()
    several = len({r["region"] for r in results}) > 1
    for r in results:
        where = f"（{r['region']} {r['region_name']}）" if several else ""
        progress(f"{r['scenario']}{where}: DIP 基金 {r['dip_fund_yuan']:,.2f} 元，"
                 f"预算点值 {r['pv_budget_yuan']:.4f}，结算点值 {r['pv_settlement_yuan']:.4f}，"
                 f"医保支付比例 {r['fund_ratio']:.4f}，总分值 {r['total_points']:,.1f}")
    progress(f"模拟完成，用时 {time.perf_counter() - started:.1f} 秒")
    return results
