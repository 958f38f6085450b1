"""Run the lean reference (``benchmarks/lean_reference.sql``) on a Parquet city.

The lean reference is the yardstick of ``make bench``: the baseline's budget and settlement
point values computed straight from the files by one short SQL script, with no quality stage,
no storage and no extras. This runner reads the baseline's parameters for the simulation year
from ``data/policy`` (:func:`dip_sim.policy.parameters.load_baseline`), refuses a baseline
that turns on something the script leaves out (:data:`BASELINE_CHOICES`), loads the code
tables into an in-memory DuckDB, sets the parameters as SQL variables and runs the script.
``--db`` compares its point values with the ``point_values`` of a simulated warehouse
(:func:`compare`); ``--out`` writes them as JSON (``make bench`` runs this module as its own
process and reads them).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import duckdb

from dip_sim.policy.parameters import load_baseline, parameters_for_year
from dip_sim.reference import load_reference
from dip_sim.simulation import default_history
from pipelines.warehouse import MEMORY_LIMIT

SQL = Path(__file__).with_name("lean_reference.sql")

# The choices the script implements; any other value of these parameters changes the point
# values in a way the script does not follow (its header says what it leaves out).
BASELINE_CHOICES: dict[str, Any] = {
    "budget.method": "growth", "budget.split_by_insurance": False,
    "catalog.procedure_key": "all", "catalog.core_threshold_method": "min_cases",
    "catalog.adjustments_file": None, "auxiliary.enabled": False,
    "coefficients.method": "fixed", "coefficients.bonus_file": None,
    "special.primary_method": "none", "special.tcm_list_file": None,
    "special_review.decisions_file": None, "special_review.ungrouped_mode": "ffs_outside",
    "point_value.mode": "floating", "point_value.budget_refinement": "none",
    "outliers.reference": "standard",
}

# Relative tolerance of the comparison with the pipeline. Both sum the same money exactly
# (DECIMAL); they differ only in how doubles (means, rw, points) are added: the pipeline
# rounds each term to 1e-10 and adds exactly, the script adds doubles in any order. Over
# n = 10^7 terms the rounding of a double sum is at most n·2^-53 ≈ 1.1e-9 relative (and in
# practice about √n·2^-53 ≈ 4e-13), so 1e-9 separates rounding from any rule that differs,
# which moves a point value by far more (one case grouped otherwise: about 1e-7 at 10M).
TOLERANCE = 1e-9

COMPARED = ("pv_budget_yuan", "pv_settlement_yuan")


def variables(year: int, policy_dir: Path | None = None) -> dict[str, Any]:
    """The SQL variables of the script from the baseline in force in ``year``; raises
    ``ValueError`` when the baseline departs from :data:`BASELINE_CHOICES`."""
    values = parameters_for_year(load_baseline(*([policy_dir] if policy_dir else [])), year)
    departs = {k: values[k] for k, v in BASELINE_CHOICES.items() if values[k] != v}
    if departs:
        raise ValueError(f"精简参照只实现基线的做法，以下参数不同：{departs}")
    history = default_history(year, len(values["catalog.history_weights"]))
    levels = values["coefficients.hospital_level"]
    return {
        "sim_year": year, "history_years": history,
        "history_weights": [float(w) for w in values["catalog.history_weights"]],
        "core_min_cases": int(values["catalog.core_min_cases"]),
        "points_scale": float(values["points.scale"]),
        "growth_rate": float(values["budget.growth_rate"]),
        "reserve_rate": float(values["budget.reserve_rate"]),
        "level_keys": [int(k) for k in levels], "level_values": [float(v) for v in levels.values()],
        "low_ratio": float(values["outliers.low_ratio"]),
        "high_ratio": float(values["outliers.high_ratio"]),
    }


def run(source: Path, year: int) -> dict[str, Any]:
    """The point values of the baseline for ``year`` from the Parquet city in ``source``."""
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")  # the cap the pipeline's stages have
    load_reference(con)
    values = variables(year)
    files = {"cases_files": str(source / "cases_*.parquet"),
             "settlements_files": str(source / "settlements_*.parquet"),
             "hospitals_file": str(source / "hospitals.parquet")}
    for name, value in {**files, **values}.items():
        if name.startswith("level_"):
            continue
        con.execute(f'SET VARIABLE "{name}" = ?', [value])
    con.execute('SET VARIABLE level_coefficients = MAP(?::INTEGER[], ?::DOUBLE[])',
                [values["level_keys"], values["level_values"]])
    cursor = con.execute(SQL.read_text(encoding="utf-8"))  # the last statement's rows
    names = [d[0] for d in cursor.description]
    return dict(zip(names, cursor.fetchone(), strict=True))


def compare(result: dict[str, Any], db: Path, scenario: str = "baseline") -> list[str]:
    """Lines comparing ``result`` with the warehouse's point values and counts of grouped
    cases (of the simulation year, scored, and of the history years); each ends with OK or
    MISMATCH (a point value beyond :data:`TOLERANCE`, a count not equal), or ``(info)`` for
    the total points and the fund, shown beside them."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute(f"SELECT {', '.join(COMPARED)}, total_points, dip_fund_yuan "
                          "FROM point_values WHERE scenario = ?", [scenario]).fetchone()
        n = con.execute("SELECT count(*) FROM case_scores WHERE scenario = ?",
                        [scenario]).fetchone()[0]
        n_history = con.execute("""
            SELECT count(*) FROM case_groups
            WHERE scenario = ? AND grouped AND year IN (
                SELECT unnest(string_split(history_years, ','))::INTEGER FROM runs
                WHERE scenario = ?)""", [scenario, scenario]).fetchone()[0]
    finally:
        con.close()
    if row is None:
        return [f"{scenario}: no point values in {db} MISMATCH"]
    lines = []
    for name, pipeline in zip((*COMPARED, "total_points", "dip_fund_yuan"), row, strict=True):
        rel = abs(result[name] - pipeline) / abs(pipeline)
        verdict = ("OK" if rel <= TOLERANCE else "MISMATCH") if name in COMPARED else "(info)"
        lines.append(f"{name:<20} lean {result[name]:.12g}  pipeline {pipeline:.12g}  "
                     f"relative difference {rel:.1e}  {verdict}")
    for name, lean, pipeline in (("scored cases", result["n_cases"], n),
                                 ("history cases", result["n_history_cases"], n_history)):
        lines.append(f"{name:<20} lean {lean:,}  pipeline {pipeline:,}  "
                     + ("OK" if lean == pipeline else "MISMATCH"))
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the script; print its point values (and the comparison with ``--db``)."""
    parser = argparse.ArgumentParser(description="精简参照：由 Parquet 文件直接计算基线点值")
    parser.add_argument("source", type=Path, help="dip-sim synth --format parquet 的输出目录")
    parser.add_argument("--year", type=int, default=2020)
    parser.add_argument("--db", type=Path, help="与此仓库的 point_values 比较")
    parser.add_argument("--out", type=Path, help="结果写入此 JSON 文件")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = run(args.source, args.year)
    result["seconds"] = time.perf_counter() - started
    print(f"精简参照 {args.year}：" + "，".join(f"{k} = {v}" for k, v in result.items()))
    if args.out:
        args.out.write_text(json.dumps(result, default=float), encoding="utf-8")
    if args.db:
        lines = compare(result, args.db)
        print("\n".join(lines))
        return 1 if any(line.endswith("MISMATCH") for line in lines) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
