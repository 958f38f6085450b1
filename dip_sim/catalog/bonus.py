"""The hospitals' coefficient bonus (``coefficients.bonus_file`` in ``data/policy/lists/``):
CSV ``hospital_id,bonus,reason``, the bonus added to the hospital's level coefficient (between
−1 and 1). Checked row by row; a bad value is refused naming the file, the row and the field.
"""

from __future__ import annotations

from typing import Any

import duckdb

from dip_sim.policy.lists import number, read_list


def bonus_table(con: duckdb.DuckDBPyConnection, run: Any) -> None:
    """``run_bonus`` (hospital_id, bonus, reason), empty when no file is named."""
    con.execute("CREATE OR REPLACE TEMP TABLE run_bonus (hospital_id VARCHAR, bonus DOUBLE, "
                "reason VARCHAR)")
    bonus_file = run.values["coefficients.bonus_file"]
    if bonus_file:
        file, rows = read_list(bonus_file, ("hospital_id", "bonus"), "医院加成")
        values = [[r["hospital_id"].strip(), number(file, n, "bonus", r["bonus"], -1, 1),
                   (r.get("reason") or "").strip()] for n, r in enumerate(rows, start=2)]
        if values:
            con.executemany("INSERT INTO run_bonus VALUES (?, ?, ?)", values)
