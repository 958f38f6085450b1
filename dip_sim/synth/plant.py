"""Planting known record problems, with the ground truth written apart (docs/input.md).

``plant_problems`` edits a canonical CSV city in place: for each 病案质控 rule it picks its own
cases (none picked twice) at ``rate`` of the cases and spoils them so that the rule must fire,
and writes ``ground_truth.csv`` (``case_id, rule``) beside the files. A test loads the city
before and after planting and proves that every planted problem is found by its rule (recall
100%) and that no case is flagged critical unless it was planted or flagged before.

The edits work on the CSV text, as a hospital's system would have written it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from dip_sim.ingest.files import add_ignored

GROUND_TRUTH = "ground_truth.csv"
_UNKNOWN_HOSPITAL = "H999999999"


def _shift(date: str, days: int) -> str:
    return (dt.date.fromisoformat(date) + dt.timedelta(days=days)).isoformat()


def _num(value: str | None) -> float:
    return float(value) if value not in (None, "") else 0.0


# rule → (the table it edits, a predicate the row must meet, the edit of one row as a dict)
Edit = Callable[[dict], dict]
_CASE_EDITS: dict[str, tuple[Callable[[dict], bool], Edit]] = {
    "main_dx_missing": (lambda r: True, lambda r: {"main_dx": ""}),
    "main_dx_invalid": (lambda r: True, lambda r: {"main_dx": "Z99.999x999"}),
    "main_dx_not_allowed": (lambda r: True, lambda r: {"main_dx": "W01.x00"}),
    "dates_invalid": (lambda r: True, lambda r: {"admit_date": ""}),
    "discharge_before_admit": (
        lambda r: True, lambda r: {"admit_date": _shift(r["discharge_date"], 5)}),
    "unknown_hospital": (lambda r: True, lambda r: {"hospital_id": _UNKNOWN_HOSPITAL}),
    "proc_invalid": (lambda r: True, lambda r: {"other_procs": "99.9999x999"}),
    "proc_repeated": (lambda r: bool(r["main_proc"]),
                      lambda r: {"other_procs": r["main_proc"]}),
    "main_proc_missing": (lambda r: True, lambda r: {
        "main_proc": "", "other_procs": r["main_proc"] or r["other_procs"] or "88.7600"}),
    "other_dx_invalid": (lambda r: True, lambda r: {"other_dx": "Z99.999x999"}),
    "dx_sex_conflict": (lambda r: True, lambda r: {
        "main_dx": "O80.000", "sex": "1", "age_years": "30", "age_days": ""}),
    "dx_age_conflict": (lambda r: True, lambda r: {
        "main_dx": "P07.300", "age_years": "30", "age_days": ""}),
    "newborn_incomplete": (lambda r: True, lambda r: {
        "age_years": "0", "age_days": "5", "birth_weight_g": ""}),
    "los_mismatch": (lambda r: bool(r["los_days"]),
                     lambda r: {"los_days": str(int(r["los_days"]) + 3)}),
    "los_not_positive": (lambda r: True, lambda r: {"los_days": "0"}),
    "disposition_invalid": (lambda r: True, lambda r: {"discharge_disposition": "7"}),
    "death_inconsistent": (lambda r: True, lambda r: {
        "discharge_disposition": "5", "main_dx": "Z38.000", "age_years": "0", "age_days": "2",
        "birth_weight_g": "3200"}),
    "value_unreadable": (lambda r: True, lambda r: {"age_years": "四十"}),
}
_SETTLEMENT_EDITS: dict[str, tuple[Callable[[dict], bool], Edit]] = {
    "cost_not_positive": (lambda r: True, lambda r: {"total_cost_yuan": "0"}),
    "fund_paid_invalid": (lambda r: True, lambda r: {"fund_paid_yuan": "-5"}),
    "fund_exceeds_total": (lambda r: True, lambda r: {
        "fund_paid_yuan": f"{_num(r['total_cost_yuan']) + 100:.2f}"}),
    "payment_split_mismatch": (lambda r: bool(r["patient_paid_yuan"]), lambda r: {
        "patient_paid_yuan": f"{_num(r['patient_paid_yuan']) + 10:.2f}"}),
    "cost_breakdown_mismatch": (lambda r: True, lambda r: {
        "drug_yuan": f"{_num(r['drug_yuan']) + 100:.2f}"}),
}
# rules planted by adding or removing rows
ROW_RULES = ("no_settlement", "no_case_record", "duplicate_case", "duplicate_settlement")
PLANTED_RULES = (*_CASE_EDITS, *_SETTLEMENT_EDITS, *ROW_RULES)


def plant_text_frames(cases: pl.DataFrame, settlements: pl.DataFrame, rate: float,
                      rng: np.random.Generator, rules: tuple[str, ...] = PLANTED_RULES,
                      ) -> tuple[pl.DataFrame, pl.DataFrame, list[dict]]:
    """Spoil ``rate`` of the cases (all-text frames) for each of ``rules``; return the truth.

    Only cases with a settlement are picked, each for one rule at most.
    """
    cases, settlements = cases.fill_null(""), settlements.fill_null("")
    case_rows = cases.to_dicts()
    settle_rows = {r["case_id"]: r for r in settlements.to_dicts()}
    free = [i for i, r in enumerate(case_rows) if r["case_id"] in settle_rows]
    rng.shuffle(free)
    n = max(1, round(rate * len(case_rows)))
    truth: list[dict] = []
    extra_cases, extra_settlements, dropped = [], [], set()

    def take(rule: str, ok: Callable[[dict], bool]) -> list[int]:
        if rule not in rules:
            return []
        picked = [i for i in free if ok(case_rows[i])][:n]
        for i in picked:
            free.remove(i)
        return picked

    for rule, (ok, edit) in _CASE_EDITS.items():
        for i in take(rule, ok):
            case_rows[i].update(edit(case_rows[i]))
            truth.append({"case_id": case_rows[i]["case_id"], "rule": rule})
    for rule, (ok, edit) in _SETTLEMENT_EDITS.items():
        for i in take(rule, lambda r, ok=ok: ok(settle_rows[r["case_id"]])):
            row = settle_rows[case_rows[i]["case_id"]]
            row.update(edit(row))
            truth.append({"case_id": row["case_id"], "rule": rule})
    for i in take("no_settlement", lambda r: True):
        dropped.add(case_rows[i]["case_id"])
        truth.append({"case_id": case_rows[i]["case_id"], "rule": "no_settlement"})
    for i in take("no_case_record", lambda r: True):
        orphan = dict(settle_rows[case_rows[i]["case_id"]])
        orphan["case_id"] = case_rows[i]["case_id"] + "-X"
        extra_settlements.append(orphan)
        truth.append({"case_id": orphan["case_id"], "rule": "no_case_record"})
    for i in take("duplicate_case", lambda r: True):
        other = "J18.900" if case_rows[i]["main_dx"] != "J18.900" else "K35.300"
        extra_cases.append(dict(case_rows[i], main_dx=other))
        truth.append({"case_id": case_rows[i]["case_id"], "rule": "duplicate_case"})
    for i in take("duplicate_settlement", lambda r: True):
        row = settle_rows[case_rows[i]["case_id"]]
        changed = f"{_num(row['total_cost_yuan']) + 1:.2f}"
        extra_settlements.append(dict(row, total_cost_yuan=changed))
        truth.append({"case_id": row["case_id"], "rule": "duplicate_settlement"})
    kept = [r for cid, r in settle_rows.items() if cid not in dropped]
    return (pl.DataFrame(case_rows + extra_cases, schema=cases.schema),
            pl.DataFrame(kept + extra_settlements, schema=settlements.schema), truth)


def plant_typed_frames(cases: pl.DataFrame, settlements: pl.DataFrame, rate: float,
                       rng: np.random.Generator) -> tuple[pl.DataFrame, pl.DataFrame, list[dict]]:
    """:func:`plant_text_frames` on typed frames (those the generator writes from).

    Every rule but ``value_unreadable``, which needs text where a number belongs.
    """
    rules = tuple(r for r in PLANTED_RULES if r != "value_unreadable")

    def as_text(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns(
            pl.col(c).dt.strftime("%Y-%m-%d") if t == pl.Date else pl.col(c).cast(pl.String)
            for c, t in frame.schema.items())

    def back(frame: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
        def column(c: str, t: pl.DataType) -> pl.Expr:
            text = pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c))
            if t == pl.Date:
                return text.str.to_date("%Y-%m-%d").alias(c)
            return text.cast(t).alias(c)
        return frame.select(column(c, t) for c, t in schema.items())

    text_cases, text_settlements, truth = plant_text_frames(
        as_text(cases), as_text(settlements), rate, rng, rules)
    return back(text_cases, cases.schema), back(text_settlements, settlements.schema), truth


def plant_problems(directory: Path, rate: float, seed: int) -> pl.DataFrame:
    """Spoil ``rate`` of the cases of each canonical ``cases_*.csv`` per rule, in place.

    Returns the ground truth, also written to ``directory/ground_truth.csv``.
    """
    directory = Path(directory)
    rng = np.random.default_rng(seed)
    truth: list[dict] = []
    for case_path in sorted(directory.glob("cases_*.csv")):
        year = case_path.stem.split("_")[1]
        settle_path = directory / f"settlements_{year}.csv"
        cases, settlements, found = plant_text_frames(
            pl.read_csv(case_path, infer_schema=False),
            pl.read_csv(settle_path, infer_schema=False), rate, rng)
        cases.write_csv(case_path)
        settlements.write_csv(settle_path)
        truth.extend(found)
    return write_truth(truth, directory)


def write_truth(truth: list[dict], directory: Path) -> pl.DataFrame:
    """Write the planted problems to ``directory/ground_truth.csv`` and return them."""
    frame = pl.DataFrame(truth, schema={"case_id": pl.String, "rule": pl.String})
    frame.write_csv(Path(directory) / GROUND_TRUTH)
    add_ignored(directory, GROUND_TRUTH, "植入的质控问题的答案，不是输入数据")
    return frame
