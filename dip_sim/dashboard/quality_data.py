"""The dashboard's reads of data quality (病案质控: the 数据质量 page and the 医院 page's
质控问题 tab): verdicts by severity, status and hospital, the 病案质量指数 and its trend, and
the findings by rule and one by one. Same rules as :mod:`dip_sim.dashboard.data`; in a
warehouse of several pooling regions, the hospitals of the region shown."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from dip_sim.dashboard.data import _HOSP_CTE, CASE_LIST_LIMIT, _query, _scope_in_region


def quality_years() -> list[int]:
    """The years present in ``case_status`` (newest first)."""
    where, params = _scope_in_region("hospital_id")
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
    where, params = _scope_in_region("hospital_id")
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
    where, params = _scope_in_region("hospital_id")
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
    where, params = _scope_in_region("c.hospital_id")
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
    :func:`dip_sim.reports.quality.hospital_quality_sql`.
    """
    from dip_sim.policy import load_baseline, parameters_for_year
    from dip_sim.reports.quality import hospital_quality_sql

    where, params = _scope_in_region("s.hospital_id")
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
    where, params = _scope_in_region("s.hospital_id")
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
    where, params = _scope_in_region("s.hospital_id")
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
