"""Every read the dashboard makes from the warehouse.

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
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DB = PROJECT_ROOT / "data" / "warehouse.duckdb"
ENV_DB = "DIP_SIM_DB"
ENV_HOSPITAL = "DIP_SIM_HOSPITAL_ID"
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
    """
    return duckdb.connect(str(path), read_only=True, config={"python_enable_replacements": False})


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
# holds the warehouse (issue 6 §3: the app shows the last complete run, not an error and not a
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

    Columns: scenario, year, description, history_years, run_at.
    """
    return _query(
        """
        SELECT p.scenario, p.year, r.description, r.history_years, r.run_at
        FROM point_values p
        LEFT JOIN (
            SELECT scenario, any_value(description) AS description,
                   any_value(history_years) AS history_years, max(run_at) AS run_at
            FROM runs GROUP BY scenario
        ) r USING (scenario)
        ORDER BY p.scenario <> ?, p.scenario
        """,
        [BASELINE],
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
    return _query(
        """
        SELECT scenario, year, dip_fund_yuan, fund_ratio, total_points,
               pv_budget_yuan, pv_settlement_yuan
        FROM point_values
        ORDER BY scenario <> ?, scenario
        """,
        [BASELINE],
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
    return _query(
        """
        SELECT dip_fund_yuan, pv_budget_yuan, pv_settlement_yuan, year_end_total_yuan,
               reserve_yuan, reserve_inflow_yuan, reserve_paid_yuan, reserve_left_yuan
        FROM point_values WHERE scenario = ?
        """,
        [scenario],
    )


def fund_pools(scenario: str) -> pd.DataFrame:
    """The employee and resident fund pools of ``scenario`` when it split the fund by
    insurance (``budget.split_by_insurance``); no rows when it did not (one pool 'all').

    Columns: pool, dip_fund_yuan, reserve_yuan, fund_ratio, total_points, pv_settlement_yuan.
    """
    return _query(
        """
        SELECT pool, dip_fund_yuan, reserve_yuan, fund_ratio, total_points, pv_settlement_yuan
        FROM point_values_by_insurance
        WHERE scenario = ? AND pool <> 'all'
        ORDER BY pool
        """,
        [scenario],
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
    return _query(
        f"""
        WITH b AS (SELECT * FROM point_values WHERE scenario = ?),
             s AS (SELECT * FROM point_values WHERE scenario = ?),
             u AS ({union})
        SELECT metric, base_value, scenario_value,
               scenario_value - base_value AS change,
               (scenario_value - base_value) / NULLIF(base_value, 0) AS change_pct
        FROM u ORDER BY ord
        """,
        [base, scenario],
    )


# --- hospitals and their settlement ----------------------------------------------------------


def hospitals() -> pd.DataFrame:
    """The hospitals the user may see (all, or the own one in hospital-user mode).

    Columns: hospital_id, hospital_name, level, county.
    """
    where, params = _scope("hospital_id")
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
        WHERE s.scenario = ? AND {where} AND {one}
        ORDER BY s.diff_yuan DESC NULLS LAST, s.hospital_id
        """,
        [scenario, *params, *one_params],
    )


def settlement_totals(scenario: str) -> pd.DataFrame:
    """The sum of the hospital settlements of ``scenario`` (one row; own hospital if scoped).

    Columns: n_hospitals, n_cases, total_points, dip_amount_yuan, ffs_fund_paid_yuan,
    diff_yuan, diff_pct, prepaid_yuan, clearing_yuan.
    """
    where, params = _scope("hospital_id")
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
        WHERE scenario = ? AND {where}
        """,
        [scenario, *params],
    )


def scenario_comparison(scenario: str, base: str = BASELINE) -> pd.DataFrame:
    """DIP amount of each hospital under ``base`` and under ``scenario``.

    Columns: hospital_id, hospital_name, level, dip_base_yuan, dip_scenario_yuan,
    change_yuan, change_pct (change ÷ base), points_base, points_scenario, and the year-end
    amounts (after assessment, deductions, sharing and the deposit) year_end_base_yuan,
    year_end_scenario_yuan, year_end_change_yuan. Sorted by change_yuan, largest first.
    """
    where, params = _scope("hospital_id")
    return _query(
        f"""
        WITH {_HOSP_CTE},
        b AS (SELECT hospital_id, dip_amount_yuan, total_points, year_end_amount_yuan
              FROM hospital_settlement WHERE scenario = ? AND {where}),
        s AS (SELECT hospital_id, dip_amount_yuan, total_points, year_end_amount_yuan
              FROM hospital_settlement WHERE scenario = ? AND {where}),
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


# --- catalog ---------------------------------------------------------------------------------


def catalog(
    scenario: str,
    group_types: Sequence[str] = (),
    proc_classes: Sequence[str] = (),
    code_contains: str = "",
) -> pd.DataFrame:
    """The DIP groups of ``scenario``'s catalog, filtered (an empty filter keeps all).

    ``code_contains`` matches part of the group code or of the diagnosis's Chinese name,
    ignoring case. Columns: group_code, dx_name (the name of the first 医保版 code under the
    group's diagnosis; empty without the code tables), group_type, dx_key, proc_key,
    proc_class, n_cases, the cost median, P5 and P95, mean LOS, outlier share, hospital-level
    shares, mean_cost_yuan, cv, rw. Core groups first, then by number of cases.
    """
    type_where, type_params = _in_list("group_type", group_types)
    class_where, class_params = _in_list("proc_class", proc_classes)
    text = code_contains.strip()
    text_where, text_params = (
        ("(strpos(lower(group_code), lower(?)) > 0 OR strpos(coalesce(dx_name, ''), ?) > 0)",
         [text, text]) if text else ("TRUE", [])
    )

    def select(names: str) -> pd.DataFrame:
        return _query(
            f"""
            WITH {names},
            g AS (
                SELECT c.*, coalesce(n5.name, n3.name) AS dx_name
                FROM catalog_groups c
                LEFT JOIN names n5 ON n5.k = c.dx_key AND length(c.dx_key) = 5
                LEFT JOIN names n3 ON n3.k = c.dx_key AND length(c.dx_key) = 3
                WHERE c.scenario = ?
            )
            SELECT group_code, dx_name, group_type, dx_key, proc_key, proc_class, n_cases,
                   median_cost_yuan, p5_cost_yuan, p95_cost_yuan, mean_los_days,
                   outlier_share, share_level3, share_level2, share_level1,
                   mean_cost_yuan, cv, rw
            FROM g
            WHERE {type_where} AND {class_where} AND {text_where}
            ORDER BY group_type <> 'core', n_cases DESC, group_code
            """,
            [scenario, *type_params, *class_params, *text_params],
        )

    try:  # the diagnosis's name from the code list the ingest loaded (ref_dx)
        return select("names AS (SELECT substr(code, 1, 5) AS k, arg_min(name, code) AS name "
                      "FROM ref_dx GROUP BY 1 UNION ALL SELECT substr(code, 1, 3), "
                      "arg_min(name, code) FROM ref_dx GROUP BY 1)")
    except DataUnavailable:  # a results-only warehouse: no names
        return select("names AS (SELECT NULL::VARCHAR AS k, NULL::VARCHAR AS name)")


def catalog_summary(scenario: str) -> pd.DataFrame:
    """Groups and history cases of ``scenario``'s catalog per group type.

    Columns: group_type, n_groups, n_cases, case_share (share of all catalog cases).
    """
    return _query(
        """
        SELECT group_type, count(*) AS n_groups,
               CAST(sum(n_cases) AS BIGINT) AS n_cases,
               sum(n_cases) / NULLIF(sum(sum(n_cases)) OVER (), 0) AS case_share
        FROM catalog_groups
        WHERE scenario = ?
        GROUP BY group_type
        ORDER BY group_type <> 'core', group_type
        """,
        [scenario],
    )


def catalog_quality(scenario: str) -> pd.DataFrame:
    """The whole-catalogue metrics of ``scenario`` (one row of ``catalog_summary``).

    Columns: core_threshold, n_core, n_comprehensive, core_coverage, grouping_rate_history,
    grouping_rate_year, mean_cv, case_weighted_cv, n_cv_below_05, n_cv_05_to_1, n_cv_above_1,
    riv. Empty before the first run that computed them.
    """
    return _query("SELECT * FROM catalog_summary WHERE scenario = ?", [scenario])


def catalog_cv_bands(scenario: str) -> pd.DataFrame:
    """Groups and history cases per CV band (< 0.5, 0.5–1, > 1) of ``scenario``'s catalogue."""
    return _query(
        """
        SELECT CASE WHEN cv < 0.5 THEN '< 0.5' WHEN cv <= 1 THEN '0.5–1' ELSE '> 1' END
                   AS cv_band,
               count(*) AS n_groups, CAST(sum(n_cases) AS BIGINT) AS n_cases
        FROM catalog_groups WHERE scenario = ? AND cv IS NOT NULL
        GROUP BY cv_band ORDER BY min(cv)
        """,
        [scenario],
    )


def catalog_group_years(scenario: str, group_code: str) -> pd.DataFrame:
    """Cases and mean cost of one group in each history year (columns year, n_cases, mean_cost_yuan)."""
    return _query(
        """
        SELECT year, n_cases, mean_cost_yuan FROM catalog_group_years
        WHERE scenario = ? AND group_code = ? ORDER BY year
        """,
        [scenario, group_code],
    )


def hospital_indices(scenario: str, hospital_id: str | None = None) -> pd.DataFrame:
    """CMI and the cost and time consumption indices of each hospital (scoped to the user's),
    or of ``hospital_id`` only.

    Columns: hospital_id, hospital_name, level, n_cases, cmi, cost_index, time_index,
    n_primary_cases, n_tcm_cases, tcm_points (基层病种 and 中医优势病种, counted apart), and
    region_cmi: the region's CMI, Σ group points ÷ cases over every hospital's grouped cases
    (a region-wide figure; the consumption indices are 1 for the region by construction).
    """
    where, params = _scope("i.hospital_id")
    one, one_params = ("i.hospital_id = ?", [hospital_id]) if hospital_id else ("TRUE", [])
    return _query(
        f"""
        WITH {_HOSP_CTE},
        region AS (SELECT sum(cmi * n_cases) / NULLIF(sum(n_cases), 0) AS region_cmi
                   FROM hospital_indices WHERE scenario = ?)
        SELECT i.hospital_id, h.hospital_name, h.level, i.n_cases, i.cmi, i.cost_index,
               i.time_index, i.n_primary_cases, i.n_tcm_cases, i.tcm_points, region.region_cmi
        FROM hospital_indices i LEFT JOIN hosp h USING (hospital_id) CROSS JOIN region
        WHERE i.scenario = ? AND {where} AND {one}
        ORDER BY i.cmi DESC
        """,
        [scenario, scenario, *params, *one_params],
    )


# --- data quality ----------------------------------------------------------------------------


def quality_years() -> list[int]:
    """The years present in ``case_status`` (newest first)."""
    where, params = _scope("hospital_id")
    df = _query(
        f"SELECT DISTINCT year FROM case_status WHERE year IS NOT NULL AND {where} "
        "ORDER BY year DESC",
        params,
    )
    return [int(y) for y in df["year"]]


def _year_clause(year: int | None, column: str = "year") -> tuple[str, list[Any]]:
    return (f"{column} = ?", [int(year)]) if year is not None else ("TRUE", [])


def quality_severity(year: int | None = None) -> pd.DataFrame:
    """Input cases per severity (critical, warning, ok), for one year or all.

    Columns: severity, n_cases, share.
    """
    where, params = _scope("hospital_id")
    year_where, year_params = _year_clause(year)
    return _query(
        f"""
        SELECT severity, count(*) AS n_cases,
               count(*) / sum(count(*)) OVER () AS share
        FROM case_status
        WHERE {where} AND {year_where}
        GROUP BY severity
        ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1
                 WHEN 'ok' THEN 2 ELSE 3 END
        """,
        [*params, *year_params],
    )


def quality_summary(year: int | None = None) -> pd.DataFrame:
    """Input cases per severity and status code, with an example reason.

    Columns: severity, status, n_cases, share, reason_example. Critical first.
    """
    where, params = _scope("hospital_id")
    year_where, year_params = _year_clause(year)
    return _query(
        f"""
        SELECT severity, status, count(*) AS n_cases,
               count(*) / sum(count(*)) OVER () AS share,
               min(reason) AS reason_example
        FROM case_status
        WHERE {where} AND {year_where}
        GROUP BY severity, status
        ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1
                 WHEN 'ok' THEN 2 ELSE 3 END, n_cases DESC, status
        """,
        [*params, *year_params],
    )


def quality_by_hospital(year: int | None = None) -> pd.DataFrame:
    """Per hospital, the input cases and the share whose status is not ``ok``.

    Columns: hospital_id, hospital_name, level, n_cases, n_not_ok, n_warning, n_critical,
    not_ok_share. Highest share first.
    """
    where, params = _scope("c.hospital_id")
    year_where, year_params = _year_clause(year, "c.year")
    return _query(
        f"""
        WITH {_HOSP_CTE}
        SELECT c.hospital_id,
               coalesce(any_value(h.hospital_name), c.hospital_id, '（无医院代码）')
                   AS hospital_name,
               any_value(h.level) AS level,
               count(*) AS n_cases,
               count(*) FILTER (WHERE coalesce(c.status, '') <> 'ok') AS n_not_ok,
               count(*) FILTER (WHERE c.severity = 'warning') AS n_warning,
               count(*) FILTER (WHERE c.severity = 'critical') AS n_critical,
               count(*) FILTER (WHERE coalesce(c.status, '') <> 'ok') / count(*)
                   AS not_ok_share
        FROM case_status c
        LEFT JOIN hosp h ON h.hospital_id = c.hospital_id
        WHERE {where} AND {year_where}
        GROUP BY c.hospital_id
        ORDER BY not_ok_share DESC, n_cases DESC, c.hospital_id
        """,
        [*params, *year_params],
    )


def quality_index(year: int | None = None) -> pd.DataFrame:
    """Per hospital and year: pass rate, findings and the 病案质量指数 (``quality.report``).

    ``year`` None gives every year (the trend). The index weights are the parameters in
    force in that year (the latest year for the trend). Columns as
    :func:`dip_sim.quality.report.hospital_quality_sql`.
    """
    from dip_sim.policy import load_baseline, parameters_for_year
    from dip_sim.quality.report import hospital_quality_sql

    where, params = _scope("s.hospital_id")
    year_where, year_params = _year_clause(year, "s.year")
    years = quality_years()
    values = parameters_for_year(load_baseline(),
                                 year or (years[0] if years else dt.date.today().year))
    weights = [values["quality.index_weight_critical"], values["quality.index_weight_warning"]]
    return _query(hospital_quality_sql(f"{where} AND {year_where}"),
                  [*params, *year_params, *params, *year_params, *weights])


def findings_by_rule(year: int | None, hospital_id: str | None = None) -> pd.DataFrame:
    """Quality findings (病案质控) per rule among the cases of ``year`` (None: every year), of
    one hospital or of every hospital the reader may see.

    Columns: quality_rule, label_zh, severity, n_findings, n_cases, n_hospitals. Critical
    rules first, then by number of findings.
    """
    where, params = _scope("s.hospital_id")
    year_where, year_params = _year_clause(year, "s.year")
    one = "s.hospital_id = ?" if hospital_id else "TRUE"
    return _query(
        f"""
        SELECT f.rule AS quality_rule, any_value(f.label_zh) AS label_zh,
               any_value(f.severity) AS severity, count(*) AS n_findings,
               count(DISTINCT f.case_id) AS n_cases,
               count(DISTINCT s.hospital_id) AS n_hospitals
        FROM quality_findings f JOIN case_status s USING (case_id)
        WHERE {one} AND {year_where} AND {where}
        GROUP BY f.rule
        ORDER BY any_value(f.severity) <> 'critical', n_findings DESC, quality_rule
        """,
        [*([hospital_id] if hospital_id else []), *year_params, *params],
    )


def hospital_findings_by_rule(hospital_id: str, year: int) -> pd.DataFrame:
    """The hospital's quality findings among its cases of ``year``, per rule (scoped): see
    :func:`findings_by_rule`."""
    return findings_by_rule(int(year), hospital_id)


def hospital_findings(hospital_id: str, year: int, limit: int = CASE_LIST_LIMIT) -> pd.DataFrame:
    """The hospital's quality findings among its cases of ``year``, ``limit`` rows (scoped):
    critical first, then by case id.

    Columns: case_id, quality_rule, severity, field, value, label_zh, detail (where the
    finding was: file, row and field).
    """
    where, params = _scope("s.hospital_id")
    return _query(
        f"""
        SELECT f.case_id, f.rule AS quality_rule, f.severity, f.field, f.value, f.label_zh,
               f.detail
        FROM quality_findings f JOIN case_status s USING (case_id)
        WHERE s.hospital_id = ? AND s.year = ? AND {where}
        ORDER BY f.severity <> 'critical', f.case_id, f.rule
        LIMIT ?
        """,
        [hospital_id, int(year), *params, int(limit)],
    )


def hospital_statement_xlsx(scenario: str, hospital_id: str) -> bytes:
    """The hospital's Excel settlement statement (``dip-sim report --hospital``), as bytes.

    A hospital user gets only its own: any other hospital is refused here, in the data layer.
    """
    import io

    from dip_sim.labels import REPORT_LABELS
    from dip_sim.reports.statements import hospital_statement
    from dip_sim.workbook import write_workbook

    scope = hospital_scope()
    if scope is not None and hospital_id != scope:
        raise DataUnavailable("只能下载本院的结算单。", f"{hospital_id} 不是 {scope}")
    with _reading() as con:
        tables = hospital_statement(con, scenario, hospital_id)
    buffer = io.BytesIO()
    write_workbook(tables, buffer, REPORT_LABELS)
    return buffer.getvalue()


def point_value_years(scenario: str) -> pd.DataFrame:
    """The point value over the years (region-wide): year, kind (history: cost per point;
    settlement: the settlement point value), value_per_point."""
    return _query("SELECT year, kind, value_per_point FROM point_value_years "
                  "WHERE scenario = ? ORDER BY year", [scenario])


def group_cost_by_level(scenario: str, group_code: str) -> pd.DataFrame:
    """A group's history-case cost distribution by hospital level (a region-wide aggregate).

    Columns: level, n_cases, mean_cost_yuan, p5/p25/median/p75/p95 _cost_yuan.
    """
    return _query(
        """
        WITH h AS (
            SELECT CAST(unnest(string_split(history_years, ',')) AS INTEGER) AS year
            FROM runs WHERE scenario = ?
        )
        SELECT f.level, count(*) AS n_cases,
               CAST(avg(f.total_cost_yuan) AS DOUBLE) AS mean_cost_yuan,
               CAST(quantile_cont(f.total_cost_yuan, 0.05) AS DOUBLE) AS p5_cost_yuan,
               CAST(quantile_cont(f.total_cost_yuan, 0.25) AS DOUBLE) AS p25_cost_yuan,
               CAST(quantile_cont(f.total_cost_yuan, 0.5) AS DOUBLE) AS median_cost_yuan,
               CAST(quantile_cont(f.total_cost_yuan, 0.75) AS DOUBLE) AS p75_cost_yuan,
               CAST(quantile_cont(f.total_cost_yuan, 0.95) AS DOUBLE) AS p95_cost_yuan
        FROM case_groups g JOIN case_features f USING (case_id)
        WHERE g.scenario = ? AND g.group_code = ? AND f.eligible
          AND g.year IN (SELECT year FROM h)
        GROUP BY f.level ORDER BY f.level DESC
        """,
        [scenario, scenario, group_code],
    )


def settlement_by(scenario: str, dimension: str) -> pd.DataFrame:
    """DIP against fee-for-service by hospital ``level`` or ``insurance_type`` (scoped to the
    user's hospital). Columns: the dimension, n_cases, dip_amount_yuan (the cases' shares of
    their hospitals' DIP amounts), ffs_fund_paid_yuan, diff_yuan, diff_pct."""
    if dimension not in ("level", "insurance_type"):
        raise ValueError(f"unknown dimension {dimension!r}")
    where, params = _scope("s.hospital_id")
    return _query(
        f"""
        SELECT f.{dimension}, count(*) AS n_cases,
               sum(s.case_amount_yuan) AS dip_amount_yuan,
               sum(s.fund_paid_yuan) AS ffs_fund_paid_yuan,
               sum(s.case_amount_yuan) - sum(s.fund_paid_yuan) AS diff_yuan,
               (sum(s.case_amount_yuan) - sum(s.fund_paid_yuan))
               / NULLIF(sum(s.fund_paid_yuan), 0) AS diff_pct
        FROM case_scores s JOIN case_features f USING (case_id)
        WHERE s.scenario = ? AND {where}
        GROUP BY f.{dimension} ORDER BY f.{dimension}
        """,
        [scenario, *params],
    )


def catalogue_comparison(scenario_a: str, scenario_b: str) -> dict[str, pd.DataFrame]:
    """Two scenarios' catalogues compared (``dip-sim catalog-diff``): summary, parameters,
    groups added / removed / re-pointed, case flows, hospitals' effect (only the user's own
    hospital for a hospital user) and the panel's adjustments."""
    from dip_sim.grouping.diff import catalog_diff

    with _reading() as con:
        try:
            tables = catalog_diff(con, scenario_a, scenario_b)
        except ValueError as exc:  # a scenario without catalogue results
            raise DataUnavailable(NO_RESULTS_MESSAGE, str(exc)) from exc
    scope = hospital_scope()
    if scope is not None:
        hospitals = tables["医院影响"]
        tables["医院影响"] = hospitals[hospitals["hospital_id"] == scope]
    return tables


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
