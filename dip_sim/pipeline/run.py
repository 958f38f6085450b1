"""Running the models of the stage graph for one scenario, and storing what they made.

Each SQL model becomes a temp table (or view) named like it; a Python model writes its
tables. A skipped model leaves its table empty, with the columns of its own query (or, for a
Python model, the columns the manifest declares), so the models that read it need no second
path. :func:`store` then replaces the scenario's rows in the warehouse tables the models
name under ``stores`` (a scenario-keyed result table's rows go to ``stored.<table>``, which
the table's view reads: :mod:`dip_sim.pipeline.scenario_tables`), under the run's pooling
region (the ``region`` column, which the models do not make: :mod:`dip_sim.pipeline.regions`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from dip_sim.pipeline.graph import Model, graph
from dip_sim.pipeline.params import run_facts, set_run_params
from dip_sim.pipeline.scenario_tables import LAYERED, SCHEMA
from dip_sim.policy.parameters import Parameter
from dip_sim.sql_text import quoted

Progress = Callable[[str], None]


@dataclass
class Run:
    """What a model may know about the run: its parameter values and facts."""

    scenario: str
    year: int
    history: list[int]
    values: dict[str, Any]  # every parameter by its dotted name
    mode: str = "simulate"  # or "supervise": dip-sim supervise on a stored scenario
    region: str = ""  # the pooling region's code (its rows of the stored tables)
    adjustment_actions: Counter = field(default_factory=Counter)  # action → how many
    skipped: set[str] = field(default_factory=set)  # the models this run skipped
    # model → (TABLE or VIEW, its SELECT) standing in for it: its base scenario's stored rows,
    # or no rows (dip_sim.pipeline.incremental.stand_ins)
    stand_ins: dict[str, tuple[str, str]] = field(default_factory=dict)
    persist: bool = False  # the run stores its results (in_place models write there directly)
    written: set[str] = field(default_factory=set)  # the models written in place

    def facts(self) -> dict[str, Any]:
        """The names a skip condition or a parameter rule may read."""
        facts: dict[str, Any] = dict(self.values)
        facts.update({"run.mode": self.mode, "run.n_history_years": len(self.history)})
        for action in ("conservative_procedure", "merge", "split", "set_points"):
            facts[f"run.adjustments.{action}"] = self.adjustment_actions.get(action, 0)
        return facts


def _kind(model: Model) -> str:
    """What a SQL model is made as: TABLE, or VIEW (``materialized: view``)."""
    return "VIEW" if model.materialized == "view" else "TABLE"


def create_empty(con: duckdb.DuckDBPyConnection, model: Model) -> None:
    """Make a skipped model's table(s) with no rows and the columns it would have."""
    if model.sql:  # of the model's own kind, as when it runs
        _create(con, _kind(model), model.name, f"SELECT * FROM (\n{model.sql_text()}\n) LIMIT 0")
        return
    for table, columns in model.writes.items():
        if columns:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {table} ({columns})")
        elif model.stores:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS "
                        f"SELECT * FROM {model.stores} LIMIT 0")


def _create(con: duckdb.DuckDBPyConnection, kind: str, name: str, select: str) -> None:
    """CREATE OR REPLACE the temp table or view ``name`` as ``select``; one of the other kind
    is dropped first (a what-if reusing its connection makes a model as a stand-in view, and
    in a later what-if as its own table)."""
    sql = f"CREATE OR REPLACE TEMP {kind} {name} AS\n{select}"
    try:
        con.execute(sql)
    except duckdb.CatalogException as exc:
        other = "TABLE" if kind == "VIEW" else "VIEW"
        if f"is of type {other.title()}" not in str(exc):
            raise
        con.execute(f"DROP {other} {name}")
        con.execute(sql)


def _stored_table(model: Model) -> str:
    """The warehouse table the model's rows are stored in (``stored.T`` for a layered one)."""
    return f"{SCHEMA}.{model.stores}" if model.stores in LAYERED else model.stores


def _columns_but_region(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The stored ``table``'s columns in order, without ``region`` (which the models lack)."""
    return [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall() if r[0] != "region"]


def _replace_rows(con: duckdb.DuckDBPyConnection, table: str, run: Run, select: str) -> None:
    """Replace the run's rows (its scenario, its region) of the stored ``table`` by the rows of
    ``select``, which has the table's columns but the region, by name."""
    con.execute(f"DELETE FROM {table} WHERE scenario = ? AND region = ?",
                [run.scenario, run.region])
    con.execute(f"INSERT INTO {table} BY NAME SELECT *, ? AS region FROM (\n{select}\n)",
                [run.region])


def write_in_place(con: duckdb.DuckDBPyConnection, model: Model, run: Run) -> None:
    """Replace the run's rows of the model's stored table (its scenario, its region) by the
    model's rows, and make the model's name a view of them for the later models.

    The stored table has the model's columns in the model's order (its contract lists them
    so), which is checked; a scan of the view gives the rows in the order they were made, so
    the later sums add as they would over a table of the model's own.
    """
    table = _stored_table(model)
    stored = _columns_but_region(con, table)
    select = model.sql_text()
    made = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM (\n{select}\n)").fetchall()]
    if made != stored:
        raise RuntimeError(f"模型 {model.name} 的列 {made} 与存储表 {table} 的列 {stored} "
                           "不一致（顺序亦须相同），不能直接写入")
    _replace_rows(con, table, run, select)
    _create(con, "VIEW", model.name,
            f"SELECT * EXCLUDE (region) FROM {table} "
            f"WHERE scenario = {quoted(run.scenario)} AND region = {quoted(run.region)}")
    run.written.add(model.name)


def execute(con: duckdb.DuckDBPyConnection, model: Model, run: Run) -> None:
    """Make the model's table(s) from what is in place, or its stand-in when the run has one
    (a view of its base's rows, or an empty table); a model stored ``in_place`` by a run that
    persists is written into its stored table (:func:`write_in_place`)."""
    if model.name in run.stand_ins:
        kind, select = run.stand_ins[model.name]
        _create(con, kind, model.name, select)
    elif model.in_place and run.persist:
        write_in_place(con, model, run)
    elif model.python:
        model.function()(con, run)
    else:
        _create(con, _kind(model), model.name, model.sql_text())


def make(con: duckdb.DuckDBPyConnection, names: Sequence[str], params: dict[str, Parameter],
         values: dict[str, Any], scenario: str = "baseline", year: int = 2020,
         history: Sequence[int] = (2017, 2018, 2019)) -> Run:
    """Set the run's parameters and make only the named models, in run order, from the
    tables already in place: a model tried on inputs written by hand (the tests)."""
    set_run_params(con, params, values, run_facts(scenario, year, history))
    run = Run(scenario, year, list(history), dict(values))
    unknown = set(names) - {m.name for m in graph().models}
    if unknown:
        raise KeyError(f"no such models: {sorted(unknown)}")
    for model in graph().models:
        if model.name in names:
            execute(con, model, run)
    return run


def run_models(con: duckdb.DuckDBPyConnection, run: Run, models: Sequence[Model],
               progress: Progress = print) -> None:
    """Make every model's table in order (``models``: run order), skipping as declared; the
    time of each stage is printed once all its models are made."""
    facts = run.facts()
    pending = Counter(m.stage for m in models if not m.runs_in)
    spent: Counter = Counter()
    for model in models:
        if model.runs_in:
            continue  # made by another command (ingest, quality)
        started = time.perf_counter()
        if model.skipped(facts):
            run.skipped.add(model.name)
        if model.name in run.stand_ins:
            execute(con, model, run)
        elif model.name in run.skipped:
            create_empty(con, model)
        else:
            execute(con, model, run)
        spent[model.stage] += time.perf_counter() - started
        pending[model.stage] -= 1
        if not pending[model.stage]:
            skipped = all(m.name in run.skipped for m in models if m.stage == model.stage)
            progress(f"  [{run.scenario}] {model.stage} ({spent[model.stage]:.1f} 秒)"
                     + ("：跳过" if skipped else ""))


def store(con: duckdb.DuckDBPyConnection, run: Run, models: Sequence[Model]) -> None:
    """Replace the scenario's rows of each stored table by its model's rows, in the run's
    region (the rows of other regions stay).

    Only the output table's columns are copied: a model may carry more for later models. In a
    simulation, the supervision tables are stored only when this run computed them (the
    assessment scheme); otherwise they keep what ``dip-sim supervise`` stored. A model the run
    wrote in place (:func:`write_in_place`) is stored already.
    """
    for model in models:
        if not model.stores or model.name in run.written:
            continue
        if model.stage == "supervise" and model.name in run.skipped:
            continue
        table = _stored_table(model)
        columns = _columns_but_region(con, table)
        _replace_rows(con, table, run, f"SELECT {', '.join(columns)} FROM {model.name}")


def drop_run_tables(con: duckdb.DuckDBPyConnection, models: Sequence[Model],
                    run_params: bool = True) -> None:
    """Drop the temp tables and views the models made, and (``run_params``) the run's
    parameter tables."""
    tables = {r[0]: r[1] for r in con.execute(
        "SELECT table_name, 'TABLE' FROM duckdb_tables() WHERE temporary "
        "UNION ALL SELECT view_name, 'VIEW' FROM duckdb_views() WHERE temporary").fetchall()}
    made = {t for m in models for t in m.outputs}
    if run_params:
        made |= {t for t in tables if t == "run_params" or t.startswith("param_")}
    for name in made & set(tables):
        con.execute(f"DROP {tables[name]} IF EXISTS {name}")
