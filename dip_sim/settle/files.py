"""Per-hospital files in ``data/policy/lists/``: assessment results, deductions, coefficient bonus.

- ``settlement.assessment_file``: CSV ``hospital_id,coefficient,withhold_release,note`` — the
  year's assessment coefficient (× the DIP amount) and the share of the withheld quality
  deposit released at year end (1 = all). A hospital not listed: 1 and 1.
- ``settlement.deductions_file``: CSV ``hospital_id,month,amount_yuan,reason`` — review
  deductions (审核扣款), taken from that month's prepayment and from the year-end amount.

Each is checked row by row; a bad value is refused naming the file, the row and the field.
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb

from dip_sim.paths import POLICY_DIR
from dip_sim.policy import PolicyError

LISTS_DIR = POLICY_DIR / "lists"


def _rows(name: str, required: tuple[str, ...]) -> tuple[str, list[dict[str, str]]]:
    path = Path(name) if Path(name).is_absolute() else LISTS_DIR / name
    if not path.is_file():
        raise PolicyError(f"结算文件不存在: {path}")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise PolicyError(f"{path.name}: 缺少列 {missing}（实际为 {reader.fieldnames}）")
        return path.name, list(reader)


def _number(file: str, row: int, field: str, text: str, low: float, high: float | None) -> float:
    try:
        value = float(str(text).replace(",", "").strip())
    except ValueError:
        raise PolicyError(f"{file} 第 {row} 行 {field}: {text!r} 不是数值") from None
    if value < low or (high is not None and value > high):
        bound = f"{low}–{high}" if high is not None else f"≥ {low}"
        raise PolicyError(f"{file} 第 {row} 行 {field}: {value} 超出范围（{bound}）")
    return value


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
        _, rows = _rows(new_technology_file, ("prefix",))
        values = [[r["prefix"].strip(), (r.get("note") or "").strip()] for r in rows
                  if r["prefix"].strip()]
        if values:
            con.executemany("INSERT INTO run_new_technology VALUES (?, ?)", values)
    if decisions_file:
        file, rows = _rows(decisions_file, ("case_id", "decision", "method", "reviewer", "date"))
        values = []
        for n, r in enumerate(rows, start=2):
            decision, method = r["decision"].strip(), r["method"].strip() or "by_item"
            if decision not in DECISIONS:
                raise PolicyError(f"{file} 第 {n} 行 decision: {decision!r} 应为 {list(DECISIONS)}")
            if method not in METHODS:
                raise PolicyError(f"{file} 第 {n} 行 method: {method!r} 应为 {list(METHODS)}")
            points = None
            if method == "adjusted" and decision == "approved":
                points = _number(file, n, "points", r.get("points") or "", 0, None)
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
        file, rows = _rows(bonus_file, ("hospital_id", "bonus"))
        values = [[r["hospital_id"].strip(), _number(file, n, "bonus", r["bonus"], -1, 1),
                   (r.get("reason") or "").strip()] for n, r in enumerate(rows, start=2)]
        if values:
            con.executemany("INSERT INTO run_bonus VALUES (?, ?, ?)", values)
    if assessment_file:
        file, rows = _rows(assessment_file, ("hospital_id", "coefficient", "withhold_release"))
        values = [[r["hospital_id"].strip(),
                   _number(file, n, "coefficient", r["coefficient"], 0, None),
                   _number(file, n, "withhold_release", r["withhold_release"], 0, 1)]
                  for n, r in enumerate(rows, start=2)]
        if values:
            con.executemany("INSERT INTO run_assessment VALUES (?, ?, ?)", values)
    if deductions_file:
        file, rows = _rows(deductions_file, ("hospital_id", "month", "amount_yuan"))
        values = [[r["hospital_id"].strip(), int(_number(file, n, "month", r["month"], 1, 12)),
                   _number(file, n, "amount_yuan", r["amount_yuan"], 0, None),
                   (r.get("reason") or "").strip()]
                  for n, r in enumerate(rows, start=2)]
        if values:
            con.executemany("INSERT INTO run_deductions VALUES (?, ?, ?, ?)", values)
