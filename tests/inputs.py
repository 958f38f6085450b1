"""Writing small input directories in the canonical contract, for hand-computed tests."""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Callable
from pathlib import Path

from dip_sim.schema import CASE_COLUMNS, COST_PART_COLUMNS, HOSPITAL_COLUMNS, SETTLEMENT_COLUMNS

HOSPITALS = [
    {"hospital_id": "H1", "hospital_name": "甲三级医院", "level": 3, "county": "城区"},
    {"hospital_id": "H2", "hospital_name": "乙二级医院", "level": 2, "county": "平定县"},
    {"hospital_id": "H3", "hospital_name": "丙一级卫生院", "level": 1, "county": "盂县"},
]


def case_row(case_id: str, hospital_id: str, discharge: str, main_dx: str,
             procs: tuple[str, ...] = (), los: int = 3, **extra) -> dict:
    """One case record; admission ``los`` days before ``discharge`` (YYYY-MM-DD)."""
    import datetime as dt

    d = dt.date.fromisoformat(discharge)
    row = {
        "case_id": case_id, "hospital_id": hospital_id, "patient_id": f"P-{case_id}",
        "sex": 1, "age_years": 40, "age_days": "", "birth_weight_g": "",
        "insurance_type": "employee", "admit_date": (d - dt.timedelta(days=los)).isoformat(),
        "discharge_date": discharge, "los_days": los, "discharge_disposition": 1,
        "main_dx": main_dx, "other_dx": "", "main_proc": procs[0] if procs else "",
        "other_procs": ";".join(procs[1:]),
    }
    row.update(extra)
    return row


def settlement_row(case_id: str, settle_date: str, total: float, fund: float, **extra) -> dict:
    """One settlement; the whole cost booked as treatment so the breakdown sums."""
    row = {"case_id": case_id, "settle_date": settle_date, "total_cost_yuan": total,
           "fund_paid_yuan": fund, "patient_paid_yuan": round(total - fund, 2)}
    for name in COST_PART_COLUMNS:
        row[name] = 0
    row["treatment_yuan"] = total
    row.update(extra)
    return row


def write_csv(path: Path, columns, rows: list[dict]) -> None:
    """Write ``rows`` as a UTF-8 CSV with the contract's header."""
    names = [c.name if hasattr(c, "name") else c for c in columns]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=names)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in names})


def ingest_generated_city(directory: Path, cases_per_year: int, seed: int,
                          before_ingest: Callable[[Path], object] | None = None,
                          regions: int = 1) -> Path:
    """Generate a synthetic city (``regions`` above 1: a province of that many cities, each
    of ``cases_per_year`` on average) into ``directory/in`` and ingest it; return the
    warehouse.

    ``before_ingest`` (given the input directory) may edit the city first, e.g. plant gaming.
    Uses the pseudonymisation key ``k`` (module- and session-scoped fixtures cannot use the
    autouse one).
    """
    import os

    from dip_sim.synth import generate
    from pipelines.ingest import run_ingest

    generate(directory / "in", cases_per_year=cases_per_year, seed=seed, regions=regions)
    if before_ingest is not None:
        before_ingest(directory / "in")
    db = directory / "w.duckdb"
    previous = os.environ.get("DIP_SIM_PSEUDONYM_KEY")
    os.environ["DIP_SIM_PSEUDONYM_KEY"] = "k"
    try:
        run_ingest(directory / "in", db, progress=lambda message: None)
    finally:
        if previous is None:
            os.environ.pop("DIP_SIM_PSEUDONYM_KEY")
        else:
            os.environ["DIP_SIM_PSEUDONYM_KEY"] = previous
    return db


def write_inputs(directory: Path, cases: list[dict], settlements: list[dict],
                 hospitals: list[dict] = HOSPITALS) -> Path:
    """Write hospitals.csv, cases.csv and settlements.csv into ``directory``."""
    write_csv(directory / "hospitals.csv", HOSPITAL_COLUMNS, hospitals)
    write_csv(directory / "cases.csv", CASE_COLUMNS, cases)
    write_csv(directory / "settlements.csv", SETTLEMENT_COLUMNS, settlements)
    return directory


@contextlib.contextmanager
def simulated_city(tmp_path: Path, inputs: Path, scenarios, year: int = 2020):
    """Ingest ``inputs`` into a warehouse under ``tmp_path``, simulate ``scenarios`` for
    ``year``; yield the open connection (closed on leaving)."""
    import duckdb
    import pytest

    from dip_sim.policy import load_baseline
    from dip_sim.simulation import simulate
    from pipelines.ingest import run_ingest

    mp = pytest.MonkeyPatch()
    mp.setenv("DIP_SIM_PSEUDONYM_KEY", "k")
    db = tmp_path / "w.duckdb"
    run_ingest(inputs, db, progress=lambda message: None)
    con = duckdb.connect(str(db))
    try:
        simulate(con, year, None, scenarios, load_baseline(), progress=lambda message: None)
        yield con
    finally:
        con.close()
        mp.undo()


def query(db: Path, sql: str, params=()) -> list[tuple]:
    """The rows of ``sql`` on the warehouse ``db``, opened read-only and closed again."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()
