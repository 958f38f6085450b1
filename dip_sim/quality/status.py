"""Building ``quality_findings``, ``case_status`` and ``case_features`` from the loaded tables.

- ``quality_rules``: the rule catalogue the run used (``dip_sim.quality.checks``).
- ``quality_findings``: one row per (case, rule) found: severity, field, value and a detail
  naming the file, row and field.
- ``case_features``: one row per input case_id (a case record, or a settlement without one),
  holding what grouping needs for every scenario: diagnosis subcategory (亚目, 5 characters)
  and category (类目, 3), the procedure keys derived at load (``all``: every valid
  non-conservative procedure, distinct, sorted, joined by ``+``; ``main_only``: the main
  procedure), the case's highest procedure class, cost and fund payment; for supervision the
  pseudonymised patient, the dates, the discharge disposition and the drug, consumable and
  patient-paid amounts; ``eligible`` (no
  critical issue); and the verdict (NULL in the table when ``ok``): ``status`` = the case's
  first critical issue, else its first warning, else ``ok``, with ``severity`` and
  ``reason`` = every issue's detail, most severe first. A key with two different case
  records gets one row without features.
- ``case_status``: a view of ``case_features``' verdict columns (one row per input case).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import duckdb

from dip_sim.meta import get_meta, set_meta
from dip_sim.quality.checks import load_checks
from dip_sim.transaction import transaction

_SEVERITY_RANK = {"critical": 0, "warning": 1}
# how case_features stores its nearly unique texts (see dip_sim.contract.COMPRESSIONS: written
# in less than half the time, a scan or a join as fast)
FEATURES_COMPRESSION = {"case_id": "zstd", "patient_id": "zstd"}


def _write_rules(con: duckdb.DuckDBPyConnection) -> None:
    """Table ``quality_rules``: the catalogue as the run used it, with each rule's priority."""
    con.execute("""
        CREATE OR REPLACE TABLE quality_rules (
            rule VARCHAR, severity VARCHAR, severity_rank INTEGER, priority INTEGER,
            label_zh VARCHAR, label_en VARCHAR, field VARCHAR, source VARCHAR)""")
    con.executemany("INSERT INTO quality_rules VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [[c.code, c.severity, _SEVERITY_RANK[c.severity], i, c.label_zh,
                      c.label_en, c.field, c.source] for i, c in enumerate(load_checks())])


def recode_cases(con: duckdb.DuckDBPyConnection) -> None:
    """Derive the group-key parts of every loaded case again from its stored codes.

    Ingest derives them when a file loads (``dip_sim.ingest.standardise``); after the
    procedure classes change (``data/reference/proc_class_override.csv``,
    ``conservative_procedures.csv``) this brings the
    loaded cases up to date. Same rules: valid, non-conservative procedures, distinct, sorted.
    """
    con.execute("""
        CREATE OR REPLACE TEMP TABLE recoded AS
        WITH procs AS (
            SELECT case_id, row_hash, main_proc,
                   unnest(list_concat(CASE WHEN main_proc IS NULL THEN [] ELSE [main_proc] END,
                                      coalesce(string_split(other_procs, ';'), []))) AS code
            FROM cases WHERE main_proc IS NOT NULL OR other_procs IS NOT NULL
        )
        SELECT p.case_id, p.row_hash,
               coalesce(array_to_string(list_sort(list_distinct(
                   list(p.code) FILTER (WHERE r.proc_class <> 'conservative'))), '+'), '')
                   AS proc_key_all,
               coalesce(max(p.code) FILTER (WHERE p.code = p.main_proc
                                            AND r.proc_class <> 'conservative'), '')
                   AS proc_key_main,
               max(r.class_rank) AS class_rank_max
        FROM procs p JOIN ref_proc r USING (code)
        GROUP BY p.case_id, p.row_hash;
        UPDATE cases SET proc_key_all = '', proc_key_main = '', proc_class_max = 'conservative';
        UPDATE cases SET proc_key_all = k.proc_key_all, proc_key_main = k.proc_key_main,
                         proc_class_max = rank.proc_class
        FROM recoded k JOIN ref_proc_class_rank rank ON rank.class_rank = k.class_rank_max
        WHERE cases.case_id = k.case_id AND cases.row_hash = k.row_hash;
        DROP TABLE recoded;
    """)


def dup_keys_sql() -> str:
    """Temp tables ``dup_cases`` and ``dup_settlements``: the keys with several contents, as
    each ingest recorded them (``duplicate_keys``); few, so they are treated apart."""
    return """
        CREATE OR REPLACE TEMP TABLE dup_cases AS
        SELECT DISTINCT case_id FROM duplicate_keys WHERE kind = 'cases';
        CREATE OR REPLACE TEMP TABLE dup_settlements AS
        SELECT DISTINCT case_id FROM duplicate_keys WHERE kind = 'settlements'"""


def _years(con: duckdb.DuckDBPyConnection) -> list[int]:
    """The years the loaded cases were discharged and their settlements settled in."""
    return [r[0] for r in con.execute("""
        SELECT year FROM cases WHERE year IS NOT NULL
        UNION SELECT CAST(year(settle_date) AS INTEGER) FROM settlements
        WHERE settle_date IS NOT NULL
        ORDER BY 1""").fetchall()]


def _year_rows(table: str, year: int | None, keep: str = "") -> str:
    """The rows of ``cases`` (by discharge year) or ``settlements`` (by settlement date) of
    ``year`` (None: the rows without one); ``keep``: a join clause applied first."""
    if table == "cases":
        where = "year IS NULL" if year is None else f"year = {year}"
    elif year is None:
        where = "settle_date IS NULL"
    else:  # a date range, which the scan skips blocks by
        where = f"settle_date >= DATE '{year}-01-01' AND settle_date < DATE '{year + 1}-01-01'"
    return f"(SELECT * FROM {table} {keep} WHERE {where})"


def unmatched_keys_sql() -> str:
    """Temp table ``unmatched_keys`` (as :func:`find_unmatched_keys` makes it) from one join of
    every key: for a few rows (a request to the API), where one statement costs less than
    the year parts' several."""
    return """
        CREATE OR REPLACE TEMP TABLE unmatched_keys AS
        SELECT coalesce(c.case_id, s.case_id) AS case_id, c.case_id IS NOT NULL AS has_case,
               s.case_id IS NOT NULL AS has_settlement
        FROM (SELECT case_id, key_hash FROM cases) c
        FULL OUTER JOIN (SELECT case_id, key_hash FROM settlements) s
          ON s.key_hash = c.key_hash AND s.case_id = c.case_id
        WHERE c.case_id IS NULL OR s.case_id IS NULL"""


def find_unmatched_keys(con: duckdb.DuckDBPyConnection) -> None:
    """Temp tables ``unmatched_keys``: each case number found in only one of ``cases`` and
    ``settlements``, with ``has_case`` and ``has_settlement`` (what the checks for a record
    without the other read; one row per such record, as the one join of the two tables
    gives); and ``cross_year_keys``: the case numbers :func:`feature_parts` leaves to its
    last part (a case and its settlement in different years, a year unknown, or several
    contents: ``dup_cases``, ``dup_settlements``).

    The keys are matched a year at a time (the join of 40M keys at once spills), the
    stored key fingerprint with the number itself (exact, and faster than on the number
    alone). A record left without its other half in its year (or without a year) is then
    looked for among all the records of the other table.
    """
    # each year's records left without their other half; every record without a year
    strays = [
        f"""SELECT coalesce(c.case_id, s.case_id) AS case_id,
                   coalesce(c.key_hash, s.key_hash) AS key_hash,
                   c.case_id IS NOT NULL AS has_case, true AS dated
            FROM {_year_rows('cases', y)} c
            FULL OUTER JOIN {_year_rows('settlements', y)} s
              ON s.key_hash = c.key_hash AND s.case_id = c.case_id
            WHERE c.case_id IS NULL OR s.case_id IS NULL"""
        for y in _years(con)]
    strays += [f"SELECT case_id, key_hash, {has_case} AS has_case, false AS dated "
               f"FROM {_year_rows(table, None)}"
               for table, has_case in (("cases", "true"), ("settlements", "false"))]
    # one statement a part: a UNION ALL of the parts would hold all their joins at once
    con.execute("CREATE OR REPLACE TEMP TABLE key_strays "
                "(case_id VARCHAR, key_hash UBIGINT, has_case BOOLEAN, dated BOOLEAN)")
    for part in strays:
        con.execute(f"INSERT INTO key_strays {part}")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE key_sides AS
        SELECT k.case_id, k.has_case, k.dated,
               (CASE WHEN k.has_case THEN s.case_id ELSE c.case_id END) IS NOT NULL AS elsewhere
        FROM key_strays k
        LEFT JOIN (SELECT DISTINCT case_id, key_hash FROM settlements
                   SEMI JOIN key_strays USING (key_hash)) s
               ON k.has_case AND s.key_hash = k.key_hash AND s.case_id = k.case_id
        LEFT JOIN (SELECT DISTINCT case_id, key_hash FROM cases
                   SEMI JOIN key_strays USING (key_hash)) c
               ON NOT k.has_case AND c.key_hash = k.key_hash AND c.case_id = k.case_id;
        CREATE OR REPLACE TEMP TABLE unmatched_keys AS
        SELECT case_id, has_case, NOT has_case AS has_settlement FROM key_sides
        WHERE NOT elsewhere;
        CREATE OR REPLACE TEMP TABLE cross_year_keys AS
        SELECT case_id FROM key_sides WHERE elsewhere OR NOT dated
        UNION SELECT case_id FROM dup_cases
        UNION SELECT case_id FROM dup_settlements;
        DROP TABLE key_strays;
        DROP TABLE key_sides""")


def feature_parts(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    """The parts :func:`features_select_sql` is computed in, as (label, cases, settlements):
    the part's name for the progress lines and its two relations. One part per year, each
    the cases of that year and the settlements settled in it, then one of the case numbers in
    ``cross_year_keys`` (:func:`find_unmatched_keys`). Every case number falls in one part
    with all its rows, so the parts together are the whole join.

    Why: the join of every case with its settlement holds one side in memory. At 40M cases
    it no longer fits the memory cap and spills (ten times the time of a quarter of the
    cases); a year of cases fits. The cases and settlements are loaded a file, often a year,
    at a time, so a year's part mostly reads its own blocks.
    """
    skip = "ANTI JOIN cross_year_keys USING (case_id)"
    parts = [(f"{y} 年", _year_rows("cases", y, skip), _year_rows("settlements", y, skip))
             for y in _years(con)]
    parts.append(("跨年度、无年度或多版本的病例",
                  "(SELECT * FROM cases SEMI JOIN cross_year_keys USING (case_id))",
                  "(SELECT * FROM settlements SEMI JOIN cross_year_keys USING (case_id))"))
    return parts


def features_select_sql(cases: str = "cases", settlements: str = "settlements") -> str:
    """SELECT of the case features before their verdicts (every case ok: ``status`` NULL)
    from ``cases``, ``settlements`` (or relations of some of their rows: :func:`feature_parts`),
    ``dup_cases``, ``dup_settlements`` and ``hospitals``.

    One full outer join of cases and settlements keeps both the cases without a settlement
    and the settlements without a case (each one row, not grouped: its verdict says why).
    """
    return f"""
        WITH c AS (
            SELECT case_id, year, discharge_date, hospital_id, insurance_type, main_dx,
                   proc_key_all, proc_key_main, proc_class_max, los_days,
                   -- ICU days as given, else the 结算清单's 重症监护合计时长 in days begun
                   coalesce(icu_days, CAST(ceil(icu_hours / 24) AS INTEGER)) AS icu_days,
                   patient_id, admit_date, discharge_disposition
            FROM {cases} cases ANTI JOIN dup_cases USING (case_id)
            UNION ALL
            -- a key with two contents: one row, not grouped (its status says why)
            SELECT case_id, min(year), NULL, min(hospital_id), NULL, NULL, NULL, NULL, NULL,
                   NULL, NULL, NULL, NULL, NULL
            FROM {cases} cases SEMI JOIN dup_cases USING (case_id) GROUP BY case_id
        ), s AS (
            SELECT case_id, total_cost_yuan, fund_paid_yuan,
                   CAST(year(settle_date) AS INTEGER) AS settle_year,
                   drug_yuan, consumable_yuan, patient_paid_yuan
            FROM {settlements} settlements ANTI JOIN dup_settlements USING (case_id)
            UNION ALL
            SELECT case_id, NULL, NULL, min(CAST(year(settle_date) AS INTEGER)), NULL, NULL, NULL
            FROM {settlements} settlements SEMI JOIN dup_settlements USING (case_id)
            GROUP BY case_id
        )
        SELECT coalesce(c.case_id, s.case_id) AS case_id,
               coalesce(c.year, s.settle_year) AS year,
               CAST(month(c.discharge_date) AS INTEGER) AS month,
               c.hospital_id, h.level, c.insurance_type,
               substr(c.main_dx, 1, 5) AS dx5, substr(c.main_dx, 1, 3) AS dx3,
               c.proc_key_all, c.proc_key_main, c.proc_class_max, c.los_days, c.icu_days,
               -- money in fen as DECIMAL: sums over cases are exact and order-independent
               CAST(s.total_cost_yuan AS DECIMAL(18, 2)) AS total_cost_yuan,
               CAST(s.fund_paid_yuan AS DECIMAL(18, 2)) AS fund_paid_yuan,
               -- for supervision (dip_sim/supervise): the patient's stays in order, and the
               -- cost structure, without joining the large input tables again
               c.patient_id, c.admit_date, c.discharge_date, c.discharge_disposition,
               CAST(s.drug_yuan AS DECIMAL(18, 2)) AS drug_yuan,
               CAST(s.consumable_yuan AS DECIMAL(18, 2)) AS consumable_yuan,
               CAST(s.patient_paid_yuan AS DECIMAL(18, 2)) AS patient_paid_yuan,
               c.case_id IS NOT NULL AS has_case, s.case_id IS NOT NULL AS has_settlement,
               c.case_id IS NOT NULL AND s.case_id IS NOT NULL AS eligible,
               -- the verdict, joined on after the checks (NULL: ok)
               NULL::VARCHAR AS status, NULL::VARCHAR AS severity, NULL::VARCHAR AS reason
        FROM c FULL OUTER JOIN s ON s.case_id = c.case_id
        LEFT JOIN hospitals h ON h.hospital_id = c.hospital_id"""


def findings_sql() -> str:
    """SELECT of every rule's findings, (case, rule) with severity, field, value and detail: the
    rows of ``quality_findings``, from the tables the checks read (module docstring of
    :mod:`dip_sim.quality.checks`) and ``quality_rules``."""
    checks = " UNION ALL ".join(
        f"SELECT '{c.code}' AS rule, case_id, CAST(value AS VARCHAR) AS value, detail "
        f"FROM ({c.sql}) AS q(case_id, value, detail)" for c in load_checks())
    return f"""
        SELECT i.case_id, i.rule, t.severity, t.field, i.value, t.label_zh, i.detail
        FROM ({checks}) i JOIN quality_rules t USING (rule)"""


def worst_sql(findings: str) -> str:
    """SELECT of each case's verdict from its findings (table ``findings``): ``status`` = its
    first critical finding in the catalogue's order, else its first warning; ``severity``;
    ``reason`` = every finding's detail, most severe first."""
    return f"""
        SELECT i.case_id,
               arg_min(i.rule, t.severity_rank * 1000 + t.priority) AS status,
               arg_min(i.severity, t.severity_rank * 1000 + t.priority) AS severity,
               string_agg(t.label_zh || '：' || i.detail, '；'
                          ORDER BY t.severity_rank, t.priority) AS reason
        FROM {findings} i JOIN quality_rules t USING (rule)
        GROUP BY i.case_id"""


def verdicts_sql(base: str, worst: str) -> str:
    """SELECT of ``case_features``: the features (``base``, a table or a parenthesised SELECT:
    :func:`features_select_sql`) with each case's verdict (table ``worst``, :func:`worst_sql`);
    a case with a critical finding is not eligible."""
    return f"""
        SELECT b.* REPLACE (w.status AS status, w.severity AS severity, w.reason AS reason,
                            b.eligible AND w.severity IS DISTINCT FROM 'critical' AS eligible)
        FROM {base} b LEFT JOIN {worst} w USING (case_id)"""


def run_quality(con: duckdb.DuckDBPyConnection, cost_tolerance_yuan: float,
                payment_tolerance_yuan: float, recode: bool = False,
                progress: Callable[[str], None] = lambda _line: None) -> dict[str, int]:
    """Run every check and rebuild the quality tables; return the count of cases by severity.

    With ``recode``, the group-key parts of every case are first derived again
    (:func:`recode_cases`). The checks read the loaded tables (and the case numbers found in
    only one of them, :func:`find_unmatched_keys`); then ``case_features`` is written once,
    straight from the join of cases and settlements, a year at a time (:func:`feature_parts`),
    each case with its verdict: no table of every case's features is kept in between (at 40M
    cases it would not fit in memory). ``case_status`` is a view of ``case_features``: one
    table of 10M rows written, not two.
    Everything is written in one transaction: a failed or interrupted run leaves the previous
    quality tables (and the loaded cases, for ``recode``) as they were. ``progress`` is told
    each step's time as it ends.
    """
    with transaction(con):
        return _run_quality(con, cost_tolerance_yuan, payment_tolerance_yuan, recode, progress)


def _run_quality(con: duckdb.DuckDBPyConnection, cost_tolerance_yuan: float,
                 payment_tolerance_yuan: float, recode: bool,
                 progress: Callable[[str], None]) -> dict[str, int]:
    """The body of :func:`run_quality`, in its transaction."""
    started = time.perf_counter()
    if recode:
        recode_cases(con)
    # the checks read the parameters by their own names (as the simulation's SQL does)
    con.execute('SET VARIABLE "quality.cost_breakdown_tolerance_yuan" = ?::DOUBLE',
                [float(cost_tolerance_yuan)])
    con.execute('SET VARIABLE "quality.payment_split_tolerance_yuan" = ?::DOUBLE',
                [float(payment_tolerance_yuan)])
    con.execute(dup_keys_sql())
    con.execute("DROP VIEW IF EXISTS case_status; DROP TABLE IF EXISTS case_status")
    find_unmatched_keys(con)
    _write_rules(con)
    con.execute("DROP TABLE IF EXISTS case_issues; DROP TABLE IF EXISTS issue_types")
    con.execute(f"CREATE OR REPLACE TABLE quality_findings AS {findings_sql()}")
    # the table is written once, with its verdicts: an UPDATE of 10M fresh rows inside the
    # run's transaction cost several seconds more at commit
    con.execute(f"CREATE OR REPLACE TEMP TABLE worst AS {worst_sql('quality_findings')}")
    progress(f"  规则检查 ({time.perf_counter() - started:.1f} 秒)")
    parts = [(label, verdicts_sql(f"({features_select_sql(cases, settlements)})", "worst"))
             for label, cases, settlements in feature_parts(con)]
    columns = ", ".join(
        f"{name} {type_}" + (f" USING COMPRESSION {FEATURES_COMPRESSION[name]}"
                             if name in FEATURES_COMPRESSION else "")
        for name, type_, *_ in con.execute(f"DESCRIBE {parts[-1][1]}").fetchall())
    con.execute(f"CREATE OR REPLACE TABLE case_features ({columns})")
    for label, part in parts:
        started = time.perf_counter()
        con.execute(f"INSERT INTO case_features {part}")
        progress(f"  病例特征：{label} ({time.perf_counter() - started:.1f} 秒)")
    con.execute("""
        DROP TABLE worst;
        DROP TABLE unmatched_keys;
        DROP TABLE cross_year_keys;
        CREATE VIEW case_status AS
        SELECT case_id, year, hospital_id, coalesce(status, 'ok') AS status,
               coalesce(severity, 'ok') AS severity, coalesce(reason, '') AS reason
        FROM case_features;
    """)
    set_meta(con, "quality_batch_id", get_meta(con, "loaded_batch_id"))
    rows = con.execute("SELECT severity, count(*) FROM case_status GROUP BY severity").fetchall()
    return {severity: n for severity, n in rows}
