"""Running the simulation stages for a scenario: catalog and grouping → budget → score → settle.

Each stage is a SQL file next to its package (``grouping/related.sql``,
``grouping/catalog.sql`` …) reading the warehouse and the run's parameter tables
(``run_params``, ``run_history``, ``run_levels``) and writing temp tables; the results of a
scenario then replace its earlier results in the output tables. A run writes in one
transaction, all its scenarios together: interrupted or failed, it leaves the warehouse as it
was. A scenario is parameters, never a code path: the baseline and every scenario run the
same SQL.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import time
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any

import duckdb

from dip_sim.catalog.adjustments import AdjustmentSet, load_adjustments, set_adjustment_tables
from dip_sim.catalog.special import set_special_tables
from dip_sim.meta import get_meta
from dip_sim.policy import PolicyError, Scenario, resolve
from dip_sim.policy.parameters import Parameter
from dip_sim.policy.scenarios import params_fingerprint
from dip_sim.reference.auxiliary import load_auxiliary_reference
from dip_sim.schema import OUTPUT_COLUMNS_ADDED, OUTPUT_DDL, SCENARIO_TABLES
from dip_sim.settle.lists import set_settlement_tables, set_special_review_tables
from dip_sim.supervise.run import compute_supervision, persist_supervision
from dip_sim.transaction import transaction

Progress = Callable[[str], None]

# (package, file, what it does) in run order
STAGES: tuple[tuple[str, str, str], ...] = (
    ("dip_sim.catalog", "adjust_keys.sql", "专家调整：手术操作改按保守治疗"),
    ("dip_sim.catalog", "case_procs.sql", "病例手术操作"),
    ("dip_sim.catalog", "related.sql", "相关手术操作"),
    ("dip_sim.catalog", "catalog.sql", "病种目录、分值与病例入组"),
    ("dip_sim.catalog", "auxiliary.sql", "辅助分型"),
    ("dip_sim.catalog", "special.sql", "基层病种与中医优势病种"),
    ("dip_sim.catalog", "coefficients.sql", "医院系数"),
    ("dip_sim.budget", "pv_refine.sql", "预算点值的测算调整"),
    ("dip_sim.budget", "budget.sql", "总额预算与预算点值"),
    ("dip_sim.budget", "pools.sql", "职工与居民基金分池"),
    ("dip_sim.score", "new_technology.sql", "新技术病例"),
    ("dip_sim.score", "score.sql", "病例分值与费用偏差"),
    ("dip_sim.score", "special_cases.sql", "特例单议与未入组病例"),
    ("dip_sim.settle", "settle.sql", "结算点值、月度预付与年终结算额"),
    ("dip_sim.settle", "sharing.sql", "结余留用与超支分担"),
    ("dip_sim.settle", "clearing.sql", "年度清算"),
    ("dip_sim.metrics", "metrics.sql", "分组质量指标"),
)

# output table ← the temp table holding a scenario's new rows
MARTS: dict[str, str] = {
    "catalog_groups": "mart_catalog_groups",
    "catalog_adjustments": "mart_catalog_adjustments",
    "catalog_subtypes": "mart_catalog_subtypes",
    "level_coefficients": "mart_level_coefficients",
    "special_cases": "mart_special_cases",
    "point_values_by_insurance": "mart_pool_point_values",
    "point_value_years": "mart_point_value_years",
    "catalog_group_years": "mart_catalog_group_years",
    "catalog_summary": "mart_catalog_summary",
    "hospital_indices": "mart_hospital_indices",
    "case_groups": "mart_case_groups",
    "case_scores": "mart_case_scores",
    "point_values": "mart_point_values",
    "hospital_settlement": "mart_hospital_settlement",
    "hospital_monthly": "mart_hospital_monthly",
}


class SimulationError(RuntimeError):
    """The warehouse cannot support the requested run; the message says what is missing."""


def stage_sql(package: str, name: str) -> str:
    """The text of a stage's SQL file."""
    return resources.files(package).joinpath(name).read_text(encoding="utf-8")


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


def _set_run_tables(con: duckdb.DuckDBPyConnection, scenario: str, year: int,
                    history: Sequence[int], values: dict[str, Any], catalog_version: str
                    ) -> None:
    weights = values["catalog.history_weights"]
    if len(weights) != len(history):
        raise PolicyError(
            f"参数 catalog.history_weights 有 {len(weights)} 个权重，历史年度有 {len(history)} 个"
            f"（{', '.join(map(str, history))}）")
    if values["budget.method"] == "fixed" and values["budget.fixed_fund_yuan"] is None:
        raise PolicyError("参数 budget.method = fixed 时必须给出 budget.fixed_fund_yuan")
    if values["budget.method"] in ("items", "proportion") \
            and values["budget.inpatient_fund_yuan"] is None:
        raise PolicyError(f"参数 budget.method = {values['budget.method']} 时必须给出 "
                          "budget.inpatient_fund_yuan（当年住院统筹基金）")
    if values["budget.split_by_insurance"] and values["point_value.mode"] == "elastic":
        raise PolicyError("参数 budget.split_by_insurance 暂不能与 point_value.mode = elastic 同用"
                          "（弹性点值的基础分值按医院而非险种计）")
    if values["settlement.assessment_source"] == "scheme" and values["settlement.assessment_file"]:
        raise PolicyError("参数 settlement.assessment_source = scheme 时考核结果由考核方案计算，"
                          "不能同时给出 settlement.assessment_file")
    if not values["point_value.trim_low"] < values["point_value.trim_high"]:
        raise PolicyError("参数 point_value.trim_low 应小于 point_value.trim_high")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE run_params AS
        SELECT ?::VARCHAR AS scenario, ?::INTEGER AS sim_year,
               ?::INTEGER AS core_min_cases, ?::VARCHAR AS procedure_key,
               ?::DOUBLE AS points_scale, ?::DOUBLE AS low_ratio, ?::DOUBLE AS high_ratio,
               ?::DOUBLE AS extreme_ratio, ?::VARCHAR AS budget_method,
               ?::DOUBLE AS growth_rate, ?::DOUBLE AS fixed_fund_yuan,
               ?::DOUBLE AS reserve_rate, ?::DOUBLE AS withhold_rate,
               ?::VARCHAR AS core_threshold_method, ?::DOUBLE AS core_coverage,
               ?::DOUBLE AS related_cost_share, ?::VARCHAR AS catalog_version,
               ?::VARCHAR AS adjustments_file, ?::BOOLEAN AS aux_enabled,
               ?::INTEGER AS aux_min_group_cases, ?::INTEGER AS aux_min_subtype_cases,
               ?::DOUBLE AS aux_min_cv_reduction, ?::VARCHAR AS aux_severity_source,
               ?::INTEGER AS aux_severity_min_los_days, ?::VARCHAR AS primary_method,
               ?::DOUBLE AS primary_max_cv, ?::DOUBLE AS primary_min_low_level_share,
               ?::INTEGER AS primary_min_cases, ?::DOUBLE AS tcm_points_factor,
               ?::DOUBLE AS inpatient_fund_yuan, ?::DOUBLE AS out_of_area_yuan,
               ?::DOUBLE AS non_dip_yuan, ?::VARCHAR AS pv_mode,
               ?::DOUBLE AS elastic_base_share, ?::DOUBLE AS elastic_floor,
               ?::DOUBLE AS elastic_cap, ?::VARCHAR AS pv_refinement,
               ?::VARCHAR AS prepay_basis, ?::DOUBLE AS advance_months,
               ?::BOOLEAN AS sharing_enabled, ?::DOUBLE AS surplus_retain_share,
               ?::DOUBLE AS surplus_floor, ?::DOUBLE AS overspend_share,
               ?::DOUBLE AS overspend_cap, ?::VARCHAR AS coefficient_method,
               ?::INTEGER AS per_group_min_cases, ?::VARCHAR AS outlier_reference,
               ?::BOOLEAN AS split_by_insurance,
               ?::DOUBLE AS special_los_multiple, ?::INTEGER AS special_icu_days_min,
               ?::DOUBLE AS special_cap_per_mille, ?::VARCHAR AS ungrouped_mode,
               ?::DOUBLE AS ungrouped_points_factor""",
        [scenario, year, values["catalog.core_min_cases"], values["catalog.procedure_key"],
         values["points.scale"], values["outliers.low_ratio"], values["outliers.high_ratio"],
         values["outliers.extreme_ratio"], values["budget.method"], values["budget.growth_rate"],
         values["budget.fixed_fund_yuan"], values["budget.reserve_rate"],
         values["settlement.withhold_rate"], values["catalog.core_threshold_method"],
         values["catalog.core_coverage"], values["catalog.related_cost_share"],
         catalog_version, values["catalog.adjustments_file"], values["auxiliary.enabled"],
         values["auxiliary.min_group_cases"], values["auxiliary.min_subtype_cases"],
         values["auxiliary.min_cv_reduction"], values["auxiliary.severity_source"],
         values["auxiliary.severity_min_los_days"], values["special.primary_method"],
         values["special.primary_max_cv"], values["special.primary_min_low_level_share"],
         values["special.primary_min_cases"], values["special.tcm_points_factor"],
         values["budget.inpatient_fund_yuan"], values["budget.out_of_area_yuan"],
         values["budget.non_dip_yuan"], values["point_value.mode"],
         values["point_value.elastic_base_share"], values["point_value.elastic_floor"],
         values["point_value.elastic_cap"], values["point_value.budget_refinement"],
         values["settlement.prepay_basis"], values["settlement.advance_months"],
         values["sharing.enabled"], values["sharing.surplus_retain_share"],
         values["sharing.surplus_floor"], values["sharing.overspend_share"],
         values["sharing.overspend_cap"], values["coefficients.method"],
         values["coefficients.per_group_min_cases"], values["outliers.reference"],
         values["budget.split_by_insurance"],
         values["special_review.los_multiple"], values["special_review.icu_days_min"],
         values["special_review.cap_per_mille"], values["special_review.ungrouped_mode"],
         values["special_review.ungrouped_points_factor"]])
    # a quantile's fraction must be a constant in SQL: pv_refine.sql reads these variables
    con.execute("SET VARIABLE trim_low = ?", [values["point_value.trim_low"]])
    con.execute("SET VARIABLE trim_high = ?", [values["point_value.trim_high"]])
    con.execute("CREATE OR REPLACE TEMP TABLE run_history (year INTEGER, weight DOUBLE)")
    con.executemany("INSERT INTO run_history VALUES (?, ?)",
                    [[y, w] for y, w in zip(sorted(history), weights, strict=True)])
    con.execute("CREATE OR REPLACE TEMP TABLE run_levels (level INTEGER, coefficient DOUBLE)")
    con.executemany("INSERT INTO run_levels VALUES (?, ?)",
                    [[lv, c] for lv, c in sorted(values["coefficients.hospital_level"].items())])


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


def _set_aux_dimensions(con: duckdb.DuckDBPyConnection, values: dict[str, Any],
                        adjustments: AdjustmentSet) -> None:
    """``run_aux_dimensions`` (dimension, priority): the enabled dimensions in their order, and
    the dimensions the panel's splits name (priority NULL when not enabled)."""
    enabled = values["auxiliary.dimensions"] if values["auxiliary.enabled"] else []
    rows = [[d, i] for i, d in enumerate(enabled, start=1)]
    rows += [[d, None] for d in dict.fromkeys(a.fields["by"] for a in adjustments.items
                                              if a.action == "split") if d not in enabled]
    con.execute("CREATE OR REPLACE TEMP TABLE run_aux_dimensions "
                "(dimension VARCHAR, priority INTEGER)")
    if rows:
        con.executemany("INSERT INTO run_aux_dimensions VALUES (?, ?)", rows)


def _skipped_stages(values: dict[str, Any], adjustments: AdjustmentSet) -> dict[str, str]:
    """Stages this run does not need, each with the DDL of the empty table it would write."""
    skip = {}
    if not any(a.action == "conservative_procedure" for a in adjustments.items):
        skip["adjust_keys.sql"] = (
            "CREATE OR REPLACE TEMP TABLE int_adjusted_lists (proc_key_all VARCHAR, "
            "proc_key_main VARCHAR, new_proc_key_all VARCHAR, new_proc_key_main VARCHAR, "
            "new_proc_class_max VARCHAR, adjustment_ids VARCHAR)")
    if not values["auxiliary.enabled"] and not any(a.action == "split"
                                                   for a in adjustments.items):
        skip["auxiliary.sql"] = (
            "CREATE OR REPLACE TEMP TABLE int_case_aux (case_id VARCHAR, aux_type VARCHAR, "
            "aux_coefficient DOUBLE); CREATE OR REPLACE TEMP TABLE mart_catalog_subtypes AS "
            "SELECT * FROM catalog_subtypes LIMIT 0")
    if not values["budget.split_by_insurance"]:
        skip["pools.sql"] = ("CREATE OR REPLACE TEMP TABLE int_budget_pools AS SELECT 'all' AS pool,"
                             " dip_fund_yuan, reserve_yuan, fund_ratio FROM int_budget")
    if not values["special_review.new_technology_file"]:
        skip["new_technology.sql"] = ("CREATE OR REPLACE TEMP TABLE int_new_technology_cases "
                                      "(case_id VARCHAR, codes VARCHAR)")
    if values["point_value.budget_refinement"] == "none":
        skip["pv_refine.sql"] = "CREATE OR REPLACE TEMP TABLE int_pv_refined (pv DOUBLE)"
    if values["catalog.procedure_key"] != "main_plus_related":
        # only the 2.0 key needs related procedures
        skip["related.sql"] = ("CREATE OR REPLACE TEMP TABLE int_combo_keys (dx5 VARCHAR, "
                               "proc_key_main VARCHAR, proc_key_all VARCHAR, proc_key VARCHAR)")
    return skip


def _drop_run_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the temp tables and views a run made (int_*, mart_*, aux_*, the run's own run_*)."""
    prefixes = ("int_", "mart_", "aux_", "run_", "sv_")
    for kind, function in (("VIEW", "duckdb_views"), ("TABLE", "duckdb_tables")):
        names = [r[0] for r in con.execute(
            f"SELECT {'view_name' if kind == 'VIEW' else 'table_name'} FROM {function}() "
            "WHERE temporary").fetchall()]
        for name in names:
            if name.startswith(prefixes) and name not in ("run_params", "run_history",
                                                          "run_levels"):
                con.execute(f"DROP {kind} IF EXISTS {name}")


def _assess(con: duckdb.DuckDBPyConnection, scenario: str, values: dict[str, Any], year: int,
            progress: Progress) -> None:
    """The assessment coefficients of the simulation year from the 绩效考核 scheme.

    Supervision runs on this run's grouping (every year, for the indices' history), and the
    year's scores replace the assessment file's rows (``run_assessment``) that settle.sql uses
    (医保发〔2025〕18号: 考核结果与年度清算挂钩). A hospital without a score keeps 1 and a full
    release.
    """
    compute_supervision(con, scenario, values, from_run=True, progress=progress)
    con.execute("""CREATE OR REPLACE TEMP TABLE run_assessment AS
                   SELECT hospital_id, coefficient, withhold_release FROM mart_assessment
                   WHERE year = ?""", [year])


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
    _check_inputs(con, year, history)
    if persist:
        for ddl in OUTPUT_DDL.values():
            con.execute(ddl)
        for table, columns in OUTPUT_COLUMNS_ADDED.items():
            for column in columns:  # warehouses made before the column existed
                con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column}")
    adjustments = load_adjustments(values["catalog.adjustments_file"])
    _set_run_tables(con, scenario.name, year, history, values,
                    catalog_version(con, values, adjustments))
    set_adjustment_tables(con, adjustments)
    set_special_review_tables(con, values["special_review.new_technology_file"],
                              values["special_review.decisions_file"])
    set_settlement_tables(con, values["settlement.assessment_file"],
                          values["settlement.deductions_file"], values["coefficients.bonus_file"])
    set_special_tables(con, values["special.primary_list_file"]
                       if values["special.primary_method"] == "list" else None,
                       values["special.tcm_list_file"])
    _set_aux_dimensions(con, values, adjustments)
    skip = _skipped_stages(values, adjustments)
    scheme = values["settlement.assessment_source"] == "scheme"
    if "auxiliary.sql" not in skip:
        load_auxiliary_reference(con)
    for package, name, label in STAGES:
        started = time.perf_counter()
        if name in skip:
            con.execute(skip[name])  # the stage's table, empty: later stages read it
            continue
        if name == "settle.sql" and scheme:
            _assess(con, scenario.name, values, year, progress)
        con.execute(stage_sql(package, name))
        progress(f"  [{scenario.name}] {label} ({time.perf_counter() - started:.1f} 秒)")
    budget = con.execute("SELECT pv_budget_yuan, dip_fund_yuan, fund_ratio, "
                         "n_cases_prev_year FROM int_budget").fetchall()[0]
    if budget[0] is None or budget[2] is None or budget[2] <= 0:
        raise SimulationError(f"情景 {scenario.name}: 无法计算预算点值或医保支付比例 {budget}")
    if values["budget.method"] == "growth" and not budget[3]:
        raise SimulationError(f"情景 {scenario.name}: 上一年度 {year - 1} 没有入组病例，"
                              "无法按增长率法测算 DIP 基金")
    params_json, params_sha = params_fingerprint(values)
    if not persist:
        row = con.execute("SELECT * FROM mart_point_values").fetchdf().iloc[0].to_dict()
        row.update({mart: con.execute(f"SELECT * FROM {mart}").df() for mart in keep})
        _drop_run_tables(con)
        return row
    for table in SCENARIO_TABLES:
        con.execute(f"DELETE FROM {table} WHERE scenario = ?", [scenario.name])
    for table, mart in MARTS.items():
        # the output table's columns only: a mart may carry more for later stages
        columns = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
        con.execute(f"INSERT INTO {table} BY NAME SELECT {', '.join(columns)} FROM {mart}")
    if scheme:  # the supervision behind the assessment is the scenario's too
        persist_supervision(con, scenario.name)
    con.execute("""
        INSERT INTO runs
        SELECT ?, ?, ?, ?, ?, ?, ?,
               (SELECT count(*) FROM case_status WHERE year = ?),
               (SELECT count(*) FROM mart_case_scores)""",
        [scenario.name, scenario.description, year, ",".join(map(str, history)),
         dt.datetime.now(), params_json, params_sha, year])
    row = con.execute("SELECT * FROM mart_point_values").fetchdf().iloc[0].to_dict()
    _drop_run_tables(con)
    return row


def simulate(con: duckdb.DuckDBPyConnection, year: int, history: Sequence[int] | None,
             scenarios: Sequence[Scenario], params: dict[str, Parameter],
             progress: Progress = print) -> list[dict[str, Any]]:
    """Run the baseline and each scenario for simulation year ``year``, in one transaction.

    Every scenario's results are committed together at the end: an interrupt or a failure in
    any scenario leaves all earlier results in the warehouse as they were.
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
    return results
