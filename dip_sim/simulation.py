"""Simulating a year for the baseline and scenarios: catalog → budget → score → settle → metrics.

The models and their order are the stage graph's (``dip_sim/pipeline/manifest.yaml``); they
read the warehouse and the run's parameters (``run_params`` and the ``param_*`` tables,
generated from the parameter registry) and make temp tables; the results of a scenario then
replace its earlier results in the stored tables. A run writes in one transaction, all its
scenarios together, and the output contract's data tests pass before it commits: interrupted
or failed, it leaves the warehouse as it was. A scenario is parameters, never a code path: the
baseline and every scenario run the same SQL.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb

from dip_sim.catalog.adjustments import AdjustmentSet, load_adjustments
from dip_sim.contract import CONTRACTS, create_sql, run_data_tests
from dip_sim.meta import get_meta
from dip_sim.pipeline.graph import SIMULATE_STAGES, graph
from dip_sim.pipeline.params import run_facts, set_run_params
from dip_sim.pipeline.run import Run, drop_run_tables, run_models, store
from dip_sim.policy import Scenario, resolve
from dip_sim.policy.parameters import Parameter
from dip_sim.policy.rules import check_rules
from dip_sim.policy.scenarios import params_fingerprint
from dip_sim.transaction import transaction

Progress = Callable[[str], None]


class SimulationError(RuntimeError):
    """The warehouse cannot support the requested run; the message says what is missing."""


def default_history(year: int, n_years: int = 3) -> list[int]:
    """The history years of a simulation year: the ``n_years`` years before it."""
    return list(range(year - n_years, year))


def catalog_version(con: duckdb.DuckDBPyConnection, values: dict[str, Any],
                    adjustments: AdjustmentSet) -> str:
    """The catalogue's version: a hash of its inputs, parameters and the panel's adjustments.

    Inputs are named by the batches loaded and checked (``warehouse_meta``); the same data,
    parameters and adjustments file give the same version, any change a new one.
    """
    _, params_sha = params_fingerprint(values)
    parts = [get_meta(con, "loaded_batch_id") or "", get_meta(con, "quality_batch_id") or "",
             params_sha, adjustments.sha256]
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:16]


def _check_inputs(con: duckdb.DuckDBPyConnection, year: int, history: Sequence[int]) -> None:
    tables = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables").fetchall()}
    loaded = get_meta(con, "loaded_batch_id")
    if loaded is None:
        raise SimulationError("仓库中没有病例数据：请先运行 dip-sim ingest DIR")
    if "case_features" not in tables or get_meta(con, "quality_batch_id") != loaded:
        raise SimulationError("病案质控结果缺失或早于最近一次载入的数据：请先运行 dip-sim quality")
    counts = dict(con.execute(
        "SELECT year, count(*) FILTER (WHERE eligible) FROM case_features GROUP BY year"
    ).fetchall())
    if not counts.get(year):
        raise SimulationError(f"模拟年度 {year} 没有可入组的病例（已有年度: "
                              f"{', '.join(str(y) for y in sorted(k for k in counts if k))}）")
    if not any(counts.get(y) for y in history):
        raise SimulationError(f"历史年度 {', '.join(map(str, history))} 没有可入组的病例")


def run_scenario(con: duckdb.DuckDBPyConnection, scenario: Scenario,
                 params: dict[str, Parameter], year: int, history: Sequence[int],
                 progress: Progress = print, persist: bool = True,
                 keep: Sequence[str] = ()) -> dict[str, Any]:
    """Run every stage for one scenario and replace its rows in the output tables.

    Returns the scenario's point values and case counts. With ``persist`` False nothing is
    written (a what-if on a read-only warehouse: the dashboard's 预算情景 page); the marts
    named in ``keep`` are returned too, as DataFrames under their names. With ``persist`` the
    run is one transaction, or part of the caller's (:func:`simulate`).
    """
    with transaction(con) if persist else contextlib.nullcontext():
        return _run_scenario(con, scenario, params, year, history, progress, persist, keep)


def _run_scenario(con: duckdb.DuckDBPyConnection, scenario: Scenario,
                  params: dict[str, Parameter], year: int, history: Sequence[int],
                  progress: Progress, persist: bool, keep: Sequence[str]) -> dict[str, Any]:
    """The body of :func:`run_scenario` (in its transaction when it persists)."""
    values = resolve(params, scenario, year)
    check_rules(values, {"run.n_history_years": len(history)})
    _check_inputs(con, year, history)
    if persist:
        for table in CONTRACTS:  # the stored tables, as their contracts declare them
            con.execute(create_sql(table))
    adjustments = load_adjustments(values["catalog.adjustments_file"])
    set_run_params(con, params, values, run_facts(scenario.name, year, history,
                                                  catalog_version(con, values, adjustments)))
    run = Run(scenario.name, year, list(history), values,
              adjustment_actions=Counter(a.action for a in adjustments.items))
    models = graph().select(SIMULATE_STAGES)
    run_models(con, run, models, progress)
    budget = con.execute("SELECT pv_budget_yuan, dip_fund_yuan, fund_ratio, "
                         "n_cases_prev_year FROM int_budget").fetchall()[0]
    if budget[0] is None or budget[2] is None or budget[2] <= 0:
        raise SimulationError(f"情景 {scenario.name}: 无法计算预算点值或医保支付比例 {budget}")
    if values["budget.method"] == "growth" and not budget[3]:
        raise SimulationError(f"情景 {scenario.name}: 上一年度 {year - 1} 没有入组病例，"
                              "无法按增长率法测算 DIP 基金")
    params_json, params_sha = params_fingerprint(values)
    row = con.execute("SELECT * FROM mart_point_values").fetchdf().iloc[0].to_dict()
    if not persist:
        row.update({mart: con.execute(f"SELECT * FROM {mart}").df() for mart in keep})
        drop_run_tables(con, models)
        return row
    store(con, run, models)
    con.execute("DELETE FROM runs WHERE scenario = ?", [scenario.name])
    con.execute("""
        INSERT INTO runs
        SELECT ?, ?, ?, ?, ?, ?, ?,
               (SELECT count(*) FROM case_status WHERE year = ?),
               (SELECT count(*) FROM mart_case_scores), ?""",
        [scenario.name, scenario.description, year, ",".join(map(str, history)),
         dt.datetime.now(), params_json, params_sha, year,
         str(Path(scenario.source).resolve()) if scenario.source else None])
    drop_run_tables(con, models)
    return row


def simulate(con: duckdb.DuckDBPyConnection, year: int, history: Sequence[int] | None,
             scenarios: Sequence[Scenario], params: dict[str, Parameter],
             progress: Progress = print) -> list[dict[str, Any]]:
    """Run the baseline and each scenario for simulation year ``year``, in one transaction.

    Every scenario's results are committed together at the end: an interrupt or a failure in
    any scenario leaves all earlier results in the warehouse as they were. Before the end, the
    output contract's data tests run on the stored rows (:func:`dip_sim.contract.run_data_tests`:
    keys, reconciliations such as Σ hospital DIP amounts = the DIP fund); a failure stops the
    run and the last good results stay.
    """
    history = list(history) if history else default_history(year)
    if year in history:
        raise SimulationError(f"模拟年度 {year} 不能同时是历史年度")
    results = []
    with transaction(con):
        for scenario in scenarios:
            started = time.perf_counter()
            results.append(run_scenario(con, scenario, params, year, history, progress))
            progress(f"情景 {scenario.name} 完成 ({time.perf_counter() - started:.1f} 秒)")
        check_outputs(con, [s.name for s in scenarios], progress)
    return results


def check_outputs(con: duckdb.DuckDBPyConnection, scenarios: Sequence[str],
                  progress: Progress = print) -> None:
    """Run the output contract's data tests on the scenarios' stored rows; raise on a failure
    (inside the run's transaction: nothing is kept)."""
    started = time.perf_counter()
    failures = run_data_tests(con, scenarios)
    if failures:
        raise SimulationError("数据检验未通过，本次结果未保存：\n  " + "\n  ".join(failures))
    progress(f"数据检验通过 ({time.perf_counter() - started:.1f} 秒)")
