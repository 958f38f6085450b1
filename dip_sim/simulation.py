"""Simulating a year for the baseline and scenarios: catalog → budget → score → settle → metrics.

The models and their order are the stage graph's (``dip_sim/pipeline/manifest.yaml``); they
read the warehouse and the run's parameters (``run_params`` and the ``param_*`` tables,
generated from the parameter registry) and make temp tables; the results of a scenario then
replace its earlier results in the stored tables. A scenario reruns only the models its
changes reach and reuses its base's results for the rest (:mod:`dip_sim.pipeline.incremental`);
the baseline is not run again while its inputs and parameters are those of its last run. A run
writes in one transaction, all its scenarios together, and the output contract's data tests
pass before it commits: interrupted or failed, it leaves the warehouse as it was. A scenario is
parameters, never a code path: the baseline and every scenario run the same SQL.

Each pooling region (统筹区) is run on its own data, with its own parameter values, and its
results are stored under its code (:mod:`dip_sim.pipeline.regions`): a region's results never
depend on another's data.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import hashlib
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from dip_sim.catalog.adjustments import AdjustmentSet, load_adjustments
from dip_sim.contract import CONTRACTS, create_sql, run_data_tests
from dip_sim.meta import get_meta
from dip_sim.pipeline import incremental, scenario_tables
from dip_sim.pipeline.graph import SIMULATE_STAGES, graph
from dip_sim.pipeline.params import run_facts, set_run_params
from dip_sim.pipeline.regions import Region, check_named, in_each_region, regions, scoped
from dip_sim.pipeline.run import Run, drop_run_tables, run_models, store
from dip_sim.policy import BASELINE, Scenario, resolve
from dip_sim.policy.parameters import Parameter, regions_named
from dip_sim.policy.rules import check_rules
from dip_sim.policy.scenarios import params_fingerprint
from dip_sim.transaction import transaction

Progress = Callable[[str], None]


class SimulationError(RuntimeError):
    """The warehouse cannot support the requested run; the message says what is missing."""


@dataclass
class Reuse:
    """The tables what-if runs on one connection leave in place for the next: those of the
    models no what-if changed (replayed, taken from the base, or empty views: the same for
    every scenario over that base), valid while the warehouse and its base are unchanged."""

    base_stamp: str = ""  # the base run they came from (its run time and inputs)
    full: set[str] = field(default_factory=set)  # models whose tables hold their rows
    shape: set[str] = field(default_factory=set)  # models made as empty views only


# the DuckDB types a data frame holds as numbers (DECIMAL(p, s) besides)
_NUMBER_TYPES = frozenset({"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT",
                           "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE"})


def first_row(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()
              ) -> dict[str, Any]:
    """The first row of ``sql`` by column name, as a data frame's row would give it: a
    decimal as a float, a missing number as NaN (read without loading pandas, which would
    double a budget scenario's start-up)."""
    cur = con.execute(sql, list(params))
    values = cur.fetchone()
    out: dict[str, Any] = {}
    for (name, kind, *_), value in zip(cur.description, values, strict=True):
        numeric = str(kind) in _NUMBER_TYPES or str(kind).startswith("DECIMAL")
        if isinstance(value, decimal.Decimal):
            value = float(value)
        out[name] = math.nan if value is None and numeric else value
    return out


def default_history(year: int, n_years: int = 3) -> list[int]:
    """The history years of a simulation year: the ``n_years`` years before it."""
    return list(range(year - n_years, year))


def catalog_version(con: duckdb.DuckDBPyConnection, values: dict[str, Any],
                    adjustments: AdjustmentSet, region: str = "") -> str:
    """The catalogue's version: a hash of its inputs, the parameters the catalogue stage reads,
    the panel's adjustments and the pooling region (each has a catalogue of its own).

    Inputs are named by the batches loaded and checked (``warehouse_meta``); the same data,
    catalogue parameters and adjustments file give the same version (a scenario changing only
    the budget keeps its base's catalogue, and its version), any change a new one.
    """
    read = {p for m in graph().select(["catalog"]) for p in (*m.params, *m.skip_params())}
    _, params_sha = params_fingerprint({k: v for k, v in values.items() if k in read})
    parts = [get_meta(con, "loaded_batch_id") or "", get_meta(con, "quality_batch_id") or "",
             params_sha, adjustments.sha256, region]
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:16]


def _check_loaded(con: duckdb.DuckDBPyConnection) -> str:
    """The batch loaded last; refused when the warehouse has no data."""
    loaded = get_meta(con, "loaded_batch_id")
    if loaded is None:
        raise SimulationError("仓库中没有病例数据：请先运行 dip-sim ingest DIR")
    return loaded


def check_inputs(con: duckdb.DuckDBPyConnection, year: int, history: Sequence[int]) -> None:
    """Refuse a run the warehouse cannot support: no cases, quality results missing or older
    than the data loaded, no eligible case in the year or the history years."""
    tables = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables").fetchall()}
    loaded = _check_loaded(con)
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
                 keep: Sequence[str] = (), incremental_run: bool = True,
                 reuse: Reuse | None = None, region: Region | None = None,
                 region_code: str | None = None) -> dict[str, Any]:
    """Run one scenario in one pooling region and replace its rows there in the output tables.

    ``region``: the region the caller scoped the input tables to (:func:`simulate`'s loop);
    None: the region coded ``region_code`` (a what-if names the region it asks about), else the
    warehouse's only region, or its first, scoped here.

    A scenario other than the baseline reruns only the models its changes reach when its base
    has current stored results (``incremental_run``; else every model runs). Returns the
    scenario's point values and case counts. With ``persist`` False nothing is written (a
    what-if on a read-only warehouse: the dashboard's 预算情景 page); the marts named in
    ``keep`` are returned too, as DataFrames under their names, and only what they need is
    rerun; ``reuse`` (a what-if's, on a connection kept between them) keeps the tables of the
    models the scenario did not change for the next what-if. With ``persist`` the run is
    one transaction, or part of the caller's (:func:`simulate`).
    """
    with transaction(con) if persist else contextlib.nullcontext():
        if region is not None:
            return _run_scenario(con, scenario, params, year, history, progress, persist, keep,
                                 incremental_run, reuse, region)
        _check_loaded(con)
        every = regions(con)
        chosen = [r for r in every if r.code == region_code] if region_code else every[:1]
        if not chosen:
            raise SimulationError(f"仓库中没有统筹区 {region_code}")
        with scoped(con, chosen[0], every):
            return _run_scenario(con, scenario, params, year, history, progress, persist, keep,
                                 incremental_run, reuse, chosen[0])


def _plan(con: duckdb.DuckDBPyConnection, scenario: Scenario, params: dict[str, Parameter],
          run: Run, wanted: Sequence[str], persist: bool, progress: Progress
          ) -> tuple[incremental.Plan | None, str]:
    """The incremental plan over the scenario's base, or None for a full run: the baseline,
    or a base with no current results to reuse (a full run gives the same results, only
    slower; the message says why)."""
    if scenario.name == BASELINE:
        return None, ""
    base = incremental.stored_run(con, scenario.base, run.year, run.history, params, run.region)
    if base is None or not base.current or base.stale:
        why = ("没有模拟结果" if base is None else "的结果已过期（其基础情景已重新模拟）" if base.stale
               else "的结果早于当前的数据、模型或参数文件")
        progress(f"  [{scenario.name}] 基础情景 {scenario.base} {why}，本情景完整运行全部阶段")
        return None, ""
    changed = incremental.changed_params(run.values, base.values)
    return (incremental.plan(graph().select(SIMULATE_STAGES), changed, base.scenario,
                             run.facts(), wanted, only_wanted=not persist), base.stamp)


def _run_scenario(con: duckdb.DuckDBPyConnection, scenario: Scenario,
                  params: dict[str, Parameter], year: int, history: Sequence[int],
                  progress: Progress, persist: bool, keep: Sequence[str],
                  incremental_run: bool, reuse: Reuse | None, region: Region) -> dict[str, Any]:
    """The body of :func:`run_scenario` (in its transaction when it persists, the input tables
    scoped to ``region``)."""
    values = resolve(params, scenario, year, region.code)
    check_rules(values, {"run.n_history_years": len(history)})
    if persist:
        scenario_tables.ensure(con)
        for table in CONTRACTS:  # the other stored tables, as their contracts declare them
            if table not in scenario_tables.LAYERED:
                con.execute(create_sql(table))
    adjustments = load_adjustments(values["catalog.adjustments_file"])
    set_run_params(con, params, values, run_facts(
        scenario.name, year, history, catalog_version(con, values, adjustments, region.code)))
    run = Run(scenario.name, year, list(history), values, region=region.code,
              adjustment_actions=Counter(a.action for a in adjustments.items), persist=persist)
    wanted = ("int_budget", "mart_point_values", *keep)
    chosen, stamp = (_plan(con, scenario, params, run, wanted, persist, progress)
                     if incremental_run else (None, ""))
    # a base whose results stand in was simulated on these very inputs, year and history years,
    # and passed this check then
    if chosen is None:
        check_inputs(con, year, history)
    if reuse is not None and (chosen is None or stamp != reuse.base_stamp):
        _drop_reused(con, reuse)
        reuse.base_stamp = stamp
    if chosen is None:
        models = graph().select(SIMULATE_STAGES)
        to_run = models
    else:
        models = chosen.models()
        progress(f"  [{scenario.name}] 基于 {chosen.base}：改动参数 "
                 f"{', '.join(chosen.changed) or '无'}；重算 {', '.join(chosen.stages(run.facts())) or '无'}")
        run.stand_ins = incremental.stand_ins(con, chosen, region.code)
        to_run = models if reuse is None else _not_in_place(chosen, reuse)
    run_models(con, run, to_run, progress)
    budget = con.execute("SELECT pv_budget_yuan, dip_fund_yuan, fund_ratio, "
                         "n_cases_prev_year FROM int_budget").fetchall()[0]
    if budget[0] is None or budget[2] is None or budget[2] <= 0:
        raise SimulationError(f"情景 {scenario.name}: 无法计算预算点值或医保支付比例 {budget}")
    if values["budget.method"] == "growth" and not budget[3]:
        raise SimulationError(f"情景 {scenario.name}: 上一年度 {year - 1} 没有入组病例，"
                              "无法按增长率法测算 DIP 基金")
    params_json, params_sha = params_fingerprint(values)
    row = first_row(con, "SELECT * FROM mart_point_values")
    row.update(region=region.code, region_name=region.name)
    if not persist:
        row.update({mart: con.execute(f"SELECT * FROM {mart}").df() for mart in keep})
        if reuse is not None and chosen is not None:
            reuse.full -= {m.name for m in chosen.rerun}
            reuse.shape -= {m.name for m in chosen.rerun}
            reuse.full |= {m.name for m in (*chosen.replay, *chosen.from_base)}
            reuse.shape |= {m.name for m in chosen.shape} - reuse.full
            drop_run_tables(con, chosen.rerun)
        else:
            drop_run_tables(con, models)
        return row
    made = chosen.rerun if chosen is not None else models
    store(con, run, made)
    scenario_tables.set_sources(con, scenario.name, region.code,
                                {m.stores for m in made if m.stores},
                                chosen.base if chosen is not None else None)
    scenario_tables.drop_unreferenced(con, scenario.name, region.code)
    con.execute("DELETE FROM runs WHERE scenario = ? AND region = ?", [scenario.name, region.code])
    con.execute("""
        INSERT INTO runs (scenario, description, year, history_years, run_at, params_json,
                          params_sha256, n_cases_year, n_grouped_year, scenario_file, base,
                          stages_run, inputs_sha256, stale, region, region_name)
        SELECT ?, ?, ?, ?, ?, ?, ?,
               (SELECT count(*) FROM case_status WHERE year = ?),
               -- the scored cases (one row of case_scores each), summed by cell
               (SELECT coalesce(sum(n_cases), 0) FROM case_score_cells
                WHERE scenario = ? AND region = ?),
               ?, ?, ?, ?, false, ?, ?""",
        [scenario.name, scenario.description, year, ",".join(map(str, history)),
         dt.datetime.now(), params_json, params_sha, year, scenario.name, region.code,
         str(Path(scenario.source).resolve()) if scenario.source else None,
         chosen.base if chosen is not None else None,
         ",".join(dict.fromkeys(m.stage for m in made if m.name not in run.skipped)),
         incremental.inputs_fingerprint(con, params, values), region.code, region.name])
    mark_stale(con, scenario.name, region.code)
    drop_run_tables(con, models)
    return row


def _not_in_place(chosen: incremental.Plan, reuse: Reuse) -> tuple[Any, ...]:
    """The plan's models whose tables an earlier what-if did not leave in place."""
    rerun = {m.name for m in chosen.rerun}
    shape = {m.name for m in chosen.shape}
    return tuple(m for m in chosen.models() if m.name in rerun
                 or (m.name not in reuse.full and not (m.name in shape and m.name in reuse.shape)))


def _drop_reused(con: duckdb.DuckDBPyConnection, reuse: Reuse) -> None:
    """Drop the tables ``reuse`` kept (their base changed, or a full run follows)."""
    kept = reuse.full | reuse.shape
    drop_run_tables(con, [m for m in graph().models if m.name in kept], run_params=False)
    reuse.full.clear()
    reuse.shape.clear()


def mark_stale(con: duckdb.DuckDBPyConnection, scenario: str, region: str) -> list[str]:
    """Mark stale, in ``region``, the scenarios built on ``scenario`` (its results there were
    just replaced), and those built on them; their names."""
    found = [r[0] for r in con.execute("""
        WITH RECURSIVE built_on(name) AS (
            SELECT scenario FROM runs WHERE base = ? AND region = ?
            UNION SELECT r.scenario FROM runs r JOIN built_on b ON r.base = b.name
            WHERE r.region = ?)
        SELECT name FROM built_on ORDER BY name""", [scenario, region, region]).fetchall()]
    if found:
        con.execute("UPDATE runs SET stale = true WHERE list_contains(?, scenario) AND region = ?",
                    [found, region])
    return found


def current_run(con: duckdb.DuckDBPyConnection, scenario: Scenario,
                params: dict[str, Parameter], year: int, history: Sequence[int],
                region: str) -> bool:
    """Whether ``scenario``'s stored results in ``region`` are those a run now would make: the
    same year, history years, parameter values and inputs (the run records say so), and not
    stale."""
    values = resolve(params, scenario, year, region)
    stored = incremental.stored_run(con, scenario.name, year, history, params, region)
    return (stored is not None and stored.current and not stored.stale
            and not incremental.changed_params(values, stored.values))


def simulate(con: duckdb.DuckDBPyConnection, year: int, history: Sequence[int] | None,
             scenarios: Sequence[Scenario], params: dict[str, Parameter],
             progress: Progress = print, force: bool = False,
             incremental_run: bool = True) -> list[dict[str, Any]]:
    """Run the baseline and each scenario for simulation year ``year``, in one transaction.

    The baseline is not run again when its stored results are current (:func:`current_run`)
    unless ``force``; scenarios build on their bases' results unless ``incremental_run`` is
    False (every model runs). A base must come before the scenarios built on it.

    Each pooling region is run on its own (:func:`dip_sim.pipeline.regions.in_each_region`),
    every scenario in it; the results (and point values returned) are one per scenario and
    region. Every result is committed together at the end: an interrupt or a failure in
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
        _check_loaded(con)
        every = regions(con)
        check_named(regions_named(params), every, "政策参数文件")
        for scenario in scenarios:
            check_named(scenario.regions_named(), every, f"情景 {scenario.name} ")
        ran: list[str] = []
        for region in in_each_region(con, progress=progress):
            if len(every) > 1:
                progress(f"统筹区 {region.code}（{region.name}）")
            for scenario in scenarios:
                started = time.perf_counter()
                if (scenario.name == BASELINE and not force
                        and current_run(con, scenario, params, year, history, region.code)):
                    progress(f"情景 {scenario.name}：数据、模型与参数自上次模拟以来未变，沿用其结果"
                             "（--force 重新运行）")
                    row = first_row(con, "SELECT * EXCLUDE (region) FROM point_values "
                                    "WHERE scenario = ? AND region = ?",
                                    [scenario.name, region.code])
                    results.append({**row, "region": region.code, "region_name": region.name})
                    continue
                results.append(run_scenario(con, scenario, params, year, history, progress,
                                            incremental_run=incremental_run, region=region))
                ran += [scenario.name] if scenario.name not in ran else []
                progress(f"情景 {scenario.name} 完成 ({time.perf_counter() - started:.1f} 秒)")
        if ran:
            check_outputs(con, ran, progress)
    return results


def check_outputs(con: duckdb.DuckDBPyConnection, scenarios: Sequence[str],
                  progress: Progress = print) -> None:
    """Run the output contract's data tests on the scenarios' stored rows; raise on a failure
    (inside the run's transaction: nothing is kept). A scenario that reused its base's tables
    is tested on the tables its run made (and the other stored tables): the base's own were
    tested when the base ran."""
    started = time.perf_counter()
    made = {s: _made_itself(con, s) for s in scenarios}
    full = [s for s in scenarios if made[s] is None]
    failures = run_data_tests(con, full) if full else []
    for scenario in scenarios:
        if made[scenario] is not None:
            failures += run_data_tests(con, [scenario], [
                t for t in CONTRACTS if t in made[scenario] or t not in scenario_tables.LAYERED])
    if failures:
        raise SimulationError("数据检验未通过，本次结果未保存：\n  " + "\n  ".join(failures))
    progress(f"数据检验通过 ({time.perf_counter() - started:.1f} 秒)")


def _made_itself(con: duckdb.DuckDBPyConnection, scenario: str) -> set[str] | None:
    """The layered tables ``scenario``'s run made itself in some region, when it reused some
    of its base's; None for a full run."""
    rows = con.execute(f"SELECT table_name, source = scenario FROM {scenario_tables.SOURCES} "
                       "WHERE scenario = ?", [scenario]).fetchall()
    if all(own for _, own in rows):
        return None
    return {t for t, own in rows if own}
