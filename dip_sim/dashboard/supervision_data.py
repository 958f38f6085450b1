"""The dashboard's reads of supervision and assessment (the 监管与考核 page).

Same rules as :mod:`dip_sim.dashboard.data`: one cached, parameterised query per read, and
every per-hospital query filtered to a hospital user's own hospital in SQL. Region-wide
figures (the regional rate of an index, the number of hospitals ranked) are not another
hospital's rows, so a hospital user sees them beside its own. In a warehouse of several
pooling regions, the reads are those of the region shown (:func:`data.region_scope`).
"""

from __future__ import annotations

import pandas as pd

from dip_sim.dashboard import data
from dip_sim.dashboard.data import _HOSP_CTE, _query, _region, _scope

# the most flagged cases or categories a table shows
LIST_LIMIT = 500


def supervision_runs() -> pd.DataFrame:
    """The scenarios and years with supervision results (baseline and latest year first)."""
    return _query("""SELECT DISTINCT scenario, year FROM supervision_hospitals
                     ORDER BY scenario <> 'baseline', scenario, year DESC""")


def index_codes(scenario: str, year: int) -> list[str]:
    """The index codes computed for ``scenario`` and ``year``."""
    region, region_params = _region()
    rows = _query("SELECT DISTINCT index_code FROM supervision_hospitals "
                  f"WHERE scenario = ? AND year = ? AND {region} ORDER BY index_code",
                  [scenario, year, *region_params])
    return rows["index_code"].tolist()


def index_by_hospital(scenario: str, year: int, index_code: str) -> pd.DataFrame:
    """One index for every hospital (a hospital user: its own row), most suspicious first.

    Columns: hospital_id, hospital_name, level, n_base, n_flagged, index_value,
    region_value, ratio_to_region, z_score, prev_value, rank, n_ranked. No rank (NULL) when
    every hospital's value is 0 or missing: there is nothing to rank.
    """
    where, params = _scope("s.hospital_id")
    region, region_params = _region("s.region")
    return _query(f"""
        WITH {_HOSP_CTE}
        SELECT s.hospital_id, h.hospital_name, h.level, s.n_base, s.n_flagged,
               s.value AS index_value, s.region_value, s.ratio_to_region, s.z_score,
               s.prev_value,
               CASE WHEN count(*) FILTER (WHERE coalesce(s.value, 0) <> 0) OVER () > 0
                    THEN s.rank END AS rank,
               count(*) OVER () AS n_ranked
        FROM supervision_hospitals s LEFT JOIN hosp h USING (hospital_id)
        WHERE s.scenario = ? AND s.year = ? AND s.index_code = ? AND {region}
        QUALIFY {where}
        ORDER BY s.rank, s.hospital_id""", [scenario, year, index_code, *region_params, *params])


# the region's figures of an index a hospital user sees beside its own value
_REGION_FIGURES = ("region_value", "ratio_to_region", "z_score", "rank", "n_ranked")


def hospital_indices(scenario: str, year: int, hospital_id: str) -> pd.DataFrame:
    """Every index of one hospital against the region, with its rank among the hospitals.

    No rank when every hospital's value of the index is 0 or missing. The region's figures
    (:data:`_REGION_FIGURES`) come from every hospital: for a hospital user they are blank
    (``suppressed``) where fewer than ``access.suppression_min_hospitals`` other hospitals
    have the index.
    """
    where, params = _scope("s.hospital_id")
    own, floor = data.suppression_floor()
    region, region_params = _region()
    return _query(f"""
        WITH {data.LIMIT_CTE},
        k AS (SELECT index_code, count(*) AS n_ranked,
                     count(*) FILTER (WHERE hospital_id IS DISTINCT FROM ?) AS n_other,
                     count(*) FILTER (WHERE coalesce(value, 0) <> 0) AS n_nonzero
              FROM supervision_hospitals WHERE scenario = ? AND year = ? AND {region}
              GROUP BY index_code),
        s AS (
            SELECT s.index_code, s.n_base, s.n_flagged, s.value AS index_value, s.region_value,
                   s.ratio_to_region, s.z_score, s.prev_value,
                   CASE WHEN k.n_nonzero > 0 THEN s.rank END AS rank, k.n_ranked, k.n_other
            FROM supervision_hospitals s JOIN k USING (index_code)
            WHERE s.scenario = ? AND s.year = ? AND s.hospital_id = ? AND {where}
        )
        SELECT index_code, n_base, n_flagged, index_value, prev_value,
               {data.guarded_columns(_REGION_FIGURES)}
        FROM s CROSS JOIN lim
        ORDER BY index_code""",
        [floor, own, scenario, year, *region_params, scenario, year, hospital_id, *params])


def assessment_scores(scenario: str, year: int) -> pd.DataFrame:
    """The 绩效考核 score, coefficient and deposit release of each hospital, lowest first."""
    where, params = _scope("a.hospital_id")
    region, region_params = _region("a.region")
    params = [*params, *region_params]
    return _query(f"""
        WITH {_HOSP_CTE}
        SELECT a.hospital_id, h.hospital_name, h.level, a.score, a.n_indicators,
               a.assessment_coefficient, a.withhold_release
        FROM assessment a LEFT JOIN hosp h USING (hospital_id)
        WHERE a.scenario = ? AND a.year = ? AND {where} AND {region}
        ORDER BY a.score, a.hospital_id""", [scenario, year, *params])


def assessment_breakdown(scenario: str, year: int, hospital_id: str) -> pd.DataFrame:
    """The indicators behind one hospital's score: value, thresholds, weight, points earned."""
    where, params = _scope("hospital_id")
    return _query(f"""
        SELECT indicator, label AS indicator_label, measure, weight, full_at, zero_at,
               x AS indicator_value, indicator_points
        FROM assessment_indicators
        WHERE scenario = ? AND year = ? AND hospital_id = ? AND {where}
        ORDER BY weight DESC, indicator""", [scenario, year, hospital_id, *params])


def flagged_cases(scenario: str, year: int, index_code: str, hospital_id: str | None
                  ) -> pd.DataFrame:
    """Flagged cases of an index (one hospital, or all the reader may see), most extreme first.

    De-identified: the case's 清单流水号 and what flagged it, never the patient. The stay a
    readmission follows may be another hospital's: a hospital user sees that it was, not
    which hospital's case.
    """
    where, params = _scope("hospital_id")
    own = data.hospital_scope()
    one = "hospital_id = ?" if hospital_id else "TRUE"
    related = ("CASE WHEN related_hospital_id = ? OR related_case_id IS NULL THEN related_case_id "
               "ELSE '（他院病例）' END" if own else "related_case_id")
    return _query(f"""
        SELECT case_id, hospital_id, month, {related} AS related_case_id,
               {"NULL" if own else "related_hospital_id"} AS related_hospital_id,
               value AS flag_value, detail
        FROM supervision_cases
        WHERE scenario = ? AND year = ? AND index_code = ? AND {one} AND {where}
        ORDER BY value DESC, case_id
        LIMIT {LIST_LIMIT}""",
        [*([own] if own else []), scenario, year, index_code,
         *([hospital_id] if hospital_id else []), *params])


def flagged_counts(scenario: str, year: int) -> pd.DataFrame:
    """Flagged cases per index (over the hospitals the reader may see)."""
    where, params = _scope("hospital_id")
    region, region_params = _region()
    return _query(f"""SELECT index_code, count(*) AS n_flagged FROM supervision_cases
                      WHERE scenario = ? AND year = ? AND {where} AND {region}
                      GROUP BY index_code ORDER BY index_code""",
                  [scenario, year, *params, *region_params])


def anomalies(scenario: str, year: int) -> pd.DataFrame:
    """The hospital-months the isolation forest lists for review, most unusual first."""
    where, params = _scope("a.hospital_id")
    region, region_params = _region("a.region")
    params = [*params, *region_params]
    return _query(f"""
        WITH {_HOSP_CTE}
        SELECT a.hospital_id, h.hospital_name, a.month, a.n_cases, a.anomaly_score,
               a.rank AS anomaly_rank, a.reasons AS anomaly_reasons
        FROM supervision_anomalies a LEFT JOIN hosp h USING (hospital_id)
        WHERE a.scenario = ? AND a.year = ? AND a.flagged AND {where} AND {region}
        ORDER BY a.rank""", [scenario, year, *params])


# the region's figures of a diagnosis category beside a hospital's own
_UPCODE_REGION = ("region_mean_rw", "region_proc_rate", "region_severity_rate")


def upcoding_categories(scenario: str, year: int, hospital_id: str) -> pd.DataFrame:
    """编码高套 by diagnosis category for one hospital: where coding rose beyond expectation.

    The region's rates of a category are blank for a hospital user (``suppressed``) where
    fewer than ``access.suppression_min_hospitals`` other hospitals have cases in it.
    """
    where, params = _scope("hospital_id")
    own, floor = data.suppression_floor()
    region, region_params = _region()
    return _query(f"""
        WITH {data.LIMIT_CTE},
        k AS (SELECT dx3, count(DISTINCT hospital_id)
                          FILTER (WHERE hospital_id IS DISTINCT FROM ?) AS n_other
              FROM supervision_upcoding WHERE scenario = ? AND year = ? AND n_cases > 0
                AND {region}
              GROUP BY dx3)
        SELECT u.dx3, u.n_cases, u.mean_rw, u.prev_mean_rw, u.proc_rate, u.prev_proc_rate,
               u.severity_rate, u.prev_severity_rate, u.excess_proc_cases,
               u.excess_severity_cases,
               {data.guarded_columns([f"u.{c}" for c in _UPCODE_REGION],
                                     "coalesce(k.n_other, 0)")}
        FROM supervision_upcoding u LEFT JOIN k USING (dx3) CROSS JOIN lim
        WHERE u.scenario = ? AND u.year = ? AND u.hospital_id = ? AND {where}
        ORDER BY greatest(coalesce(u.excess_proc_cases, 0), coalesce(u.excess_severity_cases, 0))
                 DESC, u.dx3
        LIMIT {LIST_LIMIT}""",
        [floor, own, scenario, year, *region_params, scenario, year, hospital_id, *params])


def supervision_report_xlsx(scenario: str, year: int, hospital_id: str | None) -> bytes:
    """The 监管与考核 report (``dip-sim supervision-report``) as Excel bytes: one hospital's,
    or (bureau and expert only) the whole city's. A hospital user gets its own only."""
    import io

    from dip_sim.reports.supervision import write_supervision_report

    scope = data.hospital_scope()
    if scope is not None and hospital_id != scope:
        raise data.DataUnavailable("只能下载本院的监管与考核报告。", f"{hospital_id} 不是 {scope}")
    buffer = io.BytesIO()
    with data._reading() as con:
        write_supervision_report(con, scenario, year, buffer, hospital_id)
    return buffer.getvalue()
