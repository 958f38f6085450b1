"""The dashboard's reads of the DIP group catalogue (the 病种目录 page): groups and their
statistics, grouping quality, a group's history years and cost by hospital level, and two
scenarios' catalogues compared. Same rules as :mod:`dip_sim.dashboard.data`: cached,
parameterised reads, every per-hospital one filtered to a hospital user's own hospital."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from dip_sim.dashboard.data import (
    NO_RESULTS_MESSAGE,
    DataUnavailable,
    _in_list,
    _query,
    _reading,
    hospital_scope,
)


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


def catalogue_comparison(scenario_a: str, scenario_b: str) -> dict[str, pd.DataFrame]:
    """Two scenarios' catalogues compared (``dip-sim catalog-diff``): summary, parameters,
    groups added / removed / re-pointed, case flows, hospitals' effect (only the user's own
    hospital for a hospital user) and the panel's adjustments."""
    from dip_sim.reports.catalog_diff import catalog_diff

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
