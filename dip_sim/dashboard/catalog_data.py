"""The dashboard's reads of the DIP group catalogue (the 病种目录 page): groups and their
statistics, grouping quality, a group's history years and cost by hospital level, and two
scenarios' catalogues compared. Same rules as :mod:`dip_sim.dashboard.data`: cached,
parameterised reads, every per-hospital one filtered to a hospital user's own hospital; in a
warehouse of several pooling regions, the catalogue of the region shown (each region has its
own)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from dip_sim.dashboard.data import (
    LIMIT_CTE,
    NO_RESULTS_MESSAGE,
    DataUnavailable,
    _in_list,
    _query,
    _reading,
    _region,
    guarded_columns,
    hospital_scope,
    suppression_floor,
)

# the catalogue's statistics of history cases (not the published code, name and points)
CATALOG_FIGURES = ("n_cases", "median_cost_yuan", "p5_cost_yuan", "p95_cost_yuan",
                   "mean_los_days", "outlier_share", "share_level3", "share_level2",
                   "share_level1", "mean_cost_yuan", "cv")
_NAMES = ("names AS (SELECT substr(code, 1, 5) AS k, arg_min(name, code) AS name "
          "FROM ref_dx GROUP BY 1 UNION ALL SELECT substr(code, 1, 3), "
          "arg_min(name, code) FROM ref_dx GROUP BY 1)")
_NO_NAMES = "names AS (SELECT NULL::VARCHAR AS k, NULL::VARCHAR AS name)"
_NO_CONTRIBUTORS = "hc AS (SELECT NULL::VARCHAR AS k, 0 AS n_other)"


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
    shares, mean_cost_yuan, cv, rw, and suppressed: for a hospital user the statistics
    (:data:`CATALOG_FIGURES`) of a group that fewer than ``access.suppression_min_hospitals``
    other hospitals' history cases make are blank (all of them without the case table).
    Core groups first, then by number of cases.
    """
    type_where, type_params = _in_list("group_type", group_types)
    class_where, class_params = _in_list("proc_class", proc_classes)
    text = code_contains.strip()
    text_where, text_params = (
        ("(strpos(lower(group_code), lower(?)) > 0 OR strpos(coalesce(dx_name, ''), ?) > 0)",
         [text, text]) if text else ("TRUE", [])
    )
    own, floor = suppression_floor()
    region, region_params = _region("c.region")

    def select(names: str, contributors: str, contributor_params: list) -> pd.DataFrame:
        return _query(
            f"""
            WITH {names}, {contributors}, {LIMIT_CTE},
            g AS (
                SELECT c.*, coalesce(n5.name, n3.name) AS dx_name,
                       coalesce(hc.n_other, 0) AS n_other
                FROM catalog_groups c
                LEFT JOIN names n5 ON n5.k = c.dx_key AND length(c.dx_key) = 5
                LEFT JOIN names n3 ON n3.k = c.dx_key AND length(c.dx_key) = 3
                LEFT JOIN hc ON hc.k = c.group_code
                WHERE c.scenario = ? AND {region}
            )
            SELECT group_code, dx_name, group_type, dx_key, proc_key, proc_class,
                   {guarded_columns(CATALOG_FIGURES)}, rw
            FROM g CROSS JOIN lim
            WHERE {type_where} AND {class_where} AND {text_where}
            ORDER BY group_type <> 'core', suppressed, n_cases DESC, group_code
            """,
            [*contributor_params, floor, scenario, *region_params, *type_params, *class_params,
             *text_params],
        )

    attempts = [(_NAMES, _NO_CONTRIBUTORS, []), (_NO_NAMES, _NO_CONTRIBUTORS, [])]
    if own is not None:  # a hospital user: count the contributors (none without case_groups)
        contributors, params = _history_contributors(scenario, "g.group_code", own)
        attempts = [(_NAMES, contributors, params), (_NO_NAMES, contributors, params),
                    *attempts[1:]]
    for names, hc, params in attempts[:-1]:
        try:  # the diagnosis's name from the code list the ingest loaded (ref_dx)
            return select(names, hc, params)
        except DataUnavailable:  # a results-only warehouse: no names (or no case table)
            continue
    return select(*attempts[-1])


def _history_contributors(scenario: str, key: str, own: str | None, where: str = "TRUE",
                          where_params: Sequence = ()) -> tuple[str, list]:
    """A ``hc`` CTE: per ``key`` (an expression over ``case_groups g`` joined to the catalogue
    ``c``), the hospitals other than ``own`` among the scenario's history cases (those that
    match ``where`` with ``where_params``), in the region shown."""
    region, region_params = _region("g.region")
    return (f"""hc AS (
        SELECT {key} AS k,
               count(DISTINCT g.hospital_id) FILTER (WHERE g.hospital_id IS DISTINCT FROM ?)
                   AS n_other
        FROM case_groups g JOIN catalog_groups c
          ON c.scenario = g.scenario AND c.group_code = g.group_code
             AND c.region IS NOT DISTINCT FROM g.region
        WHERE g.scenario = ? AND g.grouped AND {where} AND {region} AND g.year IN (
            SELECT TRY_CAST(unnest(string_split(history_years, ',')) AS INTEGER)
            FROM runs WHERE scenario = ?)
        GROUP BY 1)""", [own, scenario, *where_params, *region_params, scenario])


def _with_contributors(sql: str, key: str, scenario: str, params: list, where: str = "TRUE",
                       where_params: Sequence = ()) -> pd.DataFrame:
    """Run ``sql`` (which reads ``hc`` and ``lim``) with the contributors per ``key`` for a
    hospital user (all figures suppressed when the warehouse has no case table), or with none
    to count for bureau and expert (nothing suppressed)."""
    own, floor = suppression_floor()
    if own is not None:
        hc, hc_params = _history_contributors(scenario, key, own, where, where_params)
        try:
            return _query(sql.format(hc=hc), [*hc_params, floor, *params])
        except DataUnavailable:  # no case_groups: nothing to count, nothing shown
            pass
    return _query(sql.format(hc="hc AS (SELECT NULL AS k, 0 AS n_other)"), [floor, *params])


def catalog_summary(scenario: str) -> pd.DataFrame:
    """Groups and history cases of ``scenario``'s catalog per group type.

    Columns: group_type, n_groups, n_cases, case_share (share of all catalog cases) and
    suppressed (a hospital user: cases of a type that fewer than
    ``access.suppression_min_hospitals`` other hospitals have are blank).
    """
    region, region_params = _region()
    sql = f"""
        WITH {{hc}}, {LIMIT_CTE},
        t AS (
            SELECT group_type, count(*) AS n_groups,
                   CAST(sum(n_cases) AS BIGINT) AS n_cases,
                   sum(n_cases) / NULLIF(sum(sum(n_cases)) OVER (), 0) AS case_share
            FROM catalog_groups
            WHERE scenario = ? AND {region}
            GROUP BY group_type
        )
        SELECT t.group_type, t.n_groups,
               {guarded_columns(["t.n_cases", "t.case_share"], "coalesce(hc.n_other, 0)")}
        FROM t CROSS JOIN lim LEFT JOIN hc ON hc.k = t.group_type
        ORDER BY t.group_type <> 'core', t.group_type
        """
    return _with_contributors(sql, "c.group_type", scenario,
                              [scenario, *region_params])


def catalog_quality(scenario: str) -> pd.DataFrame:
    """The whole-catalogue metrics of ``scenario`` (one row of ``catalog_summary``).

    Columns: core_threshold, n_core, n_comprehensive, core_coverage, grouping_rate_history,
    grouping_rate_year, mean_cv, case_weighted_cv, n_cv_below_05, n_cv_05_to_1, n_cv_above_1,
    riv. Empty before the first run that computed them.
    """
    region, region_params = _region()
    return _query(f"SELECT * FROM catalog_summary WHERE scenario = ? AND {region}",
                  [scenario, *region_params])


_CV_BAND = "CASE WHEN {cv} < 0.5 THEN '< 0.5' WHEN {cv} <= 1 THEN '0.5–1' ELSE '> 1' END"


def catalog_cv_bands(scenario: str) -> pd.DataFrame:
    """Groups and history cases per CV band (< 0.5, 0.5–1, > 1) of ``scenario``'s catalogue
    (a hospital user: the cases of a band fewer than the floor of other hospitals have are
    blank; the number of groups is the catalogue's own)."""
    region, region_params = _region()
    sql = f"""
        WITH {{hc}}, {LIMIT_CTE},
        b AS (
            SELECT {_CV_BAND.format(cv="cv")} AS cv_band, min(cv) AS low,
                   count(*) AS n_groups, CAST(sum(n_cases) AS BIGINT) AS n_cases
            FROM catalog_groups WHERE scenario = ? AND cv IS NOT NULL AND {region}
            GROUP BY cv_band
        )
        SELECT b.cv_band, b.n_groups,
               {guarded_columns(["b.n_cases"], "coalesce(hc.n_other, 0)")}
        FROM b CROSS JOIN lim LEFT JOIN hc ON hc.k = b.cv_band
        ORDER BY b.low
        """
    return _with_contributors(sql, _CV_BAND.format(cv="c.cv"),
                              scenario, [scenario, *region_params])


def catalog_group_years(scenario: str, group_code: str) -> pd.DataFrame:
    """Cases and mean cost of one group in each history year (columns year, n_cases,
    mean_cost_yuan, suppressed: a hospital user's years with fewer than the floor of other
    hospitals are blank)."""
    region, region_params = _region("y.region")
    sql = f"""
        WITH {{hc}}, {LIMIT_CTE}
        SELECT y.year, {guarded_columns(["y.n_cases", "y.mean_cost_yuan"],
                                         "coalesce(hc.n_other, 0)")}
        FROM catalog_group_years y CROSS JOIN lim
        LEFT JOIN hc ON hc.k = y.year
        WHERE y.scenario = ? AND y.group_code = ? AND {region} ORDER BY y.year
        """
    return _with_contributors(sql, "g.year", scenario,
                              [scenario, group_code, *region_params],
                              "g.group_code = ?", [group_code])


def group_cost_by_level(scenario: str, group_code: str) -> pd.DataFrame:
    """A group's history-case cost distribution by hospital level (a region-wide aggregate).

    Columns: level, n_cases, mean_cost_yuan, p5/p25/median/p75/p95 _cost_yuan, n_other (the
    contributing hospitals other than a hospital reader's own) and suppressed: for a hospital
    user the figures of a level with fewer than ``access.suppression_min_hospitals`` other
    hospitals are blank (:func:`data.suppression_floor`).
    """
    own, floor = suppression_floor()
    region, region_params = _region("g.region")
    figures = ["n_cases", "mean_cost_yuan", "p5_cost_yuan", "p25_cost_yuan", "median_cost_yuan",
               "p75_cost_yuan", "p95_cost_yuan"]
    return _query(
        f"""
        WITH h AS (
            SELECT CAST(unnest(string_split(history_years, ',')) AS INTEGER) AS year
            FROM runs WHERE scenario = ?
        ), {LIMIT_CTE},
        by_level AS (
            SELECT f.level, count(*) AS n_cases,
                   CAST(avg(f.total_cost_yuan) AS DOUBLE) AS mean_cost_yuan,
                   CAST(quantile_cont(f.total_cost_yuan, 0.05) AS DOUBLE) AS p5_cost_yuan,
                   CAST(quantile_cont(f.total_cost_yuan, 0.25) AS DOUBLE) AS p25_cost_yuan,
                   CAST(quantile_cont(f.total_cost_yuan, 0.5) AS DOUBLE) AS median_cost_yuan,
                   CAST(quantile_cont(f.total_cost_yuan, 0.75) AS DOUBLE) AS p75_cost_yuan,
                   CAST(quantile_cont(f.total_cost_yuan, 0.95) AS DOUBLE) AS p95_cost_yuan,
                   count(DISTINCT g.hospital_id) FILTER (WHERE g.hospital_id IS DISTINCT FROM ?)
                       AS n_other
            FROM case_groups g JOIN case_features f USING (case_id)
            WHERE g.scenario = ? AND g.group_code = ? AND f.eligible AND {region}
              AND g.year IN (SELECT year FROM h)
            GROUP BY f.level
        )
        SELECT level, {guarded_columns(figures)}, n_other
        FROM by_level CROSS JOIN lim ORDER BY level DESC
        """,
        [scenario, floor, own, scenario, group_code, *region_params],
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
        _suppress_comparison(tables, scenario_a, scenario_b)
    return tables


def _suppress_comparison(tables: dict[str, pd.DataFrame], scenario_a: str,
                         scenario_b: str) -> None:
    """Blank the region-wide case counts of a catalogue comparison that fewer than
    ``access.suppression_min_hospitals`` hospitals other than the reader's make: the history
    cases of each group in either scenario, and the cases of each move between groups."""
    own, floor = suppression_floor()
    counts = {}
    for side, scenario in (("a", scenario_a), ("b", scenario_b)):
        hc, params = _history_contributors(scenario, "g.group_code", own)
        counts[side] = _query(f"WITH {hc} SELECT k AS group_code, n_other FROM hc", params)
    moves = _query(
        """
        SELECT ca.group_code AS group_a, cb.group_code AS group_b,
               count(DISTINCT ca.hospital_id) FILTER (WHERE ca.hospital_id IS DISTINCT FROM ?)
                   AS n_other
        FROM (SELECT case_id, hospital_id, group_code FROM case_groups WHERE scenario = ?) ca
        JOIN (SELECT case_id, group_code FROM case_groups WHERE scenario = ?) cb USING (case_id)
        WHERE ca.group_code IS DISTINCT FROM cb.group_code
        GROUP BY ALL
        """, [own, scenario_a, scenario_b])
    groups = tables["病种变化"]
    for side in ("a", "b"):
        n_other = groups[["group_code"]].merge(counts[side], on="group_code", how="left")[
            "n_other"].fillna(0).to_numpy()
        groups[f"n_cases_{side}"] = groups[f"n_cases_{side}"].where(n_other >= floor)
    flows = tables["病例流向"]
    n_other = flows[["group_a", "group_b"]].merge(moves, on=["group_a", "group_b"], how="left")[
        "n_other"].fillna(0).to_numpy()
    for column in ("n_cases", "n_cases_year"):
        flows[column] = flows[column].where(n_other >= floor)
    groups["suppressed"] = groups["n_cases_a"].isna() & groups["n_cases_b"].isna()
    flows["suppressed"] = n_other < floor
