"""The 特例单议 lists in ``data/policy/lists/`` a run reads: the new-technology list
(``special_review.new_technology_file``: CSV ``prefix,note``, procedure code prefixes) and the
panel's decisions (``special_review.decisions_file``: CSV ``case_id,decision,method,points,
reviewer,date,note``). Each is checked row by row; a bad value is refused naming the file, the
row and the field.
"""

from __future__ import annotations

from typing import Any

import duckdb

from dip_sim.policy import PolicyError
from dip_sim.policy.lists import number, read_list

DECISIONS = ("approved", "rejected")
METHODS = ("by_item", "adjusted")


def special_review_tables(con: duckdb.DuckDBPyConnection, run: Any) -> None:
    """``run_new_technology`` (prefix, note) and ``run_decisions`` (case_id, decision, method,
    points, reviewer, date, note) for the 特例单议 models; empty when no file is named."""
    set_special_review_tables(con, run.values["special_review.new_technology_file"],
                              run.values["special_review.decisions_file"])


def set_special_review_tables(con: duckdb.DuckDBPyConnection, new_technology_file: str | None,
                              decisions_file: str | None) -> None:
    """``run_new_technology`` (prefix, note) and ``run_decisions`` (case_id, decision, method,
    points, reviewer, date, note) for the 特例单议 models; empty when no file is named."""
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
