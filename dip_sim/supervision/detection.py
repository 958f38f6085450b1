"""How well the supervision indices find planted gaming (issue 7 §3).

The truth is ``gaming_truth.csv`` written by :func:`dip_sim.synth.gaming.plant_gaming`. For
each behaviour: the rank of each planting hospital on its matching index in the planted year
(1 = the first hospital to look at), and, where the index flags cases, the case-level
precision (flagged cases that were planted ÷ flagged cases, over the whole region) and
recall (planted cases flagged ÷ planted cases), and the precision within the planting
hospital (of its flagged cases, the share planted). A split admission is found when either stay
of the pair is flagged with the other as its related case.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

# behaviour → (index code, whether the index flags cases)
MATCHING_INDEX: dict[str, tuple[str, bool]] = {
    "split_admission": ("split_admission", True),
    "low_standard_admission": ("low_standard", True),
    "upcoding_procedure": ("upcode_procedure", False),
    "upcoding_severity": ("upcode_severity", False),
    "long_stay": ("long_stay", True),
}
RANK_TARGET = 3  # every planting hospital in the top 3 of its index (issue 7 §3)
RECALL_TARGET = {"split_admission": 0.90}


def measure_detection(con: duckdb.DuckDBPyConnection, truth: pd.DataFrame,
                      scenario: str = "baseline") -> pd.DataFrame:
    """One row per behaviour, planting hospital and year: rank among n hospitals, precision,
    recall, and precision within the hospital (``n_planted`` counts cases: two per split pair).
    """
    rows = []
    for (behaviour, year), planted in truth.groupby(["behaviour", "year"]):
        index_code, case_level = MATCHING_INDEX[behaviour]
        ranks = dict(con.execute(
            "SELECT hospital_id, rank FROM supervision_hospitals "
            "WHERE scenario = ? AND year = ? AND index_code = ?",
            [scenario, int(year), index_code]).fetchall())
        precision = recall = None
        flagged_ids: set[str] = set()
        by_hospital: dict[str, set[str]] = {}
        if case_level:
            flagged = con.execute(
                "SELECT case_id, coalesce(related_case_id, ''), hospital_id FROM supervision_cases "
                "WHERE scenario = ? AND year = ? AND index_code = ?",
                [scenario, int(year), index_code]).fetchall()
            flagged_ids = {c for c, _, _ in flagged}
            for case_id, _, hospital_id in flagged:
                by_hospital.setdefault(hospital_id, set()).add(case_id)
            planted_ids = set(planted["case_id"])
            precision = (len(flagged_ids & planted_ids) / len(flagged_ids)) if flagged_ids else None
            if behaviour == "split_admission":
                pairs = {frozenset((c, r)) for c, r in
                         zip(planted["case_id"], planted["related_case_id"], strict=True)}
                found = {frozenset((c, r)) for c, r, _ in flagged} & pairs
                recall = len(found) / len(pairs)
            else:
                recall = len(flagged_ids & planted_ids) / len(planted_ids)
        for hospital_id, cases in planted.groupby("hospital_id"):
            own = by_hospital.get(hospital_id, set())
            rows.append({"behaviour": behaviour, "year": int(year), "hospital_id": hospital_id,
                         "index_code": index_code, "n_planted": len(cases),
                         "rank": ranks.get(hospital_id), "n_hospitals": len(ranks),
                         "precision": precision, "recall": recall,
                         "precision_in_hospital": (len(own & set(cases["case_id"])) / len(own))
                         if case_level and own else None})
    return pd.DataFrame(rows)


def detection_report(db: Path, truth_file: Path, scenario: str = "baseline") -> pd.DataFrame:
    """:func:`measure_detection` on a warehouse file and a truth file."""
    truth = pd.read_csv(truth_file, dtype={"case_id": str, "related_case_id": str,
                                           "hospital_id": str})
    with duckdb.connect(str(db), read_only=True) as con:
        return measure_detection(con, truth, scenario)


def meets_targets(report: pd.DataFrame) -> bool:
    """Every planting hospital in the top ``RANK_TARGET``; recall targets met."""
    ranks_ok = report["rank"].notna().all() and (report["rank"] <= RANK_TARGET).all()
    recall_ok = all((report.loc[report["behaviour"] == b, "recall"] >= target).all()
                    for b, target in RECALL_TARGET.items())
    return bool(ranks_ok and recall_ok)


def format_detection(report: pd.DataFrame) -> str:
    """The report as a text table (the bench and the README)."""
    lines = [f"{'behaviour':<24}{'hospital':<13}{'planted':>8}{'rank':>6}{'of':>4}"
             f"{'precision':>11}{'recall':>8}{'in hospital':>13}"]
    def pct(v) -> str:
        return "—" if v is None or pd.isna(v) else f"{v:.1%}"

    for r in report.itertuples():
        lines.append(f"{r.behaviour:<24}{r.hospital_id:<13}{r.n_planted:>8}"
                     f"{'—' if pd.isna(r.rank) else int(r.rank):>6}{r.n_hospitals:>4}"
                     f"{pct(r.precision):>11}{pct(r.recall):>8}"
                     f"{pct(r.precision_in_hospital):>13}")
    return "\n".join(lines)
