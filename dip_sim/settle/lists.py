"""The settlement's per-hospital files in ``data/policy/lists/``: assessment results and review
deductions.

- ``settlement.assessment_file``: CSV ``hospital_id,coefficient,withhold_release,note`` — the
  year's assessment coefficient (× the DIP amount) and the share of the withheld quality
  deposit released at year end (1 = all). A hospital not listed: 1 and 1.
- ``settlement.deductions_file``: CSV ``hospital_id,month,amount_yuan,reason`` — review
  deductions (审核扣款), taken from that month's prepayment and from the year-end amount.

Each is checked row by row; a bad value is refused naming the file, the row and the field.
"""

from __future__ import annotations

from typing import Any

import duckdb

from dip_sim.policy.lists import number, read_list


def settlement_tables(con: duckdb.DuckDBPyConnection, run: Any) -> None:
    """``run_assessment_file`` (hospital_id, coefficient, withhold_release) and
    ``run_deductions`` (hospital_id, month, amount_yuan, reason), empty when no file is named."""
    con.execute("""
        CREATE OR REPLACE TEMP TABLE run_assessment_file (hospital_id VARCHAR,
            coefficient DOUBLE, withhold_release DOUBLE);
        CREATE OR REPLACE TEMP TABLE run_deductions (hospital_id VARCHAR, month INTEGER,
            amount_yuan DOUBLE, reason VARCHAR);""")
    assessment_file = run.values["settlement.assessment_file"]
    if assessment_file:
        file, rows = read_list(assessment_file, ("hospital_id", "coefficient", "withhold_release"),
                               "考核结果")
        values = [[r["hospital_id"].strip(),
                   number(file, n, "coefficient", r["coefficient"], 0, None),
                   number(file, n, "withhold_release", r["withhold_release"], 0, 1)]
                  for n, r in enumerate(rows, start=2)]
        if values:
            con.executemany("INSERT INTO run_assessment_file VALUES (?, ?, ?)", values)
    deductions_file = run.values["settlement.deductions_file"]
    if deductions_file:
        file, rows = read_list(deductions_file, ("hospital_id", "month", "amount_yuan"), "审核扣款")
        values = [[r["hospital_id"].strip(), int(number(file, n, "month", r["month"], 1, 12)),
                   number(file, n, "amount_yuan", r["amount_yuan"], 0, None),
                   (r.get("reason") or "").strip()]
                  for n, r in enumerate(rows, start=2)]
        if values:
            con.executemany("INSERT INTO run_deductions VALUES (?, ?, ?, ?)", values)
