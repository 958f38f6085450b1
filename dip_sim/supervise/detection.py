"""How well the supervision indices find planted gaming (docs/supervision.md).

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
    "upcoding_added_procedure": ("upcode_points_cost", False),
    "upcoding_severity": ("upcode_severity", False),
    "long_stay": ("long_stay", True),
}
RANK_TARGET = 3  # every planting hospital in the top 3 of its index
RECALL_TARGET = {"split_admission": 0.90}


def measure_detection(con: duckdb.DuckDBPyConnection, truth: pd.DataFrame,
                      scenario: str = "baseline") -> pd.DataFrame:
    """One row per behaviour, planting hospital and year: rank among n hospitals, precision,
    recall, and precision within the hospital (``n_planted`` counts cases: two per split pair).
    """
    match = ", ".join(f"('{b}', '{code}', {str(case_level).upper()})"
                      for b, (code, case_level) in MATCHING_INDEX.items())
    con.register("detection_truth", truth[["case_id", "hospital_id", "year", "behaviour",
                                           "related_case_id"]])
    try:
        return con.execute(f"""
            WITH m(behaviour, index_code, case_level) AS (VALUES {match}),
            t AS (SELECT d.case_id, d.hospital_id, d.year::INTEGER AS year, d.behaviour,
                         d.related_case_id, m.index_code, m.case_level
                  FROM detection_truth d JOIN m USING (behaviour)),
            groups AS (SELECT DISTINCT behaviour, year, index_code, case_level FROM t),
            -- the flagged cases of each behaviour's index (case-level indices only)
            f AS (SELECT g.behaviour, g.year, s.case_id, s.hospital_id, s.related_case_id
                  FROM groups g JOIN supervision_cases s
                    ON s.scenario = ? AND s.year = g.year AND s.index_code = g.index_code
                  WHERE g.case_level),
            hit AS (SELECT DISTINCT f.behaviour, f.year, f.case_id, f.hospital_id,
                           t.case_id IS NOT NULL AS planted
                    FROM f LEFT JOIN t USING (behaviour, year, case_id)),
            region AS (SELECT behaviour, year,
                              count(*) FILTER (WHERE planted) / count(*) AS precision,
                              count(*) FILTER (WHERE planted) AS n_found
                       FROM hit GROUP BY ALL),
            -- a split admission is found when either stay names the other (an unordered pair)
            pairs AS (SELECT DISTINCT behaviour, year, least(case_id, related_case_id) AS a,
                             greatest(case_id, related_case_id) AS b
                      FROM t WHERE behaviour = 'split_admission'),
            found_pairs AS (SELECT p.behaviour, p.year, count(*) AS n_pairs,
                                   count(*) FILTER (WHERE EXISTS (
                                       SELECT 1 FROM f WHERE f.behaviour = p.behaviour
                                         AND f.year = p.year
                                         AND least(f.case_id, f.related_case_id) = p.a
                                         AND greatest(f.case_id, f.related_case_id) = p.b))
                                       AS n_found
                            FROM pairs p GROUP BY ALL),
            recall AS (SELECT g.behaviour, g.year,
                              CASE WHEN NOT g.case_level THEN NULL
                                   WHEN g.behaviour = 'split_admission'
                                       THEN fp.n_found / fp.n_pairs
                                   ELSE coalesce(r.n_found, 0)
                                        / (SELECT count(DISTINCT case_id) FROM t
                                           WHERE t.behaviour = g.behaviour AND t.year = g.year)
                              END AS recall
                       FROM groups g LEFT JOIN region r USING (behaviour, year)
                       LEFT JOIN found_pairs fp USING (behaviour, year)),
            own AS (SELECT behaviour, year, hospital_id,
                           count(*) FILTER (WHERE planted) / count(*) AS precision_in_hospital
                    FROM hit GROUP BY ALL),
            ranked AS (SELECT g.behaviour, g.year, h.hospital_id, h.rank,
                              count(*) OVER (PARTITION BY g.behaviour, g.year) AS n_hospitals
                       FROM groups g JOIN supervision_hospitals h
                         ON h.scenario = ? AND h.year = g.year AND h.index_code = g.index_code)
            SELECT t.behaviour, t.year, t.hospital_id, any_value(t.index_code) AS index_code,
                   count(*) AS n_planted, any_value(k.rank) AS rank,
                   coalesce(any_value(n.n_hospitals), 0) AS n_hospitals,
                   any_value(r.precision) AS precision, any_value(c.recall) AS recall,
                   any_value(o.precision_in_hospital) AS precision_in_hospital
            FROM t
            LEFT JOIN ranked k USING (behaviour, year, hospital_id)
            LEFT JOIN (SELECT DISTINCT behaviour, year, n_hospitals FROM ranked) n
              USING (behaviour, year)
            LEFT JOIN region r USING (behaviour, year)
            LEFT JOIN recall c USING (behaviour, year)
            LEFT JOIN own o USING (behaviour, year, hospital_id)
            GROUP BY t.behaviour, t.year, t.hospital_id
            ORDER BY t.behaviour, t.year, t.hospital_id""", [scenario, scenario]).df()
    finally:
        con.unregister("detection_truth")


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
    """The report as a text table (the bench and docs/supervision.md)."""
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
