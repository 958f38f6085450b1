"""Building ``case_issues``, ``case_status`` and ``case_features`` from the loaded tables.

- ``case_issues``: one row per (case, issue) with the issue's severity and a readable detail.
- ``case_status``: one row per input case (a case record, or a settlement without one), with
  ``status`` = the case's first critical issue, else its first warning, else ``ok``; and
  ``reason`` = every issue's detail, most severe first.
- ``case_features``: one row per case record (but conflicting duplicates), holding what
  grouping needs for every scenario: diagnosis subcategory (亚目, 5 characters) and category
  (类目, 3), the procedure keys derived at load (``all``: every valid non-conservative
  procedure, distinct, sorted, joined by ``+``; ``main_only``: the main procedure), the case's
  highest procedure class, cost and fund payment, and ``eligible`` (no critical issue).
"""

from __future__ import annotations

import duckdb

from dip_sim.quality.checks import CHECKS

_SEVERITY_RANK = {"critical": 0, "warning": 1}


def _issue_types_sql() -> str:
    rows = ", ".join(
        f"('{c.code}', '{c.severity}', {_SEVERITY_RANK[c.severity]}, {i}, '{c.label_zh}')"
        for i, c in enumerate(CHECKS))
    return f"SELECT * FROM (VALUES {rows}) AS t(code, severity, severity_rank, priority, label_zh)"


def recode_cases(con: duckdb.DuckDBPyConnection) -> None:
    """Derive the group-key parts of every loaded case again from its stored codes.

    Ingest derives them when a file loads (``dip_sim.ingest.standardise``); after the
    procedure classes change (``data/reference/proc_class_override.csv``) this brings the
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


def run_quality(con: duckdb.DuckDBPyConnection, cost_tolerance_yuan: float,
                recode: bool = False) -> dict[str, int]:
    """Run every check and rebuild the quality tables; return the count of cases by severity.

    With ``recode``, the group-key parts of every case are first derived again
    (:func:`recode_cases`).
    """
    if recode:
        recode_cases(con)
    con.execute("SET VARIABLE cost_tolerance_yuan = ?", [float(cost_tolerance_yuan)])
    checks = " UNION ALL ".join(
        f"SELECT '{c.code}' AS code, * FROM ({c.sql}) AS q(case_id, detail)" for c in CHECKS)
    # keys with several contents: few, so the checks and features treat them apart
    con.execute("""
        CREATE OR REPLACE TEMP TABLE dup_cases AS
        SELECT case_id FROM cases GROUP BY case_id HAVING count(*) > 1;
        CREATE OR REPLACE TEMP TABLE dup_settlements AS
        SELECT case_id FROM settlements GROUP BY case_id HAVING count(*) > 1;
    """)
    con.execute(f"""
        CREATE OR REPLACE TABLE issue_types AS {_issue_types_sql()};
        CREATE OR REPLACE TABLE case_issues AS
        SELECT i.case_id, i.code, t.severity, t.label_zh, i.detail
        FROM ({checks}) i JOIN issue_types t USING (code);
    """)
    con.execute("""
        CREATE OR REPLACE TABLE case_status AS
        WITH universe AS (
            SELECT case_id, year, hospital_id FROM cases ANTI JOIN dup_cases USING (case_id)
            UNION ALL
            SELECT case_id, min(year), min(hospital_id)
            FROM cases SEMI JOIN dup_cases USING (case_id) GROUP BY case_id
            UNION ALL
            SELECT case_id, min(CAST(year(settle_date) AS INTEGER)), NULL
            FROM settlements ANTI JOIN cases USING (case_id) GROUP BY case_id
        ), worst AS (
            SELECT i.case_id,
                   arg_min(i.code, t.severity_rank * 1000 + t.priority) AS status,
                   arg_min(i.severity, t.severity_rank * 1000 + t.priority) AS severity,
                   string_agg(t.label_zh || '：' || i.detail, '；'
                              ORDER BY t.severity_rank, t.priority) AS reason
            FROM case_issues i JOIN issue_types t USING (code)
            GROUP BY i.case_id
        )
        SELECT u.case_id, u.year, u.hospital_id,
               coalesce(w.status, 'ok') AS status,
               coalesce(w.severity, 'ok') AS severity,
               coalesce(w.reason, '') AS reason
        FROM universe u LEFT JOIN worst w USING (case_id);
    """)
    con.execute("""
        CREATE OR REPLACE TABLE case_features AS
        -- a case whose key has two contents is critical (duplicate_case) and never grouped:
        -- it has no features row; nor does a settlement without a case
        WITH c1 AS (
            SELECT case_id, year, discharge_date, hospital_id, insurance_type, main_dx,
                   proc_key_all, proc_key_main, proc_class_max, los_days
            FROM cases ANTI JOIN dup_cases USING (case_id)
        ), s1 AS (
            SELECT case_id, total_cost_yuan, fund_paid_yuan
            FROM settlements ANTI JOIN dup_settlements USING (case_id)
        )
        SELECT c1.case_id, c1.year, CAST(month(c1.discharge_date) AS INTEGER) AS month,
               c1.hospital_id, h.level, c1.insurance_type,
               substr(c1.main_dx, 1, 5) AS dx5, substr(c1.main_dx, 1, 3) AS dx3,
               c1.proc_key_all, c1.proc_key_main, c1.proc_class_max, c1.los_days,
               -- money in fen as DECIMAL: sums over cases are exact and order-independent
               CAST(s1.total_cost_yuan AS DECIMAL(18, 2)) AS total_cost_yuan,
               CAST(s1.fund_paid_yuan AS DECIMAL(18, 2)) AS fund_paid_yuan,
               crit.case_id IS NULL AS eligible
        FROM c1
        -- joined to the few critical cases, not to all statuses: a far smaller hash table
        LEFT JOIN (SELECT case_id FROM case_status WHERE severity = 'critical') crit
               ON crit.case_id = c1.case_id
        LEFT JOIN s1 ON s1.case_id = c1.case_id
        LEFT JOIN hospitals h ON h.hospital_id = c1.hospital_id;
    """)
    rows = con.execute("SELECT severity, count(*) FROM case_status GROUP BY severity").fetchall()
    return {severity: n for severity, n in rows}
