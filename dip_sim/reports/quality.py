"""The per-hospital quality report (病案质量报告) and the 病案质量指数.

For each hospital and year: cases, the share passing (no finding at all), cases with a
critical finding, findings by severity, and the 病案质量指数:

    index = max(0, 100 − (w_critical × critical findings + w_warning × warnings)
                         ÷ cases × 100)

i.e. 100 minus the weighted findings per 100 cases; the weights are the parameters
``quality.index_weight_critical`` and ``quality.index_weight_warning``. Worked example: 200
cases with 4 critical findings and 10 warnings, weights 1 and 0.25: (4 × 1 + 10 × 0.25) ÷ 200
× 100 = 3.25, index 96.75.

Everything is SQL over ``case_status``, ``quality_findings``, ``quality_rules`` and
``hospitals``; :func:`write_quality_report` writes the tables as an Excel workbook
(``dip-sim quality-report``), and the dashboard's 数据质量 page shows the same figures.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from dip_sim.workbook import write_workbook


def hospital_quality_sql(where: str = "TRUE") -> str:
    """SELECT of the per hospital-year quality figures (filter ``where`` on ``s``).

    Parameters: the two index weights (critical, warning), in that order.
    """
    return f"""
        WITH cases AS (
            SELECT s.hospital_id, s.year, count(*) AS n_cases,
                   count(*) FILTER (WHERE s.severity = 'ok') AS n_pass,
                   count(*) FILTER (WHERE s.severity = 'critical') AS n_critical_cases
            FROM case_status s WHERE {where} AND s.hospital_id IS NOT NULL
            GROUP BY ALL
        ), found AS (
            SELECT s.hospital_id, s.year,
                   count(*) FILTER (WHERE f.severity = 'critical') AS n_critical_findings,
                   count(*) FILTER (WHERE f.severity = 'warning') AS n_warning_findings
            FROM quality_findings f JOIN case_status s USING (case_id)
            WHERE {where} AND s.hospital_id IS NOT NULL
            GROUP BY ALL
        )
        SELECT c.hospital_id, h.hospital_name, h.level, c.year, c.n_cases, c.n_pass,
               c.n_pass / c.n_cases AS pass_rate, c.n_critical_cases,
               coalesce(f.n_critical_findings, 0) AS n_critical_findings,
               coalesce(f.n_warning_findings, 0) AS n_warning_findings,
               greatest(0, 100 - (? * coalesce(f.n_critical_findings, 0)
                                  + ? * coalesce(f.n_warning_findings, 0))
                                 / c.n_cases * 100) AS quality_index
        FROM cases c LEFT JOIN found f USING (hospital_id, year)
        LEFT JOIN hospitals h USING (hospital_id)
        ORDER BY c.year, quality_index, c.hospital_id"""


def quality_tables(con: duckdb.DuckDBPyConnection, year: int, weights: tuple[float, float],
                   worst: int = 200) -> dict[str, pd.DataFrame]:
    """The report's tables for ``year``, keyed by their (Chinese) sheet names."""
    index = con.execute(
        hospital_quality_sql(f"s.year = {int(year)}"), list(weights)).df()
    trend = con.execute(hospital_quality_sql(), list(weights)).df()
    by_rule = con.execute("""
        SELECT r.rule, r.label_zh, r.label_en, r.severity,
               coalesce(c.n_findings, 0) AS n_findings, coalesce(c.n_hospitals, 0) AS n_hospitals,
               r.field, r.source
        FROM quality_rules r
        LEFT JOIN (SELECT f.rule, count(*) AS n_findings,
                          count(DISTINCT s.hospital_id) AS n_hospitals
                   FROM quality_findings f JOIN case_status s USING (case_id)
                   WHERE s.year = ? GROUP BY f.rule) c USING (rule)
        ORDER BY r.priority""", [year]).df()
    by_hospital_rule = con.execute("""
        SELECT s.hospital_id, h.hospital_name, f.rule, any_value(f.label_zh) AS label_zh,
               any_value(f.severity) AS severity, count(*) AS n_findings
        FROM quality_findings f JOIN case_status s USING (case_id)
        LEFT JOIN hospitals h USING (hospital_id)
        WHERE s.year = ? GROUP BY ALL ORDER BY s.hospital_id, n_findings DESC""", [year]).df()
    worst_cases = con.execute(f"""
        SELECT s.case_id, s.hospital_id, h.hospital_name, s.status, s.severity,
               n.n_findings, s.reason
        FROM (SELECT case_id, count(*) AS n_findings FROM quality_findings GROUP BY case_id) n
        JOIN case_status s USING (case_id)
        LEFT JOIN hospitals h USING (hospital_id)
        WHERE s.year = ?
        ORDER BY s.severity = 'critical' DESC, n.n_findings DESC, s.case_id
        LIMIT {int(worst)}""", [year]).df()
    return {"医院质量指数": index, "问题按规则": by_rule, "医院×规则": by_hospital_rule,
            "问题最多的病例": worst_cases, "历年趋势": trend}



def write_quality_report(con: duckdb.DuckDBPyConnection, year: int,
                         weights: tuple[float, float], out: Path) -> dict[str, int]:
    """Write the report workbook to ``out``; return the number of rows of each sheet."""
    tables = quality_tables(con, year, weights)
    # headers: dip_sim.labels.TABLE_COLUMNS["quality"], then the contract's labels
    return write_workbook(tables, out, sources=dict.fromkeys(tables, "quality"))
