"""Supervision and assessment as stages of the graph: the Python models of the ``supervise``
stage (its lists, the quality index, the scheme's check) and :func:`supervise`, which runs
the stage on a simulated scenario's stored grouping and stores what it makes.

In a simulation whose assessment coefficients come from the 绩效考核 scheme
(``settlement.assessment_source = scheme``), the same models run inside the simulation, on
the grouping it is making (dip_sim/pipeline/manifest.yaml).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import duckdb

from dip_sim.contract import run_data_tests
from dip_sim.pipeline.graph import Model, graph
from dip_sim.pipeline.params import run_facts, set_run_params
from dip_sim.pipeline.regions import SCOPED
from dip_sim.pipeline.run import Run, drop_run_tables, run_models, store
from dip_sim.pipeline.scenario_tables import rows_sql
from dip_sim.policy import PolicyError
from dip_sim.policy.lists import number, read_list
from dip_sim.policy.parameters import Parameter
from dip_sim.reports.quality import hospital_quality_sql
from dip_sim.supervise.tables import SUPERVISION_DDL
from dip_sim.transaction import transaction

Progress = Callable[[str], None]

MEASURES = ("value", "ratio", "z")


class SupervisionError(RuntimeError):
    """The warehouse cannot support supervision; the message says what to run."""


def supervision_lists(con: duckdb.DuckDBPyConnection, run: Run) -> None:
    """``run_sv_outpatient`` (dx_prefix: the conditions usually treated as outpatients,
    ``supervision.outpatient_conditions_file``) and ``run_assessment_scheme`` (the 绩效考核
    scheme, ``assessment.scheme_file``); empty when no file is named."""
    outpatient: list[str] = []
    file = run.values["supervision.outpatient_conditions_file"]
    if file:
        name, rows = read_list(file, ("dx_prefix",), "门诊病种清单")
        outpatient = [r["dx_prefix"].strip() for r in rows if r["dx_prefix"].strip()]
        if not outpatient:
            raise PolicyError(f"{name}: 门诊病种清单为空")
        # matched against the diagnosis subcategory (亚目, 5 characters) of case_features
        too_long = [(i, p) for i, p in enumerate(outpatient, start=2) if len(p) > 5]
        if too_long:
            row, prefix = too_long[0]
            raise PolicyError(f"{name} 第 {row} 行 dx_prefix: {prefix!r} 超过 5 个字符"
                              "（按诊断亚目匹配，如 E11.9）")
    con.execute("CREATE OR REPLACE TEMP TABLE run_sv_outpatient AS "
                "SELECT unnest(?::VARCHAR[]) AS dx_prefix", [outpatient])
    con.execute("""CREATE OR REPLACE TEMP TABLE run_assessment_scheme (indicator VARCHAR,
                   measure VARCHAR, weight DOUBLE, full_at DOUBLE, zero_at DOUBLE,
                   label VARCHAR)""")
    file = run.values["assessment.scheme_file"]
    if file:
        name, rows = read_list(file, ("indicator", "measure", "weight", "full_at", "zero_at"),
                               "考核方案")
        scheme = []
        for i, r in enumerate(rows, start=2):  # row 1 is the header
            if r["measure"] not in MEASURES:
                raise PolicyError(f"{name} 第 {i} 行 measure: {r['measure']!r} 应为 "
                                  f"{'/'.join(MEASURES)}")
            full = number(name, i, "full_at", r["full_at"], float("-inf"), None)
            zero = number(name, i, "zero_at", r["zero_at"], float("-inf"), None)
            if full == zero:
                raise PolicyError(f"{name} 第 {i} 行: full_at 与 zero_at 不能相等")
            scheme.append((r["indicator"].strip(), r["measure"],
                           number(name, i, "weight", r["weight"], 0, None), full, zero,
                           (r.get("label") or r["indicator"]).strip()))
        con.executemany("INSERT INTO run_assessment_scheme VALUES (?, ?, ?, ?, ?, ?)", scheme)


def quality_indices(con: duckdb.DuckDBPyConnection, run: Run) -> None:
    """``sv_quality``: the 病案质量指数 of every hospital-year (:mod:`dip_sim.reports.quality`),
    weighted by ``quality.index_weight_critical`` and ``quality.index_weight_warning``."""
    weights = [run.values["quality.index_weight_critical"],
               run.values["quality.index_weight_warning"]]
    con.execute(f"CREATE OR REPLACE TEMP TABLE sv_quality AS {hospital_quality_sql()}", weights)


def check_scheme(con: duckdb.DuckDBPyConnection, run: Run) -> None:
    """Refuse a scheme indicator that is no index of this run (a typo, or a readmission
    window the parameters do not compute): it would silently earn no points."""
    unknown = [r[0] for r in con.execute("""
        SELECT indicator FROM run_assessment_scheme
        WHERE indicator NOT IN (SELECT index_code FROM mart_supervision_hospitals)
        ORDER BY indicator""").fetchall()]
    if unknown:
        known = [r[0] for r in con.execute("SELECT DISTINCT index_code FROM "
                                           "mart_supervision_hospitals ORDER BY 1").fetchall()]
        raise PolicyError(f"考核方案 {run.values['assessment.scheme_file']} 的指标 "
                          f"{', '.join(unknown)} 不是本次计算的监管指数（可用：{', '.join(known)}）")


def _supervision_models(con: duckdb.DuckDBPyConnection, scenario: str, region: str
                        ) -> tuple[Model, ...]:
    """The models ``dip-sim supervise`` runs: the ``supervise`` stage and the earlier models it
    needs that store nothing (the reference tables). What it reads from stored models becomes
    a temp table of the scenario's stored rows in ``region`` (``mart_case_groups`` →
    ``case_groups``)."""
    g = graph()
    maker = g.maker()
    wanted = {m.name for m in g.select(["supervise"])}
    stored: dict[str, list[Model]] = {}  # stored model → the models reading it
    todo = list(wanted)
    while todo:
        reader = g[todo.pop()]
        for read in reader.reads:
            source = maker.get(read)
            if source is None or source.name in wanted:
                continue
            if source.stores:
                stored.setdefault(read, []).append(reader)
            else:
                wanted.add(source.name)
                todo.append(source.name)
    for read, readers in stored.items():
        # a table of the scenario's own rows (its plans then do not depend on how many rows
        # other scenarios keep in the stored table), of the columns its readers name
        columns = _columns_named(con, maker[read].stores, readers)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {read} AS SELECT {columns} FROM "
                    f"({rows_sql(con, maker[read].stores, scenario, region)})")
    return tuple(m for m in g.models if m.name in wanted)


_STAR = re.compile(r"SELECT\s+\*|\.\*|\*\s+(EXCLUDE|REPLACE)", re.IGNORECASE)


def _columns_named(con: duckdb.DuckDBPyConnection, table: str, readers: list[Model]) -> str:
    """The columns of ``table`` any of ``readers`` names (all of them when one selects ``*``
    or is no SQL model): what copying the table for them must keep."""
    columns = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall() if r[0] != "region"]
    named: set[str] = set()
    for reader in readers:
        text = reader.sql_text() if reader.sql else ""
        if not text or _STAR.search(text):
            return "*"
        named |= set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
    return ", ".join(c for c in columns if c in named) or "*"


def compute_supervision(con: duckdb.DuckDBPyConnection, scenario: str, values: dict[str, Any],
                        params: dict[str, Parameter], year: int, history: list[int],
                        progress: Progress = print, region: str = ""
                        ) -> tuple[Run, tuple[Model, ...]]:
    """Make every supervision and assessment table of a simulated ``scenario`` in ``region``
    (temp tables: the ``supervise`` stage of the graph, on the scenario's stored grouping
    there; the caller scopes the input tables to the region)."""
    set_run_params(con, params, values, run_facts(scenario, year, history))
    models = _supervision_models(con, scenario, region)
    run = Run(scenario, year, history, values, mode="supervise", region=region)
    run_models(con, run, models, progress)
    return run, models


def supervise(con: duckdb.DuckDBPyConnection, scenario: str, values: dict[str, Any],
              params: dict[str, Parameter], progress: Progress = print, region: str = ""
              ) -> dict[str, int]:
    """Compute supervision for a simulated ``scenario`` in pooling ``region`` (the input tables
    scoped to it: :func:`dip_sim.pipeline.regions.in_each_region`) and store it; counts of
    what it found.

    One transaction, or part of the caller's (several scenarios stored together).
    """
    recorded = con.execute("SELECT arg_max(year, run_at), arg_max(history_years, run_at) FROM runs "
                           "WHERE scenario = ? AND region = ?", [scenario, region]).fetchall()[0]
    known = con.execute("SELECT count(*) FROM case_groups WHERE scenario = ? AND region = ?",
                        [scenario, region]).fetchall()[0][0]
    if not known or recorded[0] is None:
        raise SupervisionError(f"情景 {scenario} 没有分组结果：请先运行 dip-sim simulate")
    history = [int(y) for y in recorded[1].split(",") if y]
    with transaction(con):
        for ddl in SUPERVISION_DDL.values():
            con.execute(ddl)
        run, models = compute_supervision(con, scenario, values, params, recorded[0], history,
                                          progress, region)
        store(con, run, models)
        counts = dict(con.execute("SELECT index_code, count(*) FROM mart_supervision_cases "
                                  "GROUP BY ALL ORDER BY ALL").fetchall())
        counts["anomalies"] = con.execute("SELECT count(*) FROM mart_supervision_anomalies "
                                          "WHERE flagged").fetchall()[0][0]
        drop_run_tables(con, models)
        inputs = {r for m in models for r in m.reads} - {t for m in models for t in m.outputs}
        for name in inputs - set(SCOPED):  # the scenario's stored rows (not the region's inputs)
            con.execute(f"DROP TABLE IF EXISTS temp.main.{name}")
        failures = run_data_tests(con, [scenario], [m.stores for m in models if m.stores])
        if failures:
            raise SupervisionError("数据检验未通过，本次结果未保存：\n  " + "\n  ".join(failures))
    return counts
