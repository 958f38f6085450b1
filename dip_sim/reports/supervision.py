"""The supervision report (监管与考核报告, ``dip-sim supervision-report``): Excel, one year.

Sheets: the indices of every hospital against the region (one row per hospital and index);
the assessment scores with their coefficient and deposit release; each score's indicator
points; the flagged cases (up to ``max_cases`` per index, most extreme first); 编码高套 by
diagnosis category (categories of at least ``CATEGORY_MIN_CASES`` cases, largest excess
first, up to ``max_cases`` rows); the anomaly screen's listed hospital-months; the monitoring's
alerts (运行监测预警).
``hospital_id`` restricts every sheet to one hospital (a hospital's own report); there the
region's figures of an index (region value, ratio, expected, z, rank) and of a diagnosis
category are blank where fewer than ``access.suppression_min_hospitals`` other hospitals
contribute (small-cell suppression, as on the dashboard), and an index every hospital has at 0
has no rank.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import duckdb
import pandas as pd

from dip_sim.access import access_settings
from dip_sim.supervise.tables import index_label
from dip_sim.workbook import write_workbook

# 编码高套 by category: categories with fewer cases a year are too noisy to list
CATEGORY_MIN_CASES = 10

# the stored table each sheet's columns come from (their labels and code names,
# dip_sim.contract; computed columns in dip_sim.labels)
SOURCES = {"监管指数": "supervision_hospitals", "绩效考核": "assessment",
           "考核指标得分": "assessment_indicators", "标记病例": "supervision_cases",
           "编码高套分类目": "supervision_upcoding", "异常筛查": "supervision_anomalies"}


def supervision_tables(con: duckdb.DuckDBPyConnection, scenario: str, year: int,
                       hospital_id: str | None = None, max_cases: int = 2000
                       ) -> dict[str, pd.DataFrame]:
    """The report's tables, keyed by their Chinese sheet names."""
    where = "scenario = ? AND year = ?" + (" AND hospital_id = ?" if hospital_id else "")
    params = [scenario, year, *([hospital_id] if hospital_id else [])]
    # the fewest other hospitals a region figure in a hospital's own report must have
    floor = access_settings().suppression_min_hospitals if hospital_id else 0

    def query(sql: str, extra: list | None = None) -> pd.DataFrame:
        return con.execute(sql.format(where=where), params + (extra or [])).df()

    def shown(expr: str, alias: str) -> str:
        return f"CASE WHEN k.n_other >= {int(floor)} THEN {expr} END AS {alias}"

    names = "LEFT JOIN hospitals h USING (hospital_id)"
    region = ", ".join(shown(f"s.{c}", c) for c in
                       ("region_value", "ratio_to_region", "expected", "z_score"))
    indices = con.execute(f"""
        WITH k AS (SELECT index_code,
                          count(*) FILTER (WHERE hospital_id IS DISTINCT FROM ?) AS n_other,
                          count(*) FILTER (WHERE coalesce(value, 0) <> 0) AS n_nonzero
                   FROM supervision_hospitals WHERE scenario = ? AND year = ?
                   GROUP BY index_code)
        SELECT s.hospital_id, h.hospital_name, h.level, s.index_code, s.n_base,
               s.n_flagged, s.value, {region}, s.prev_value,
               {shown("CASE WHEN k.n_nonzero > 0 THEN s.rank END", "rank")}
        FROM supervision_hospitals s JOIN k USING (index_code) {names} WHERE {where}
        ORDER BY s.index_code, s.rank""", [hospital_id, scenario, year, *params]).df()
    indices.insert(4, "index_name", indices["index_code"].map(index_label))
    # a hospital's own report names no other hospital's case (a readmission after a stay
    # elsewhere says only that it was elsewhere)
    related = ("CASE WHEN related_hospital_id = hospital_id OR related_case_id IS NULL "
               "THEN related_case_id ELSE '（他院病例）' END AS related_case_id, "
               "NULL AS related_hospital_id" if hospital_id
               else "related_case_id, related_hospital_id")
    cases = query(f"""SELECT year, case_id, hospital_id, month, index_code, {related}, value,
                             detail
                      FROM (SELECT *, row_number() OVER (PARTITION BY index_code
                                                         ORDER BY value DESC, case_id) AS n
                            FROM supervision_cases WHERE {{where}}) WHERE n <= ?
                      ORDER BY index_code, hospital_id, case_id""", [max_cases])
    cases.insert(cases.columns.get_loc("index_code") + 1, "index_name",
                 cases["index_code"].map(index_label))
    return {
        "监管指数": indices,
        "绩效考核": query(f"""SELECT a.hospital_id, h.hospital_name, h.level, a.score,
                                    a.n_indicators, a.assessment_coefficient, a.withhold_release
                             FROM assessment a {names} WHERE {{where}} ORDER BY a.score"""),
        "考核指标得分": query("""SELECT hospital_id, indicator, label, measure, weight, full_at,
                                    zero_at, x, indicator_points
                             FROM assessment_indicators WHERE {where}
                             ORDER BY hospital_id, indicator"""),
        "标记病例": cases,
        "编码高套分类目": _upcoding(con, where, params, hospital_id, floor,
                                    [CATEGORY_MIN_CASES, max_cases]),
        "异常筛查": query("""SELECT month, hospital_id, n_cases, anomaly_score, flagged, rank, reasons
                          FROM supervision_anomalies WHERE {where} ORDER BY rank"""),
        "运行监测预警": _monitoring_alerts(con, scenario, year, hospital_id),
    }


def _monitoring_alerts(con: duckdb.DuckDBPyConnection, scenario: str, year: int,
                       hospital_id: str | None) -> pd.DataFrame:
    """The monitoring's alerts of the scenario's simulation year (docs/rules.md#运行监测): the
    running point value below the budget value, and each hospital whose points grow faster
    than its history pace (a hospital's own report: its own); none for another year."""
    own = "AND m.hospital_id = ?" if hospital_id else ""
    return con.execute(f"""
        WITH monitored AS (SELECT DISTINCT scenario FROM runs WHERE scenario = ? AND year = ?)
        SELECT '结算点值估计低于预算点值' AS alert, NULL AS hospital_id, NULL AS hospital_name,
               e.through_month, e.pv_gap AS alert_value
        FROM monitor_estimate e JOIN monitored USING (scenario) WHERE e.pv_alert
        UNION ALL
        SELECT '医院分值增长超过历史年均增长', m.hospital_id, h.hospital_name, m.through_month,
               m.growth_to_date - coalesce(m.history_pace, 0)
        FROM monitor_hospitals m JOIN monitored USING (scenario)
        LEFT JOIN (SELECT hospital_id, any_value(hospital_name) AS hospital_name
                   FROM hospitals GROUP BY ALL) h USING (hospital_id)
        WHERE m.growth_alert {own}
        ORDER BY alert, alert_value DESC""",
                       [scenario, year, *([hospital_id] if hospital_id else [])]).df()


def _upcoding(con: duckdb.DuckDBPyConnection, where: str, params: list,
              hospital_id: str | None, floor: int, extra: list) -> pd.DataFrame:
    """编码高套 by category; the region's rates blank where fewer than ``floor`` other
    hospitals have cases in the category."""
    region = ", ".join(f"CASE WHEN coalesce(k.n_other, 0) >= {int(floor)} THEN u.{c} END AS {c}"
                       for c in ("region_mean_rw", "region_proc_rate", "region_severity_rate"))
    table = con.execute(f"""
        WITH k AS (SELECT dx3, count(DISTINCT hospital_id)
                                   FILTER (WHERE hospital_id IS DISTINCT FROM ?) AS n_other
                   FROM supervision_upcoding WHERE scenario = ? AND year = ? AND n_cases > 0
                   GROUP BY dx3)
        SELECT u.* EXCLUDE (scenario, year, region_mean_rw, region_proc_rate,
                            region_severity_rate), {region}
        FROM supervision_upcoding u LEFT JOIN k USING (dx3)
        WHERE {where} AND u.n_cases >= ?
        ORDER BY greatest(coalesce(u.excess_proc_cases, 0), coalesce(u.excess_severity_cases, 0))
                 DESC
        LIMIT ?""", [hospital_id, params[0], params[1], *params, *extra]).df()
    stored = con.execute("SELECT * EXCLUDE (scenario, year) FROM supervision_upcoding LIMIT 0")
    return table[[d[0] for d in stored.description]]  # the stored table's column order


def write_supervision_report(con: duckdb.DuckDBPyConnection, scenario: str, year: int,
                             out: Path | BinaryIO, hospital_id: str | None = None
                             ) -> dict[str, int]:
    """Write the report workbook; return the rows written per sheet."""
    return write_workbook(supervision_tables(con, scenario, year, hospital_id), out, None,
                          SOURCES)
