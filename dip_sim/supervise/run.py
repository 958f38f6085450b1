"""Running supervision and assessment for a scenario: flags, indices, scores, anomalies.

:func:`compute_supervision` runs on the grouping of a scenario, either the one a simulation
run is making (its temp tables ``mart_case_groups`` / ``mart_catalog_groups``, when the
settlement takes its assessment coefficient from the scheme) or one already in the warehouse
(``case_groups`` / ``catalog_groups``: ``dip-sim supervise``). It leaves the ``mart_*`` temp
tables of :data:`dip_sim.supervise.tables.SUPERVISION_MARTS`; :func:`supervise` writes them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from importlib import resources
from typing import Any

import duckdb

from dip_sim.policy import PolicyError
from dip_sim.policy.lists import number, read_list
from dip_sim.reference.auxiliary import load_auxiliary_reference
from dip_sim.reports.quality import hospital_quality_sql
from dip_sim.supervise.anomaly import screen_anomalies
from dip_sim.supervise.tables import SUPERVISION_DDL, SUPERVISION_MARTS
from dip_sim.transaction import transaction

Progress = Callable[[str], None]


class SupervisionError(RuntimeError):
    """The warehouse cannot support supervision; the message says what to run."""

MEASURES = ("value", "ratio", "z")


def _sql(name: str) -> str:
    return resources.files("dip_sim.supervise").joinpath(name).read_text(encoding="utf-8")


def set_supervision_tables(con: duckdb.DuckDBPyConnection, scenario: str,
                           values: dict[str, Any]) -> None:
    """The run's supervision parameters as temp tables ``run_sv_*`` and ``run_assessment_*``."""
    outpatient: list[str] = []
    file = values["supervision.outpatient_conditions_file"]
    if file:
        name, rows = read_list(file, ("dx_prefix",), "门诊病种清单")
        outpatient = [r["dx_prefix"].strip() for r in rows if r["dx_prefix"].strip()]
        if not outpatient:
            raise PolicyError(f"{name}: 门诊病种清单为空")
        # matched against the diagnosis subcategory (亚目, 5 characters) of case_features
        too_long = [(i, p) for i, p in enumerate(outpatient, start=2) if len(p) > 5]
        if too_long:
            row, prefix = too_long[0]
            raise PolicyError(f"{name} 第 {row} 行 dx_prefix: {prefix!r} 超过 5 个字符"
                              "（按诊断亚目匹配，如 E11.9）")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE run_sv_params AS
        SELECT ?::VARCHAR AS scenario, ?::INTEGER AS split_max_gap_days,
               ?::DOUBLE AS low_admission_ratio, ?::INTEGER AS low_admission_max_los_days,
               ?::BOOLEAN AS outpatient_filter, ?::DOUBLE AS long_stay_multiple,
               ?::INTEGER AS long_stay_days, ?::DOUBLE AS low_risk_mortality,
               ?::INTEGER AS low_risk_min_cases""",
        [scenario, values["supervision.split_max_gap_days"],
         values["supervision.low_admission_ratio"],
         values["supervision.low_admission_max_los_days"], bool(file),
         values["supervision.long_stay_multiple"], values["supervision.long_stay_days"],
         values["supervision.low_risk_mortality"], values["supervision.low_risk_min_cases"]])
    con.execute("CREATE OR REPLACE TEMP TABLE run_sv_windows AS "
                "SELECT DISTINCT unnest(?::INTEGER[]) AS days", [values["supervision.readmit_days"]])
    con.execute("CREATE OR REPLACE TEMP TABLE run_sv_excluded AS SELECT unnest(?::INTEGER[]) AS code",
                [values["supervision.readmit_excluded_dispositions"]])
    con.execute("CREATE OR REPLACE TEMP TABLE run_sv_outpatient AS "
                "SELECT unnest(?::VARCHAR[]) AS dx_prefix", [outpatient])
    _set_assessment_tables(con, values)


def _set_assessment_tables(con: duckdb.DuckDBPyConnection, values: dict[str, Any]) -> None:
    """``run_assessment_scheme`` from the scheme file and ``run_assessment_bands``."""
    con.execute("""CREATE OR REPLACE TEMP TABLE run_assessment_scheme (indicator VARCHAR,
                   measure VARCHAR, weight DOUBLE, full_at DOUBLE, zero_at DOUBLE,
                   label VARCHAR)""")
    file = values["assessment.scheme_file"]
    if file:
        name, rows = read_list(file, ("indicator", "measure", "weight", "full_at", "zero_at"),
                               "考核方案")
        scheme = []
        for i, r in enumerate(rows, start=2):  # row 1 is the header
            if r["measure"] not in MEASURES:
                raise PolicyError(f"{name} 第 {i} 行 measure: {r['measure']!r} 应为 "
                                  f"{'/'.join(MEASURES)}")
            full = number(name, i, "full_at", r["full_at"], float("-inf"), None)
            zero = number(name, i, "zero_at", r["zero_at"], float("-inf"), None)
            if full == zero:
                raise PolicyError(f"{name} 第 {i} 行: full_at 与 zero_at 不能相等")
            scheme.append((r["indicator"].strip(), r["measure"],
                           number(name, i, "weight", r["weight"], 0, None), full, zero,
                           (r.get("label") or r["indicator"]).strip()))
        con.executemany("INSERT INTO run_assessment_scheme VALUES (?, ?, ?, ?, ?, ?)", scheme)
    bands = [("coefficient", lower, value)
             for lower, value in values["assessment.coefficient_bands"]]
    bands += [("withhold_release", lower, value)
              for lower, value in values["assessment.withhold_release_bands"]]
    con.execute("CREATE OR REPLACE TEMP TABLE run_assessment_bands (kind VARCHAR, lower DOUBLE, "
                "value DOUBLE)")
    con.executemany("INSERT INTO run_assessment_bands VALUES (?, ?, ?)", bands)


def compute_supervision(con: duckdb.DuckDBPyConnection, scenario: str, values: dict[str, Any],
                        from_run: bool, progress: Progress = print) -> None:
    """Compute every supervision and assessment mart for ``scenario``.

    ``from_run``: read the grouping a simulation run is making (its temp marts) rather than
    the scenario's rows in the warehouse.
    """
    started = time.perf_counter()
    columns = {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'case_features'"
    ).fetchall()}
    if "patient_id" not in columns:
        raise SupervisionError("病案质控结果由旧版本生成，缺少监管所需的字段（患者、日期、费用构成）："
                               "请先运行 dip-sim quality")
    set_supervision_tables(con, scenario, values)
    if from_run:
        con.execute("CREATE OR REPLACE TEMP VIEW sv_groups AS SELECT case_id, year, hospital_id, "
                    "group_code, grouped FROM mart_case_groups")
        con.execute("CREATE OR REPLACE TEMP VIEW sv_catalog AS SELECT group_code, rw, "
                    "mean_cost_yuan, mean_los_days FROM mart_catalog_groups")
    else:
        con.execute(f"""CREATE OR REPLACE TEMP VIEW sv_groups AS SELECT case_id, year, hospital_id,
                        group_code, grouped FROM case_groups WHERE scenario = '{_quoted(scenario)}'""")
        con.execute(f"""CREATE OR REPLACE TEMP VIEW sv_catalog AS SELECT group_code, rw,
                        mean_cost_yuan, mean_los_days FROM catalog_groups
                        WHERE scenario = '{_quoted(scenario)}'""")
    if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary "
                       "AND table_name = 'aux_dx_charlson'").fetchall()[0][0]:
        load_auxiliary_reference(con)
    con.execute(_sql("cases.sql"))
    progress(f"  [{scenario}] 监管指标：病例标记 ({time.perf_counter() - started:.1f} 秒)")
    con.execute(_sql("hospitals.sql"))
    _add_quality_rows(con, values)
    _rank(con, scenario)
    _check_scheme(con, values["assessment.scheme_file"])
    con.execute(_sql("assessment.sql"))
    progress(f"  [{scenario}] 监管指标与绩效考核 ({time.perf_counter() - started:.1f} 秒)")
    screen_anomalies(con, scenario, values)
    progress(f"  [{scenario}] 异常筛查 ({time.perf_counter() - started:.1f} 秒)")


def _check_scheme(con: duckdb.DuckDBPyConnection, file: str | None) -> None:
    """Refuse a scheme indicator that is no index of this run (a typo, or a readmission
    window the parameters do not compute): it would silently earn no points."""
    unknown = [r[0] for r in con.execute("""
        SELECT indicator FROM run_assessment_scheme
        WHERE indicator NOT IN (SELECT index_code FROM mart_supervision_hospitals)
        ORDER BY indicator""").fetchall()]
    if unknown:
        known = [r[0] for r in con.execute("SELECT DISTINCT index_code FROM "
                                           "mart_supervision_hospitals ORDER BY 1").fetchall()]
        raise PolicyError(f"考核方案 {file} 的指标 {', '.join(unknown)} 不是本次计算的监管指数"
                          f"（可用：{', '.join(known)}）")


def _quoted(text: str) -> str:
    return text.replace("'", "''")


def _add_quality_rows(con: duckdb.DuckDBPyConnection, values: dict[str, Any]) -> None:
    """The 病案质量指数 (dip_sim.reports.quality) of every hospital-year, with the region's."""
    weights = [values["quality.index_weight_critical"], values["quality.index_weight_warning"]]
    con.execute(f"CREATE OR REPLACE TEMP TABLE sv_quality AS {hospital_quality_sql()}", weights)
    # the region's index: the same formula over all its cases
    con.execute("""
        INSERT INTO sv_hospital_rows
        SELECT q.year, q.hospital_id, 'quality_index', q.n_cases, q.n_critical_cases,
               q.quality_index, r.region_index, q.quality_index / nullif(r.region_index, 0),
               NULL, NULL
        FROM sv_quality q
        JOIN (SELECT year, greatest(0, 100 - (? * sum(n_critical_findings)
                                              + ? * sum(n_warning_findings))
                                             / sum(n_cases) * 100) AS region_index
              FROM sv_quality GROUP BY year) r USING (year)
        WHERE q.hospital_id IN (SELECT hospital_id FROM sv_hospital_base)""", weights)


def _rank(con: duckdb.DuckDBPyConnection, scenario: str) -> None:
    """``mart_supervision_hospitals``: the rows with last year's value and a rank per index.

    Rank 1 is the hospital to look at first: the highest z score where the index has one;
    else the highest ratio to the region (or value); for the quality index, the lowest.
    """
    con.execute("""
        CREATE OR REPLACE TEMP TABLE mart_supervision_hospitals AS
        SELECT ?::VARCHAR AS scenario, year, hospital_id, index_code, n_base, n_flagged, value,
               region_value, ratio_to_region, expected, z_score,
               CASE WHEN lag(year) OVER h = year - 1 THEN lag(value) OVER h END AS prev_value,
               rank() OVER (PARTITION BY year, index_code ORDER BY
                   coalesce(z_score, CASE WHEN index_code = 'quality_index' THEN -value
                                          ELSE coalesce(ratio_to_region, value) END)
                   DESC NULLS LAST)::INTEGER AS rank
        FROM sv_hospital_rows
        WINDOW h AS (PARTITION BY hospital_id, index_code ORDER BY year)""", [scenario])


def persist_supervision(con: duckdb.DuckDBPyConnection, scenario: str) -> None:
    """Replace ``scenario``'s rows of every supervision table by the run's marts.

    Called inside the caller's transaction when there is one.
    """
    for table, ddl in SUPERVISION_DDL.items():
        con.execute(ddl)
        con.execute(f"DELETE FROM {table} WHERE scenario = ?", [scenario])
        columns = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
        con.execute(f"INSERT INTO {table} BY NAME SELECT {', '.join(columns)} "
                    f"FROM {SUPERVISION_MARTS[table]}")


def supervise(con: duckdb.DuckDBPyConnection, scenario: str, values: dict[str, Any],
              progress: Progress = print) -> dict[str, int]:
    """Compute supervision for a simulated ``scenario`` and store it; counts of what it found.

    One transaction, or part of the caller's (several scenarios stored together).
    """
    known = con.execute("SELECT count(*) FROM case_groups WHERE scenario = ?",
                        [scenario]).fetchall()[0][0]
    if not known:
        raise SupervisionError(f"情景 {scenario} 没有分组结果：请先运行 dip-sim simulate")
    with transaction(con):
        compute_supervision(con, scenario, values, from_run=False, progress=progress)
        persist_supervision(con, scenario)
        counts = dict(con.execute("SELECT index_code, count(*) FROM mart_supervision_cases "
                                  "GROUP BY ALL ORDER BY ALL").fetchall())
        counts["anomalies"] = con.execute("SELECT count(*) FROM mart_supervision_anomalies "
                                          "WHERE flagged").fetchall()[0][0]
    return counts
