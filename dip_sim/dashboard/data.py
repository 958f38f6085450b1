"""The dashboard's reads from the warehouse: how (read-only, cached, scoped) and the reads of
scenarios, point values and hospitals. The catalogue's, data quality's and supervision's
reads live in ``catalog_data``, ``quality_data`` and ``supervision_data`` on the same helpers.

The warehouse is the DuckDB file named by ``$DIP_SIM_DB`` (default ``data/warehouse.duckdb``
under the project root). Each read opens the file read-only, runs one parameterised query,
fetches the result into pandas and closes the connection at once, so that a batch
``dip-sim simulate`` can take the write lock between two reruns of the page. Results are
cached with ``st.cache_data``; the cache key holds the path and the modification times of the
file and its WAL, so new simulation results show up on the next rerun.

All aggregation over the large tables (``case_scores``, ``case_status``) is done here in SQL
(``GROUP BY``), never by loading cases into pandas.

Hospital-user mode: when ``$DIP_SIM_HOSPITAL_ID`` is set, every query that returns rows per
hospital (or per case) carries ``WHERE hospital_id = ?`` with that id, so a hospital user
sees only its own hospital. Values always travel as query parameters, never in the SQL text.

Pooling regions (统筹区): in a warehouse of several regions, the reads of region-wide results
(point values, fund, the hospitals' settlement) carry ``region = ?`` for the region shown
(:func:`region_scope`): the one picked in the sidebar, or a hospital user's own;
:func:`region_comparison` sets the regions side by side for the bureau.
"""

from __future__ import annotations

import collections
import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from dip_sim.access import access_settings
from dip_sim.pipeline.regions import results_in_region
from dip_sim.reports import HOSPITAL_NAMES
from dip_sim.warehouse_version import WarehouseVersionError, check

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DB = PROJECT_ROOT / "data" / "warehouse.duckdb"
ENV_DB = "DIP_SIM_DB"
ENV_HOSPITAL = "DIP_SIM_HOSPITAL_ID"
REGION_KEY = "region"  # the session's pooling region (the sidebar's picker)
BASELINE = "baseline"
# the most case rows a hospital-page list shows (outlier, searched and not-grouped cases)
CASE_LIST_LIMIT = 500
CACHE_TTL_SECONDS = 300

NO_RESULTS_MESSAGE = "尚无模拟结果：请先运行 `make run` 或 `dip-sim simulate --year 2020`。"
OLD_RESULTS_MESSAGE = "模拟结果由较早版本写入，缺少新的列：请重新运行 `dip-sim simulate --year 2020`。"
LOCKED_MESSAGE = (
    "暂时无法读取数据仓库：可能正在运行模拟（`dip-sim simulate` 正在写入）。请稍后刷新页面。"
)

# The point-value metrics compared between two scenarios, in display order.
POINT_VALUE_METRICS: tuple[str, ...] = (
    "dip_fund_yuan",
    "fund_ratio",
    "total_points",
    "pv_budget_yuan",
    "pv_settlement_yuan",
    # what the hospitals are paid at year end (after assessment, sharing and deposits)
    "year_end_total_yuan",
)

# One row per hospital even if the hospitals table holds a hospital twice.
_HOSP_CTE = """hosp AS (
    SELECT hospital_id,
           any_value(hospital_name) AS hospital_name,
           any_value(level) AS level,
           any_value(county) AS county
    FROM hospitals
    GROUP BY hospital_id
)"""


class DataUnavailable(RuntimeError):
    """The warehouse, or a table a page needs, cannot be read; the message is for the user."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


def warehouse_path() -> Path:
    """The warehouse file: ``$DIP_SIM_DB`` if set, else ``data/warehouse.duckdb``."""
    env = os.environ.get(ENV_DB, "").strip()
    return Path(env).expanduser() if env else DEFAULT_DB


def hospital_scope() -> str | None:
    """The one hospital the reader may see, or None (all).

    A signed-in hospital user's own hospital (``dip_sim.dashboard.session``); else the
    deployment-wide ``$DIP_SIM_HOSPITAL_ID``, if set.
    """
    # outside a running page (a script, a test calling this module) there is no session
    record = st.session_state.get("user") if get_script_run_ctx() is not None else None
    if record and record.get("role") == "hospital":
        return record.get("hospital_id") or "?"  # a hospital user without one sees nothing
    value = os.environ.get(ENV_HOSPITAL, "").strip()
    return value or None


def _stamp(path: Path) -> tuple[int, int, int, int]:
    """Modification time and size of the file and its WAL: part of the cache key."""
    parts: list[int] = []
    for p in (path, path.with_name(path.name + ".wal")):
        try:
            st_ = p.stat()
            parts += [st_.st_mtime_ns, st_.st_size]
        except FileNotFoundError:
            parts += [0, 0]
    return tuple(parts)  # type: ignore[return-value]


@st.cache_data(ttl=CACHE_TTL_SECONDS, max_entries=512, show_spinner=False)
def _cached_query(
    path: str, stamp: tuple[int, ...], sql: str, params: tuple[Any, ...]
) -> pd.DataFrame:
    """Run one query on a read-only connection that is closed before returning."""
    del stamp  # only part of the cache key
    with _open_read_only(Path(path)) as con:
        return con.execute(sql, list(params)).df()


def _open_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the warehouse; closed when used as a context manager.

    No replacement scans: a missing table must be an error, not a Python variable of that name.
    A warehouse made by another schema version is refused with the message saying to rebuild it.
    """
    con = duckdb.connect(str(path), read_only=True, config={"python_enable_replacements": False})
    try:
        check(con, path)
    except WarehouseVersionError as exc:
        con.close()
        raise DataUnavailable(str(exc)) from exc
    return con


@contextlib.contextmanager
def _reading():
    """A read-only connection for reads that are not one cached query (downloads, comparisons),
    with the same messages as :func:`_query` when the warehouse is missing, busy or older."""
    path = warehouse_path()
    if not path.is_file():
        raise DataUnavailable(NO_RESULTS_MESSAGE, f"未找到数据仓库文件：{path}")
    try:
        con = _open_read_only(path)
    except (duckdb.IOException, duckdb.ConnectionException) as exc:
        raise DataUnavailable(LOCKED_MESSAGE, str(exc)) from exc
    try:
        yield con
    except duckdb.CatalogException as exc:
        raise DataUnavailable(NO_RESULTS_MESSAGE, str(exc)) from exc
    except duckdb.BinderException as exc:
        raise DataUnavailable(OLD_RESULTS_MESSAGE, str(exc)) from exc
    finally:
        con.close()


# The last result of each read, whatever the file's state since: shown while a batch run
# holds the warehouse (the app shows the last complete run, not an error and not a
# half-written result). A run writes a scenario's results in one transaction, so every result
# read before it began belongs to a complete run. Bounded: the least recently used go first.
_LAST_GOOD: collections.OrderedDict[tuple[str, str, tuple[Any, ...]], pd.DataFrame] = (
    collections.OrderedDict())
_LAST_GOOD_MAX = 256
STALE_KEY = "showing_last_results"


def showing_last_results() -> bool:
    """True when this page run showed a result of the last complete run because the warehouse
    was being written (the app then says so)."""
    return get_script_run_ctx() is not None and bool(st.session_state.get(STALE_KEY))


def _query(sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    """Run ``sql`` with ``params`` on the warehouse; raise DataUnavailable with a message.

    While another process writes the warehouse, the last result of the same read is returned
    instead (marked for the page: :func:`showing_last_results`); with none, the message.
    """
    path = warehouse_path()
    if not path.is_file():
        raise DataUnavailable(NO_RESULTS_MESSAGE, f"未找到数据仓库文件：{path}")
    key = (str(path), sql, tuple(params))
    try:
        result = _cached_query(str(path), _stamp(path), sql, tuple(params))
        _LAST_GOOD[key] = result
        _LAST_GOOD.move_to_end(key)
        while len(_LAST_GOOD) > _LAST_GOOD_MAX:
            _LAST_GOOD.popitem(last=False)
        return result
    except (duckdb.IOException, duckdb.ConnectionException) as exc:
        if key in _LAST_GOOD:
            if get_script_run_ctx() is not None:
                st.session_state[STALE_KEY] = True
            return _LAST_GOOD[key].copy()
        # another process (or, in tests, this one) holds the write lock
        raise DataUnavailable(LOCKED_MESSAGE, str(exc)) from exc
    except duckdb.CatalogException as exc:
        raise DataUnavailable(NO_RESULTS_MESSAGE, f"数据仓库 {path} 缺少结果表：{exc}") from exc
    except duckdb.BinderException as exc:
        # results written by an earlier version lack a newer column until simulate runs again
        raise DataUnavailable(OLD_RESULTS_MESSAGE, str(exc)) from exc


def _scope(column: str = "hospital_id") -> tuple[str, list[Any]]:
    """The hospital-user filter on ``column`` (a fixed identifier) and its parameter."""
    hospital_id = hospital_scope()
    if hospital_id is None:
        return "TRUE", []
    return f"{column} = ?", [hospital_id]


def all_regions() -> pd.DataFrame:
    """Every pooling region with results: region, region_name (by code)."""
    return _query("SELECT region, any_value(region_name) AS region_name FROM runs "
                  "GROUP BY region ORDER BY region")


def region_scope() -> str | None:
    """The pooling region the pages show, or None when the warehouse has one only (nothing
    to filter): a hospital user's own region; else the one picked in the sidebar
    (``REGION_KEY``), or the first."""
    every = [str(r) for r in all_regions()["region"]]
    if len(every) <= 1:
        return None
    hospital_id = hospital_scope()
    if hospital_id is not None:
        own = _query("SELECT any_value(trim(region)) AS region FROM hospitals "
                     "WHERE hospital_id = ?", [hospital_id])["region"]
        return str(own.iloc[0]) if len(own) and pd.notna(own.iloc[0]) else "?"
    chosen = st.session_state.get(REGION_KEY) if get_script_run_ctx() is not None else None
    return chosen if chosen in every else every[0]


def regions() -> pd.DataFrame:
    """The pooling regions the reader may see: every one, or a hospital user's own."""
    every = all_regions()
    if hospital_scope() is None or len(every) <= 1:
        return every
    return every[every["region"] == region_scope()]


def _region(column: str = "region") -> tuple[str, list[Any]]:
    """The filter on ``column`` (a fixed identifier) to the region shown, and its parameter;
    ``TRUE`` in a warehouse of one region."""
    region = region_scope()
    if region is None:
        return "TRUE", []
    return f"{column} = ?", [region]


def region_comparison(scenario: str) -> pd.DataFrame:
    """Every pooling region of ``scenario`` side by side (the bureau of a province): region,
    region_name, n_hospitals, n_cases, dip_fund_yuan, fund_ratio, total_points,
    pv_budget_yuan, pv_settlement_yuan, dip_amount_yuan, ffs_fund_paid_yuan, diff_yuan,
    diff_pct (DIP against fee-for-service)."""
    return _query(
        """
        WITH s AS (SELECT region, count(*) AS n_hospitals, CAST(sum(n_cases) AS BIGINT) AS n_cases,
                          sum(dip_amount_yuan) AS dip_amount_yuan,
                          sum(ffs_fund_paid_yuan) AS ffs_fund_paid_yuan
                   FROM hospital_settlement WHERE scenario = ? GROUP BY region),
        r AS (SELECT region, any_value(region_name) AS region_name FROM runs GROUP BY region)
        SELECT p.region, r.region_name, s.n_hospitals, s.n_cases, p.dip_fund_yuan,
               p.fund_ratio, p.total_points, p.pv_budget_yuan, p.pv_settlement_yuan,
               s.dip_amount_yuan, s.ffs_fund_paid_yuan,
               s.dip_amount_yuan - s.ffs_fund_paid_yuan AS diff_yuan,
               (s.dip_amount_yuan - s.ffs_fund_paid_yuan) / NULLIF(s.ffs_fund_paid_yuan, 0)
                   AS diff_pct
        FROM point_values p LEFT JOIN s USING (region) LEFT JOIN r USING (region)
        WHERE p.scenario = ?
        ORDER BY p.region
        """,
        [scenario, scenario],
    )


def _scope_in_region(column: str = "hospital_id") -> tuple[str, list[Any]]:
    """:func:`_scope` on ``column`` and, in a warehouse of several pooling regions, only the
    hospitals of the region shown (for the reads of inputs, which have no region column)."""
    where, params = _scope(column)
    shown = region_scope()
    if shown is None:
        return where, params
    return (f"{where} AND {column} IN (SELECT hospital_id FROM hospitals "
            "WHERE trim(region) = ?)", [*params, shown])


def _insurance(insurance_type: str | None, column: str = "case_id") -> tuple[str, list[Any]]:
    """The cases of one insurance type (险种, from ``case_features``) on ``column``; ``TRUE``
    (and no read of the case table) when ``insurance_type`` is None or empty."""
    if not insurance_type:
        return "TRUE", []
    return (f"{column} IN (SELECT case_id FROM case_features WHERE insurance_type = ?)",
            [insurance_type])


def _in_list(column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    """``column IN (?, ...)`` for a non-empty ``values``; ``TRUE`` when it is empty."""
    if not values:
        return "TRUE", []
    return f"{column} IN ({', '.join('?' for _ in values)})", list(values)


# --- scenarios and point values ------------------------------------------------------------


def scenarios() -> pd.DataFrame:
    """The simulated scenarios, baseline first.

    Columns: scenario, year, description, history_years, run_at, base (the scenario whose
    results it reuses for the stages its changes do not reach; None for a full run), stale
    (its base was simulated again since its run).
    """
    where, params = _region("p.region")
    return _query(
        f"""
        SELECT p.scenario, p.year, r.description, r.history_years, r.run_at, r.base,
               coalesce(r.stale, false) AS stale
        FROM point_values p
        LEFT JOIN (
            SELECT scenario, region, any_value(description) AS description,
                   any_value(history_years) AS history_years, max(run_at) AS run_at,
                   any_value(base) AS base, bool_or(stale) AS stale
            FROM runs GROUP BY scenario, region
        ) r ON r.scenario = p.scenario AND r.region IS NOT DISTINCT FROM p.region
        WHERE {where}
        ORDER BY p.scenario <> ?, p.scenario
        """,
        [*params, BASELINE],
    )


def last_run_at() -> pd.Timestamp | None:
    """When the last complete simulation run finished, or None before the first.

    ``dip-sim simulate`` writes a scenario's ``runs`` row (with ``run_at``) in the same
    transaction as its results, so a row there is a run that completed; the latest of them
    (among the scenarios that still have results) is when the warehouse's results last
    changed. Raises DataUnavailable like every read.
    """
    df = _query("SELECT max(run_at) AS run_at FROM runs "
                "WHERE scenario IN (SELECT scenario FROM point_values)")
    value = df["run_at"].iloc[0] if len(df) else None
    return None if value is None or pd.isna(value) else pd.Timestamp(value)


def point_values() -> pd.DataFrame:
    """The point values of every scenario (one row each), baseline first.

    Columns: scenario, year, dip_fund_yuan, fund_ratio, total_points, pv_budget_yuan,
    pv_settlement_yuan.
    """
    where, params = _region()
    return _query(
        f"""
        SELECT scenario, year, dip_fund_yuan, fund_ratio, total_points,
               pv_budget_yuan, pv_settlement_yuan
        FROM point_values WHERE {where}
        ORDER BY scenario <> ?, scenario
        """,
        [*params, BASELINE],
    )


def fund_year_end(scenario: str) -> pd.DataFrame:
    """The fund of ``scenario`` at year end (one row; region-wide figures).

    Columns: dip_fund_yuan, pv_budget_yuan, pv_settlement_yuan, year_end_total_yuan (Σ the
    hospitals' year-end amounts), and the 调剂金 (reserve): reserve_yuan (kept back from the
    fund by the budget), reserve_inflow_yuan (assessment reductions, deductions, unreleased
    deposits and clawed-back surpluses of the year), reserve_paid_yuan (paid out as overspend
    shares), reserve_left_yuan (what it holds at year end). The year-end and reserve columns
    are empty in results of an earlier version.
    """
    where, params = _region()
    return _query(
        f"""
        SELECT dip_fund_yuan, pv_budget_yuan, pv_settlement_yuan, year_end_total_yuan,
               reserve_yuan, reserve_inflow_yuan, reserve_paid_yuan, reserve_left_yuan
        FROM point_values WHERE scenario = ? AND {where}
        """,
        [scenario, *params],
    )


def fund_pools(scenario: str) -> pd.DataFrame:
    """The employee and resident fund pools of ``scenario`` when it split the fund by
    insurance (``budget.split_by_insurance``); no rows when it did not (one pool 'all').

    Columns: pool, dip_fund_yuan, reserve_yuan, fund_ratio, total_points, pv_settlement_yuan.
    """
    where, params = _region()
    return _query(
        f"""
        SELECT pool, dip_fund_yuan, reserve_yuan, fund_ratio, total_points, pv_settlement_yuan
        FROM point_values_by_insurance
        WHERE scenario = ? AND pool <> 'all' AND {where}
        ORDER BY pool
        """,
        [scenario, *params],
    )


def point_value_comparison(scenario: str, base: str = BASELINE) -> pd.DataFrame:
    """The point-value metrics of ``scenario`` beside those of ``base``.

    One row per metric of :data:`POINT_VALUE_METRICS`. Columns: metric, base_value,
    scenario_value, change, change_pct (change ÷ base value).
    """
    union = " UNION ALL ".join(
        f"SELECT {i} AS ord, '{col}' AS metric, b.{col} AS base_value, s.{col} AS scenario_value "
        "FROM b, s"
        for i, col in enumerate(POINT_VALUE_METRICS)
    )
    where, params = _region()
    return _query(
        f"""
        WITH b AS (SELECT * FROM point_values WHERE scenario = ? AND {where}),
             s AS (SELECT * FROM point_values WHERE scenario = ? AND {where}),
             u AS ({union})
        SELECT metric, base_value, scenario_value,
               scenario_value - base_value AS change,
               (scenario_value - base_value) / NULLIF(base_value, 0) AS change_pct
        FROM u ORDER BY ord
        """,
        [base, *params, scenario, *params],
    )


# --- hospitals and their settlement ----------------------------------------------------------


def hospitals() -> pd.DataFrame:
    """The hospitals the user may see (all of the region shown, or the own one in
    hospital-user mode).

    Columns: hospital_id, hospital_name, level, county.
    """
    where, params = _scope_in_region("hospital_id")
    return _query(
        f"""
        WITH {_HOSP_CTE}
        SELECT hospital_id, hospital_name, level, county
        FROM hosp WHERE {where}
        ORDER BY level DESC NULLS LAST, hospital_id
        """,
        params,
    )


def hospital_settlement(scenario: str, hospital_id: str | None = None) -> pd.DataFrame:
    """The year's settlement of each hospital in ``scenario`` (or of ``hospital_id`` only).

    Columns: hospital_id, hospital_name, level, county, n_cases, total_points,
    dip_amount_yuan, ffs_fund_paid_yuan, diff_yuan, diff_pct (diff ÷ FFS), prepaid_yuan,
    clearing_yuan. Sorted by diff_yuan, largest first.
    """
    where, params = _scope("s.hospital_id")
    one, one_params = ("s.hospital_id = ?", [hospital_id]) if hospital_id else ("TRUE", [])
    region, region_params = _region("s.region")
    return _query(
        f"""
        WITH {_HOSP_CTE}
        SELECT s.hospital_id, coalesce(h.hospital_name, s.hospital_id) AS hospital_name,
               h.level, h.county, s.n_cases, s.total_points, s.dip_amount_yuan,
               s.ffs_fund_paid_yuan, s.diff_yuan,
               s.diff_yuan / NULLIF(s.ffs_fund_paid_yuan, 0) AS diff_pct,
               s.prepaid_yuan, s.clearing_yuan
        FROM hospital_settlement s
        LEFT JOIN hosp h ON h.hospital_id = s.hospital_id
        WHERE s.scenario = ? AND {where} AND {one} AND {region}
        ORDER BY s.diff_yuan DESC NULLS LAST, s.hospital_id
        """,
        [scenario, *params, *one_params, *region_params],
    )


def settlement_totals(scenario: str) -> pd.DataFrame:
    """The sum of the hospital settlements of ``scenario`` (one row; own hospital if scoped,
    the region shown).

    Columns: n_hospitals, n_cases, total_points, dip_amount_yuan, ffs_fund_paid_yuan,
    diff_yuan, diff_pct, prepaid_yuan, clearing_yuan.
    """
    where, params = _scope("hospital_id")
    region, region_params = _region()
    return _query(
        f"""
        SELECT count(*) AS n_hospitals,
               CAST(sum(n_cases) AS BIGINT) AS n_cases,
               sum(total_points) AS total_points,
               sum(dip_amount_yuan) AS dip_amount_yuan,
               sum(ffs_fund_paid_yuan) AS ffs_fund_paid_yuan,
               sum(diff_yuan) AS diff_yuan,
               sum(diff_yuan) / NULLIF(sum(ffs_fund_paid_yuan), 0) AS diff_pct,
               sum(prepaid_yuan) AS prepaid_yuan,
               sum(clearing_yuan) AS clearing_yuan
        FROM hospital_settlement
        WHERE scenario = ? AND {where} AND {region}
        """,
        [scenario, *params, *region_params],
    )


def scenario_comparison(scenario: str, base: str = BASELINE) -> pd.DataFrame:
    """DIP amount of each hospital under ``base`` and under ``scenario``.

    Columns: hospital_id, hospital_name, level, dip_base_yuan, dip_scenario_yuan,
    change_yuan, change_pct (change ÷ base), points_base, points_scenario, and the year-end
    amounts (after assessment, deductions, sharing and the deposit) year_end_base_yuan,
    year_end_scenario_yuan, year_end_change_yuan. Sorted by change_yuan, largest first.
    """
    where, params = _scope("hospital_id")
    region, region_params = _region()
    params = [*params, *region_params]
    return _query(
        f"""
        WITH {_HOSP_CTE},
        b AS (SELECT hospital_id, dip_amount_yuan, total_points, year_end_amount_yuan
              FROM hospital_settlement WHERE scenario = ? AND {where} AND {region}),
        s AS (SELECT hospital_id, dip_amount_yuan, total_points, year_end_amount_yuan
              FROM hospital_settlement WHERE scenario = ? AND {where} AND {region}),
        j AS (
            SELECT coalesce(b.hospital_id, s.hospital_id) AS hospital_id,
                   b.dip_amount_yuan AS dip_base_yuan, s.dip_amount_yuan AS dip_scenario_yuan,
                   b.total_points AS points_base, s.total_points AS points_scenario,
                   b.year_end_amount_yuan AS year_end_base_yuan,
                   s.year_end_amount_yuan AS year_end_scenario_yuan
            FROM b FULL OUTER JOIN s ON b.hospital_id = s.hospital_id
        )
        SELECT j.hospital_id, coalesce(h.hospital_name, j.hospital_id) AS hospital_name,
               h.level, j.dip_base_yuan, j.dip_scenario_yuan,
               coalesce(j.dip_scenario_yuan, 0) - coalesce(j.dip_base_yuan, 0) AS change_yuan,
               (coalesce(j.dip_scenario_yuan, 0) - coalesce(j.dip_base_yuan, 0))
                   / NULLIF(j.dip_base_yuan, 0) AS change_pct,
               j.points_base, j.points_scenario, j.year_end_base_yuan,
               j.year_end_scenario_yuan,
               j.year_end_scenario_yuan - j.year_end_base_yuan AS year_end_change_yuan
        FROM j LEFT JOIN hosp h ON h.hospital_id = j.hospital_id
        ORDER BY change_yuan DESC, j.hospital_id
        """,
        [base, *params, scenario, *params],
    )


def hospital_groups(scenario: str, hospital_id: str,
                    insurance_type: str | None = None) -> pd.DataFrame:
    """The hospital's cases of the year in ``scenario`` aggregated per DIP group (those of
    ``insurance_type`` only, if given).

    Columns: group_code, group_type, n_cases, points, mean_cost_yuan, mean_cost_ratio,
    n_low, n_high, n_extreme, n_outliers, and DIP against fee-for-service per group:
    dip_amount_yuan (Σ the cases' shares of the hospital's DIP amount), ffs_fund_paid_yuan,
    diff_yuan, diff_pct. Sorted by points, largest first.
    """
    where, params = _scope("hospital_id")
    kind, kind_params = _insurance(insurance_type)
    return _query(
        f"""
        SELECT group_code, any_value(group_type) AS group_type,
               count(*) AS n_cases,
               sum(case_points) AS points,
               avg(total_cost_yuan) AS mean_cost_yuan,
               avg(cost_ratio) AS mean_cost_ratio,
               count(*) FILTER (WHERE outlier = 'low') AS n_low,
               count(*) FILTER (WHERE outlier = 'high') AS n_high,
               count(*) FILTER (WHERE outlier = 'extreme') AS n_extreme,
               count(*) FILTER (WHERE coalesce(outlier, 'none') <> 'none') AS n_outliers,
               sum(case_amount_yuan) AS dip_amount_yuan,
               sum(fund_paid_yuan) AS ffs_fund_paid_yuan,
               sum(case_amount_yuan) - sum(fund_paid_yuan) AS diff_yuan,
               (sum(case_amount_yuan) - sum(fund_paid_yuan)) / nullif(sum(fund_paid_yuan), 0)
                   AS diff_pct
        FROM case_scores
        WHERE scenario = ? AND hospital_id = ? AND {where} AND {kind}
        GROUP BY group_code
        ORDER BY points DESC NULLS LAST, group_code
        """,
        [scenario, hospital_id, *params, *kind_params],
    )


def hospital_outlier_cases(
    scenario: str, hospital_id: str, limit: int = CASE_LIST_LIMIT,
    insurance_type: str | None = None,
) -> pd.DataFrame:
    """The hospital's outlier cases (outlier ≠ none), highest cost ratio first, ``limit`` rows
    (of ``insurance_type`` only, if given).

    Columns: case_id, month, group_code, group_type, outlier, cost_ratio, total_cost_yuan,
    fund_paid_yuan, rw, level_coefficient, case_points.
    """
    where, params = _scope("hospital_id")
    kind, kind_params = _insurance(insurance_type)
    return _query(
        f"""
        SELECT case_id, month, group_code, group_type, outlier, cost_ratio,
               total_cost_yuan, fund_paid_yuan, rw, level_coefficient, case_points
        FROM case_scores
        WHERE scenario = ? AND hospital_id = ? AND coalesce(outlier, 'none') <> 'none'
              AND {where} AND {kind}
        ORDER BY cost_ratio DESC NULLS LAST, case_id
        LIMIT ?
        """,
        [scenario, hospital_id, *params, *kind_params, int(limit)],
    )


def hospital_cases(
    scenario: str, hospital_id: str, search: str = "", limit: int = CASE_LIST_LIMIT,
    insurance_type: str | None = None,
) -> pd.DataFrame:
    """The hospital's grouped cases, by case id; ``search`` matches case id or group code,
    ``insurance_type`` (if given) keeps the cases of that 险种.

    Columns: case_id, month, group_code, group_type, outlier, cost_ratio, total_cost_yuan,
    fund_paid_yuan, rw, level_coefficient, aux_type, aux_coefficient, case_points.
    """
    where, params = _scope("hospital_id")
    kind, kind_params = _insurance(insurance_type)
    pattern = f"%{search.strip()}%"
    return _query(
        f"""
        SELECT case_id, month, group_code, group_type, outlier, cost_ratio,
               total_cost_yuan, fund_paid_yuan, rw, level_coefficient, aux_type,
               aux_coefficient, case_points
        FROM case_scores
        WHERE scenario = ? AND hospital_id = ? AND {where}
              AND (case_id ILIKE ? OR group_code ILIKE ?) AND {kind}
        ORDER BY case_id
        LIMIT ?
        """,
        [scenario, hospital_id, *params, pattern, pattern, *kind_params, int(limit)],
    )


def hospital_insurance_types(scenario: str, hospital_id: str) -> list[str]:
    """The insurance types (险种) among the hospital's grouped cases in ``scenario`` (scoped)."""
    where, params = _scope("s.hospital_id")
    df = _query(
        f"""
        SELECT DISTINCT f.insurance_type
        FROM case_scores s JOIN case_features f USING (case_id)
        WHERE s.scenario = ? AND s.hospital_id = ? AND {where} AND f.insurance_type IS NOT NULL
        ORDER BY f.insurance_type
        """,
        [scenario, hospital_id, *params],
    )
    return [str(t) for t in df["insurance_type"]]


def hospital_not_grouped(
    scenario: str, hospital_id: str, limit: int = CASE_LIST_LIMIT
) -> pd.DataFrame:
    """The hospital's cases of the simulation year that were not grouped, with why.

    Columns: case_id, rule (the grouping verdict), status, reason (the quality findings).
    """
    where, params = _scope("g.hospital_id")
    return _query(
        f"""
        SELECT g.case_id, g.rule, s.status, s.reason
        FROM case_groups g LEFT JOIN case_status s USING (case_id)
        WHERE g.scenario = ? AND g.hospital_id = ? AND NOT g.grouped AND {where}
              AND g.year = (SELECT max(year) FROM point_values WHERE scenario = ?)
        ORDER BY g.case_id
        LIMIT ?
        """,
        [scenario, hospital_id, *params, scenario, int(limit)],
    )


def hospital_monthly(scenario: str, hospital_id: str) -> pd.DataFrame:
    """The hospital's months in ``scenario``.

    Columns: month, n_cases, points, prepaid_yuan, ffs_fund_paid_yuan. Sorted by month.
    """
    where, params = _scope("hospital_id")
    return _query(
        f"""
        SELECT month, n_cases, points, prepaid_yuan, ffs_fund_paid_yuan
        FROM hospital_monthly
        WHERE scenario = ? AND hospital_id = ? AND {where}
        ORDER BY month
        """,
        [scenario, hospital_id, *params],
    )


def hospital_indices(scenario: str, hospital_id: str | None = None) -> pd.DataFrame:
    """CMI and the cost and time consumption indices of each hospital (scoped to the user's),
    or of ``hospital_id`` only.

    Columns: hospital_id, hospital_name, level, n_cases, cmi (on the points scale: Σ group
    points ÷ cases), cost_index, time_index, n_primary_cases, n_tcm_cases, tcm_points
    (基层病种 and 中医优势病种, counted apart), region_cmi: the region's CMI, Σ group points ÷
    cases over every hospital's grouped cases, and cmi_relative = cmi ÷ region_cmi (1.00 = the
    region's average case; the consumption indices are 1 for the region by construction).
    The region's figures (region_cmi, cmi_relative) come from every hospital: a hospital user
    sees them only when at least ``access.suppression_min_hospitals`` other hospitals have
    grouped cases (else blank, ``suppressed`` true).
    """
    where, params = _scope("i.hospital_id")
    one, one_params = ("i.hospital_id = ?", [hospital_id]) if hospital_id else ("TRUE", [])
    own, floor = suppression_floor()
    in_region, region_params = _region()
    i_region, _ = _region("i.region")
    return _query(
        f"""
        WITH {_HOSP_CTE}, {LIMIT_CTE},
        region AS (SELECT sum(cmi * n_cases) / NULLIF(sum(n_cases), 0) AS region_cmi,
                          count(DISTINCT hospital_id)
                              FILTER (WHERE hospital_id IS DISTINCT FROM ?) AS n_other
                   FROM hospital_indices WHERE scenario = ? AND n_cases > 0 AND {in_region})
        SELECT i.hospital_id, h.hospital_name, h.level, i.n_cases, i.cmi, i.cost_index,
               i.time_index, i.n_primary_cases, i.n_tcm_cases, i.tcm_points,
               {guarded_columns(["region.region_cmi",
                                 ("i.cmi / NULLIF(region.region_cmi, 0)", "cmi_relative")],
                                "region.n_other")}
        FROM hospital_indices i LEFT JOIN hosp h USING (hospital_id) CROSS JOIN region
        CROSS JOIN lim
        WHERE i.scenario = ? AND {where} AND {one} AND {i_region}
        ORDER BY i.cmi DESC
        """,
        [floor, own, scenario, *region_params, scenario, *params, *one_params, *region_params],
    )


def hospital_statement_xlsx(scenario: str, hospital_id: str) -> bytes:
    """The hospital's Excel settlement statement (``dip-sim report --hospital``), as bytes.

    A hospital user gets only its own: any other hospital is refused here, in the data layer.
    """
    import io

    from dip_sim.reports.statements import HOSPITAL_SOURCES, hospital_statement
    from dip_sim.workbook import write_workbook

    scope = hospital_scope()
    if scope is not None and hospital_id != scope:
        raise DataUnavailable("只能下载本院的结算单。", f"{hospital_id} 不是 {scope}")
    with _reading() as con:
        tables = hospital_statement(con, scenario, hospital_id)
    buffer = io.BytesIO()
    write_workbook(tables, buffer, None, HOSPITAL_SOURCES)
    return buffer.getvalue()


def point_value_years(scenario: str) -> pd.DataFrame:
    """The point value over the years (region-wide): year, kind (history: cost per point;
    settlement: the settlement point value), value_per_point."""
    where, params = _region()
    return _query("SELECT year, kind, value_per_point FROM point_value_years "
                  f"WHERE scenario = ? AND {where} ORDER BY year", [scenario, *params])


def settlement_by(scenario: str, dimension: str) -> pd.DataFrame:
    """DIP against fee-for-service by hospital ``level`` or ``insurance_type`` (scoped to the
    user's hospital). Columns: the dimension, n_cases, dip_amount_yuan (the cases' shares of
    their hospitals' DIP amounts), ffs_fund_paid_yuan, diff_yuan, diff_pct."""
    if dimension not in ("level", "insurance_type"):
        raise ValueError(f"unknown dimension {dimension!r}")
    where, params = _scope("s.hospital_id")
    region, region_params = _region("s.region")
    return _query(
        f"""
        SELECT f.{dimension}, count(*) AS n_cases,
               sum(s.case_amount_yuan) AS dip_amount_yuan,
               sum(s.fund_paid_yuan) AS ffs_fund_paid_yuan,
               sum(s.case_amount_yuan) - sum(s.fund_paid_yuan) AS diff_yuan,
               (sum(s.case_amount_yuan) - sum(s.fund_paid_yuan))
               / NULLIF(sum(s.fund_paid_yuan), 0) AS diff_pct
        FROM case_scores s JOIN case_features f USING (case_id)
        WHERE s.scenario = ? AND {where} AND {region}
        GROUP BY f.{dimension} ORDER BY f.{dimension}
        """,
        [scenario, *params, *region_params],
    )


def hospital_year_end(scenario: str, hospital_id: str) -> pd.DataFrame:
    """The hospital's year-end settlement, step by step (scoped): one row of DIP amount,
    assessment coefficient, deductions, assessed amount, surplus kept, clawback, overspend
    share, deposit withheld and released, year-end amount, prepaid, advance, clearing."""
    where, params = _scope("hospital_id")
    return _query(
        f"""
        SELECT dip_amount_yuan, assessment_coefficient, deductions_yuan, assessed_amount_yuan,
               surplus_retained_yuan, clawback_yuan, overspend_shared_yuan, withheld_yuan,
               withhold_released_yuan, year_end_amount_yuan, prepaid_yuan, advance_yuan,
               clearing_yuan
        FROM hospital_settlement WHERE scenario = ? AND hospital_id = ? AND {where}
        """,
        [scenario, hospital_id, *params],
    )


def hospital_special_cases(scenario: str, hospital_id: str) -> pd.DataFrame:
    """The hospital's 特例单议 candidates and decided cases (scoped).

    Columns: case_id, group_code, reasons, decision, paid_as_special, points_ordinary,
    points_special, cap_note.
    """
    where, params = _scope("hospital_id")
    return _query(
        f"""
        SELECT case_id, group_code, reasons, decision, paid_as_special, points_ordinary,
               points_special, cap_note
        FROM special_cases WHERE scenario = ? AND hospital_id = ? AND {where}
        ORDER BY paid_as_special DESC, case_id LIMIT {CASE_LIST_LIMIT}
        """,
        [scenario, hospital_id, *params],
    )


def hospital_budget_indicator(scenario: str, hospital_id: str) -> pd.DataFrame:
    """The hospital's annual DIP budget indicator (医院年度支付预算指标) in ``scenario``, scoped
    to the user's hospital: one row, none when the scenario was simulated before the
    indicator existed (a warehouse without its table raises :class:`DataUnavailable`).

    Columns: method, basis, level, history_cases, trend_factor, base_yuan, share,
    dip_fund_yuan, indicator_yuan (as float).
    """
    where, params = _scope("hospital_id")
    return _query(
        f"""
        SELECT method, basis, level, history_cases, trend_factor, base_yuan, share,
               CAST(dip_fund_yuan AS DOUBLE) AS dip_fund_yuan,
               CAST(indicator_yuan AS DOUBLE) AS indicator_yuan
        FROM hospital_budget_indicators WHERE scenario = ? AND hospital_id = ? AND {where}
        """,
        [scenario, hospital_id, *params],
    )


def hospital_prepayment_progress(scenario: str, hospital_id: str) -> pd.DataFrame:
    """The hospital's monthly prepayments in ``scenario`` and their running totals (scoped).

    Columns: month, prepaid_yuan (net), gross_prepay_yuan (points × 预算点值 × R, before the
    deposit and deductions), cum_prepaid_yuan, cum_gross_yuan. Sorted by month.
    """
    where, params = _scope("hospital_id")
    return _query(
        f"""
        SELECT month, prepaid_yuan, gross_prepay_yuan, cum_prepaid_yuan,
               sum(gross_prepay_yuan) OVER (ORDER BY month) AS cum_gross_yuan
        FROM hospital_monthly
        WHERE scenario = ? AND hospital_id = ? AND {where}
        ORDER BY month
        """,
        [scenario, hospital_id, *params],
    )


# --- small-cell suppression ------------------------------------------------------------------
#
# A region-wide aggregate shown to a hospital user must have at least
# access.suppression_min_hospitals OTHER hospitals among its contributors (the threshold rule
# of statistical disclosure control): with fewer, the user could subtract its own figures and
# read another hospital's. Each read counts the distinct contributing hospitals other than the
# reader's per row in SQL (``n_other``) and blanks the row's figures below the floor (NULL,
# shown as "—"); ``suppressed`` says which rows were. Published catalogue fields (group code,
# name, points) are the payment standard and never blanked. Bureau and expert: floor 0.

SUPPRESSED_NOTE = ("“—”：参与该汇总的其他医院少于 {n} 家，为保护其他医院的数据不予显示"
                   "（小单元格抑制，参数 access.suppression_min_hospitals）。")


def suppression_floor() -> tuple[str | None, int]:
    """The reader's own hospital and the fewest other hospitals an aggregate it sees must
    have: ``(hospital, access.suppression_min_hospitals)`` for a hospital user, ``(None, 0)``
    (nothing suppressed) for bureau and expert."""
    own = hospital_scope()
    if own is None:
        return None, 0
    return own, int(access_settings().suppression_min_hospitals)


def suppressed_note() -> str:
    """The note under a table with suppressed figures."""
    return SUPPRESSED_NOTE.format(n=suppression_floor()[1])


def guarded_columns(columns: Sequence[str | tuple[str, str]], n_other: str = "n_other",
                    floor: str = "lim.min_others") -> str:
    """The select list that blanks ``columns`` (names, ``table.name`` or (expression, alias))
    where ``n_other`` (an expression) is below ``floor``, and the ``suppressed`` flag."""
    pairs = [c if isinstance(c, tuple) else (c, c.split(".")[-1]) for c in columns]
    shown = [f"CASE WHEN {n_other} >= {floor} THEN {expr} END AS {alias}"
             for expr, alias in pairs]
    return ", ".join([*shown, f"coalesce({n_other}, 0) < {floor} AS suppressed"])


LIMIT_CTE = "lim AS (SELECT CAST(? AS INTEGER) AS min_others)"


def projection_years(scenarios: Sequence[str]) -> pd.DataFrame:
    """The stored point-value projection of ``scenarios`` (region-wide): scenario, year,
    years_ahead, pv_settlement_yuan, pv_share, pv_budget_yuan, dip_fund_yuan, total_points,
    n_cases, below_risk_line; empty for none."""
    if not scenarios:
        return pd.DataFrame()
    where, params = _in_list("scenario", scenarios)
    in_region, region = _region()
    return _query(f"""
        SELECT scenario, year, years_ahead, pv_settlement_yuan, pv_share, pv_budget_yuan,
               dip_fund_yuan, total_points, n_cases, below_risk_line
        FROM projection_years WHERE {where} AND {in_region} ORDER BY scenario, year""",
                  [*params, *region])


def projection_hospitals(scenario: str) -> pd.DataFrame:
    """Each hospital's points and DIP amount in the simulation year and the last projected
    year of ``scenario``, its points growth and its share of the city's."""
    in_region, region = _region("h.region")
    return _query(f"""
        WITH last AS (SELECT max(year) AS year FROM projection_hospitals WHERE scenario = ?)
        SELECT h.hospital_id, n.hospital_name, n.level,
               b.points AS points_now, h.points AS points_last, h.points_change, h.growth_share,
               b.amount_yuan AS amount_now_yuan, h.amount_yuan AS amount_last_yuan
        FROM projection_hospitals h
        JOIN projection_hospitals b
          ON b.scenario = h.scenario AND b.region = h.region AND b.hospital_id = h.hospital_id
         AND b.years_ahead = 0
        LEFT JOIN {HOSPITAL_NAMES} n ON n.hospital_id = h.hospital_id
        WHERE h.scenario = ? AND h.year = (SELECT year FROM last) AND {in_region}
        ORDER BY h.points_change DESC, h.hospital_id""", [scenario, scenario, *region])


def projection_texts(scenarios: Sequence[str]) -> dict[str, str]:
    """Each scenario's risk line (:func:`dip_sim.reports.projection.risk_line`)."""
    from dip_sim.reports.projection import risk_line

    with _reading() as con, results_in_region(con, region_scope()):
        return {s: risk_line(con, s) for s in scenarios}


def projection_xlsx(scenarios: Sequence[str]) -> bytes:
    """The projection workbook of ``scenarios`` (``dip-sim project --out``), as bytes."""
    import io

    from dip_sim.reports.projection import LABELS, SOURCES, projection_tables
    from dip_sim.workbook import write_workbook

    with _reading() as con, results_in_region(con, region_scope()):
        tables = projection_tables(con, list(scenarios))
    buffer = io.BytesIO()
    write_workbook(tables, buffer, LABELS, SOURCES)
    return buffer.getvalue()


def projection_risk_shares(scenarios: Sequence[str]) -> dict[str, float]:
    """Each scenario's ``projection.risk_share`` as its run recorded it."""
    from dip_sim.reports.projection import risk_share

    with _reading() as con, results_in_region(con, region_scope()):
        return {s: risk_share(con, s) for s in scenarios}


@st.cache_data(ttl=CACHE_TTL_SECONDS, max_entries=64, show_spinner=False)
def _monitoring(path: str, stamp: tuple[int, ...], year: int, through_month: int | None,
                region: str | None) -> dict[str, pd.DataFrame]:
    from dip_sim.reports.monitoring import monitoring_tables

    del stamp  # only part of the cache key
    return monitoring_tables(Path(path), year, through_month, region)


def monitoring(year: int, through_month: int | None = None) -> dict[str, pd.DataFrame]:
    """The baseline's monitoring of ``year`` in the region shown (sheets 点值估计, 逐月, 医院,
    预警: :func:`dip_sim.reports.monitoring.monitoring_tables`): as simulate stored it, or
    through ``through_month`` computed now (read-only)."""
    path = warehouse_path()
    if not path.exists():
        raise DataUnavailable(NO_RESULTS_MESSAGE)
    try:
        return _monitoring(str(path), _stamp(path), year, through_month, region_scope())
    except (duckdb.Error, ValueError) as exc:
        raise DataUnavailable("运行监测暂不可用：" + str(exc).splitlines()[0], str(exc)) from exc
