"""The supervision report (监管与考核报告, ``dip-sim supervision-report``): Excel, one year.

Sheets: the indices of every hospital against the region (one row per hospital and index);
the assessment scores with their coefficient and deposit release; each score's indicator
points; the flagged cases (up to ``max_cases`` per index, most extreme first); 编码高套 by
diagnosis category (categories of at least ``CATEGORY_MIN_CASES`` cases, largest excess
first, up to ``max_cases`` rows); the anomaly screen's listed hospital-months.
``hospital_id`` restricts every sheet to one hospital (a hospital's own report).
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import duckdb
import pandas as pd

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

    def query(sql: str, extra: list | None = None) -> pd.DataFrame:
        return con.execute(sql.format(where=where), params + (extra or [])).df()

    names = "LEFT JOIN hospitals h USING (hospital_id)"
    indices = query(f"""SELECT s.hospital_id, h.hospital_name, h.level, s.index_code, s.n_base,
                               s.n_flagged, s.value, s.region_value, s.ratio_to_region,
                               s.expected, s.z_score, s.prev_value, s.rank
                        FROM supervision_hospitals s {names} WHERE {{where}}
                        ORDER BY s.index_code, s.rank""")
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
        "编码高套分类目": query("""SELECT * EXCLUDE (scenario, year) FROM supervision_upcoding
                               WHERE {where} AND n_cases >= ?
                               ORDER BY greatest(coalesce(excess_proc_cases, 0),
                                                 coalesce(excess_severity_cases, 0)) DESC
                               LIMIT ?""", [CATEGORY_MIN_CASES, max_cases]),
        "异常筛查": query("""SELECT month, hospital_id, n_cases, anomaly_score, flagged, rank, reasons
                          FROM supervision_anomalies WHERE {where} ORDER BY rank"""),
    }


def write_supervision_report(con: duckdb.DuckDBPyConnection, scenario: str, year: int,
                             out: Path | BinaryIO, hospital_id: str | None = None
                             ) -> dict[str, int]:
    """Write the report workbook; return the rows written per sheet."""
    return write_workbook(supervision_tables(con, scenario, year, hospital_id), out, None,
                          SOURCES)
