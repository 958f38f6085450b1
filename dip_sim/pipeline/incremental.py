"""Running only what a scenario changes: the models its parameters reach, over its base's results.

A scenario differs from its base scenario (the baseline unless its file says ``base:``) by
some parameter values. From the stage graph's declared parameter reads, :func:`plan` finds

- the models to **rerun**: those reading a changed parameter (or whose skip condition does),
  and every model reading what one of them made;
- the models to **replay**: models the rerun ones read whose tables are not stored, run again
  on unchanged inputs (their results are the base's);
- the stored models whose **base rows** stand in for them: a temp view of the base's stored
  rows (relabelled with the running scenario), read in the order they were stored, which is
  the order the model made them in (a model that carries more columns than it stores is run
  again instead);
- the models a skipped model (an empty table) reads only to be bound: made with no rows.

The result is what a full run of the scenario gives, table by table (tests hold it to the last
digit). A base can stand in only when its own results are current: the same year and history
years, and the same inputs (:func:`inputs_fingerprint`: the loaded and checked data, the
models' code and the content of every file a parameter names) as now.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from dip_sim.meta import get_meta
from dip_sim.pipeline.graph import MANIFEST, PACKAGE_DIR, Model, graph
from dip_sim.pipeline.scenario_tables import LAYERED, rows_sql
from dip_sim.policy.parameters import Parameter


@dataclass(frozen=True)
class Plan:
    """What a scenario's run makes, and from what."""

    base: str
    changed: tuple[str, ...]  # the parameters whose values differ from the base's
    rerun: tuple[Model, ...]
    replay: tuple[Model, ...]
    from_base: tuple[Model, ...]  # stored models whose base rows stand in for them
    shape: tuple[Model, ...] = ()  # made as empty views only, for skipped models to bind

    def models(self) -> tuple[Model, ...]:
        """The models to run (or to stand in for from the base: :func:`stand_ins`), in run
        order."""
        names = {m.name for m in (*self.rerun, *self.replay, *self.from_base, *self.shape)}
        return tuple(m for m in graph().models if m.name in names)

    def stages(self, facts: Mapping[str, Any]) -> list[str]:
        """The stages with a rerun model the run does not skip (``facts``: the run's), in run
        order."""
        return list(dict.fromkeys(m.stage for m in self.rerun if not m.skipped(facts)))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def changed_params(values: Mapping[str, Any], base_values: Mapping[str, Any]) -> set[str]:
    """The parameters whose value differs from the base's (values compared as the run records
    write them, canonical JSON)."""
    keys = set(values) | set(base_values)
    return {k for k in keys if _canonical(values.get(k)) != _canonical(base_values.get(k))}


def plan(models: Sequence[Model], changed: set[str], base: str, facts: Mapping[str, Any],
         wanted: Sequence[str] = (), only_wanted: bool = False) -> Plan:
    """The models to rerun, to replay and to take from ``base``'s stored rows, for a scenario
    whose parameters differ from its base's by ``changed`` (``models``: the run's, in order;
    ``facts``: the run's, for the skip conditions; ``wanted``: tables the caller reads after
    the run, made available too; ``only_wanted``: rerun only what they need, as a what-if that
    stores nothing)."""
    rerun: list[Model] = []
    made: set[str] = set()
    for m in models:
        if m.runs_in:
            continue
        if set(m.params) & changed or m.skip_params() & changed or set(m.reads) & made:
            rerun.append(m)
            made.update(m.outputs)
    maker = {t: m for m in models for t in m.outputs}
    if only_wanted:
        needed: set[str] = set()
        todo = [maker[t].name for t in wanted if t in maker]
        while todo:
            name = todo.pop()
            if name not in needed:
                needed.add(name)
                todo += [maker[r].name for r in graph()[name].reads if r in maker]
        rerun = [m for m in rerun if m.name in needed]
        made = {t for m in rerun for t in m.outputs}
    replay: dict[str, Model] = {}
    from_base: dict[str, Model] = {}
    shape: dict[str, Model] = {}  # made only as empty views, for a skipped model to bind

    def need(tables: Sequence[str], shape_only: bool = False) -> None:
        for table in tables:
            m = maker.get(table)
            if m is None or m.runs_in or table in made or m.name in replay or m.name in from_base:
                continue
            # a supervision table is stored by dip-sim supervise too: its rows are not what
            # this simulate would make, so it is made again
            if m.stores in LAYERED and not m.carries:
                from_base[m.name] = m
            elif shape_only and m.sql:
                if m.name not in shape:
                    shape[m.name] = m
                    need(m.reads, shape_only=True)
            else:
                shape.pop(m.name, None)
                replay[m.name] = m
                # a skipped model's table is empty: what it reads is needed only to bind it
                need(m.reads, shape_only=m.skipped(facts))

    for m in rerun:
        need(m.reads)
    need(wanted)
    order = {m.name: i for i, m in enumerate(models)}

    def ordered(chosen: dict[str, Model]) -> tuple[Model, ...]:
        return tuple(sorted(chosen.values(), key=lambda m: order[m.name]))

    return Plan(base, tuple(sorted(changed)), tuple(rerun), ordered(replay), ordered(from_base),
                ordered(shape))


def stand_ins(con: duckdb.DuckDBPyConnection, chosen: Plan, region: str
              ) -> dict[str, tuple[str, str]]:
    """Model → what stands in for it, as (``TABLE`` or ``VIEW``, its SELECT): for a model
    taken from the base, a view of the base's stored rows in ``region`` labelled with the
    running scenario (``run.scenario``); for a model needed only to bind a skipped one, an
    empty table of its columns.

    The base's rows are a view, not a copy: the stored table holds every column the model
    passes on (``carries`` is empty), and a scan keeps the order the rows were stored in, so
    later sums add in the same order as in a full run. The empty
    stand-ins are tables: a view of a view … would be bound again by every model reading it."""
    out = {m.name: ("TABLE", f"SELECT * FROM (\n{m.sql_text()}\n) LIMIT 0")
           for m in chosen.shape}
    for m in chosen.from_base:
        out[m.name] = ("VIEW", rows_sql(con, m.stores, chosen.base, region,
                                        "getvariable('run.scenario')"))
    return out


@functools.cache
def models_sha256() -> str:
    """A fingerprint of the models' code: the manifest, every SQL file and the modules of the
    Python models (a change in any may change the results)."""
    files = [MANIFEST, *sorted(PACKAGE_DIR.rglob("*.sql"))]
    modules = {m.python.partition(":")[0] for m in graph().models if m.python}
    files += sorted(PACKAGE_DIR.parent / (name.replace(".", "/") + ".py") for name in modules)
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(PACKAGE_DIR.parent)).encode("utf-8"))
        digest.update(path.read_bytes())
    return digest.hexdigest()


def inputs_fingerprint(con: duckdb.DuckDBPyConnection, params: Mapping[str, Parameter],
                       values: Mapping[str, Any]) -> str:
    """What a run's results depend on besides its parameter values: the batches loaded and
    checked, the models' code, and the content of each file a parameter names."""
    parts = [get_meta(con, "loaded_batch_id") or "", get_meta(con, "quality_batch_id") or "",
             models_sha256()]
    for name in sorted(params):
        if params[name].type == "file_or_null" and values.get(name):
            path = Path(str(values[name]))
            content = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "-"
            parts.append(f"{name}={content}")
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class BaseRun:
    """A stored run another scenario may build on."""

    scenario: str
    values: dict[str, Any]
    current: bool  # its year, history years and inputs are those asked for now
    stale: bool
    stamp: str = ""  # which run it is (its run time and inputs)


def has_run_records(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the warehouse has ``runs`` with what a base is judged by (not one written by
    hand for a test, or by an older dip-sim)."""
    found = con.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE schema_name = 'main' "
        "AND database_name = current_database() AND table_name = 'runs' "
        "AND column_name = 'inputs_sha256'").fetchall()
    return bool(found[0][0])


def stored_run(con: duckdb.DuckDBPyConnection, scenario: str, year: int,
               history: Sequence[int], params: Mapping[str, Parameter], region: str
               ) -> BaseRun | None:
    """The stored run of ``scenario`` in ``region``, and whether it is current for this year
    and these history years, with the inputs it recorded (:func:`inputs_fingerprint` of its
    own parameter values) those of now; None when the warehouse has none."""
    if not has_run_records(con):
        return None
    found = con.execute("SELECT year, history_years, params_json, inputs_sha256, stale, run_at "
                        "FROM runs WHERE scenario = ? AND region = ?",
                        [scenario, region]).fetchall()
    if not found:
        return None
    run_year, run_history, params_json, run_inputs, stale, run_at = found[0]
    values = json.loads(params_json)
    current = (run_year == year and run_history == ",".join(map(str, history))
               and run_inputs == inputs_fingerprint(con, params, values))
    return BaseRun(scenario, values, current, bool(stale),
                   f"{scenario}|{region}|{run_at}|{run_inputs}")
