"""Per-hospital files in ``data/policy/lists/``: assessment results, deductions, coefficient bonus.

- ``settlement.assessment_file``: CSV ``hospital_id,coefficient,withhold_release,note`` — the
  year's assessment coefficient (× the DIP amount) and the share of the withheld quality
  deposit released at year end (1 = all). A hospital not listed: 1 and 1.
- ``settlement.deductions_file``: CSV ``hospital_id,month,amount_yuan,reason`` — review
  deductions (审核扣款), taken from that month's prepayment and from the year-end amount.

Each is checked row by row; a bad value is refused naming the file, the row and the field.
"""

from __future__ import annotations

import duckdb

from dip_sim.policy import PolicyError
from dip_sim.policy.lists import number, read_list

DECISIONS = ("approved", "rejected")
METHODS = ("by_item", "adjusted")


def set_special_review_tables(con: duckdb.DuckDBPyConnection, new_technology_file: str | None,
                              decisions_file: str | None) -> None:
    """``run_new_technology`` (prefix, note) and ``run_decisions`` (case_id, decision, method,
    points, reviewer, date, note) for ``special_cases.sql``; empty when no file is named."""
    import datetime as dt

    con.execute("""
        CREATE OR REPLACE TEMP TABLE run_new_technology (prefix VARCHAR, note VARCHAR);
        CREATE OR REPLACE TEMP TABLE run_decisions (case_id VARCHAR, decision VARCHAR,
            method VARCHAR, points DOUBLE, reviewer VARCHAR, date DATE, note VARCHAR);""")
    if new_technology_file:
        _, rows = read_list(new_technology_file, ("prefix",), "新技术名单")
        values = [[r["prefix"].strip(), (r.get("note") or "").strip()] for r in rows
                  if r["prefix"].strip()]
        if values:
            con.executemany("INSERT INTO run_new_technology VALUES (?, ?)", values)
    if decisions_file:
        file, rows = read_list(decisions_file, ("case_id", "decision", "method", "reviewer", "date"),
                                "特例单议评议")
        values = []
        for n, r in enumerate(rows, start=2):
            decision, method = r["decision"].strip(), r["method"].strip() or "by_item"
            if decision not in DECISIONS:
                raise PolicyError(f"{file} 第 {n} 行 decision: {decision!r} 应为 {list(DECISIONS)}")
            if method not in METHODS:
                raise PolicyError(f"{file} 第 {n} 行 method: {method!r} 应为 {list(METHODS)}")
            points = None
            if method == "adjusted" and decision == "approved":
                points = number(file, n, "points", r.get("points") or "", 0, None)
            try:
                date = dt.date.fromisoformat(r["date"].strip())
            except ValueError:
                raise PolicyError(f"{file} 第 {n} 行 date: {r['date']!r} 不是 YYYY-MM-DD") from None
            values.append([r["case_id"].strip(), decision, method, points,
                           r["reviewer"].strip(), date, (r.get("note") or "").strip()])
        if values:
            con.executemany("INSERT INTO run_decisions VALUES (?, ?, ?, ?, ?, ?, ?)", values)


def set_settlement_tables(con: duckdb.DuckDBPyConnection, assessment_file: str | None,
                          deductions_file: str | None, bonus_file: str | None = None) -> None:
    """``run_assessment`` (hospital_id, coefficient, withhold_release), ``run_deductions``
    (hospital_id, month, amount_yuan, reason) and ``run_bonus`` (hospital_id, bonus: added to
    its level coefficient, ``coefficients.bonus_file``), empty when no file is named."""
    con.execute("""
        CREATE OR REPLACE TEMP TABLE run_assessment (hospital_id VARCHAR, coefficient DOUBLE,
            withhold_release DOUBLE);
        CREATE OR REPLACE TEMP TABLE run_deductions (hospital_id VARCHAR, month INTEGER,
            amount_yuan DOUBLE, reason VARCHAR);
        CREATE OR REPLACE TEMP TABLE run_bonus (hospital_id VARCHAR, bonus DOUBLE,
            reason VARCHAR);""")
    if bonus_file:
        file, rows = read_list(bonus_file, ("hospital_id", "bonus"), "医院加成")
        values = [[r["hospital_id"].strip(), number(file, n, "bonus", r["bonus"], -1, 1),
                   (r.get("reason") or "").strip()] for n, r in enumerate(rows, start=2)]
        if values:
            con.executemany("INSERT INTO run_bonus VALUES (?, ?, ?)", values)
    if assessment_file:
        file, rows = read_list(assessment_file, ("hospital_id", "coefficient", "withhold_release"),
                               "考核结果")
        values = [[r["hospital_id"].strip(),
                   number(file, n, "coefficient", r["coefficient"], 0, None),
                   number(file, n, "withhold_release", r["withhold_release"], 0, 1)]
                  for n, r in enumerate(rows, start=2)]
        if values:
            con.executemany("INSERT INTO run_assessment VALUES (?, ?, ?)", values)
    if deductions_file:
        file, rows = read_list(deductions_file, ("hospital_id", "month", "amount_yuan"), "审核扣款")
        values = [[r["hospital_id"].strip(), int(number(file, n, "month", r["month"], 1, 12)),
                   number(file, n, "amount_yuan", r["amount_yuan"], 0, None),
                   (r.get("reason") or "").strip()]
                  for n, r in enumerate(rows, start=2)]
        if values:
            con.executemany("INSERT INTO run_deductions VALUES (?, ?, ?, ?)", values)
