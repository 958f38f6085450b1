"""The pinned-seed city whose every output must stay the same across refactors.

A city of 6,000 discharges a year (seed 11) is ingested, checked, simulated for 2020 under the
baseline, the shipped scenarios and two scenarios that switch on every optional path (auxiliary
typing, insurance pools, quantile and optimal-interval budget point values, elastic point
values, primary and TCM groups, new technology, sharing, fixed fund …), then supervised.
Each table is summarised per column as the digest of its sorted values (``repr`` of a float:
the last digit counts), so renamed columns compare by their old names and row order does not
matter. ``python -m tests.golden`` rewrites ``tests/golden_outputs.json`` from the code as it
is: do that only when a result is meant to change, and say why in the commit. A new table is
recorded alone with ``--only TABLE`` (or ``TABLE.COLUMN``): the others keep their record, and
nothing is written when any of them changed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb

GOLDEN = Path(__file__).with_name("golden_outputs.json")

# (table, column as named now) → column as recorded: one name, one meaning (a column named
# like another of a different meaning was renamed)
RENAMED: dict[tuple[str, str], str] = {
    ("catalog_subtypes", "aux_coefficient"): "coefficient",
    ("assessment", "assessment_coefficient"): "coefficient",
    ("level_coefficients", "cost_ratio_coefficient"): "cost_ratio",
    ("assessment_indicators", "indicator_points"): "points",
    ("special_cases", "review_method"): "method",
}

SCENARIOS = {
    "wide_a": {
        "auxiliary.enabled": True,
        "budget.split_by_insurance": True,
        "point_value.budget_refinement": "quantile",
        "special.primary_method": "rule",
        "special.primary_min_cases": 5,
        "special.tcm_list_file": "tcm_groups_example.csv",
        "special_review.new_technology_file": "new_technology_example.csv",
        "sharing.enabled": True,
        "settlement.advance_months": 1,
        "settlement.prepay_basis": "minus_patient_paid",
        "catalog.procedure_key": "main_plus_related",
        "catalog.core_threshold_method": "coverage",
        "coefficients.method": "per_group",
        "outliers.reference": "prior_year_level_mean",
        "special_review.ungrouped_mode": "points",
    },
    "wide_b": {
        "auxiliary.enabled": True,
        "auxiliary.severity_source": "chs_mcc_cc",
        "auxiliary.dimensions": ["severity", "age"],
        "point_value.mode": "elastic",
        "point_value.elastic_floor": 0.9,
        "point_value.elastic_cap": 1.1,
        "point_value.budget_refinement": "optimal_interval",
        "budget.method": "fixed",
        "budget.fixed_fund_yuan": 60_000_000,
        "budget.reserve_rate": 0.02,
        "coefficients.method": "cost_ratio",
        "special.primary_method": "list",
        "special.primary_list_file": "primary_groups_example.csv",
        "catalog.adjustments_file": "example_panel.yaml",
        "settlement.assessment_source": "scheme",
    },
}

# tables whose content depends on when or where the run was made, not on the rules
SKIP_TABLES = {"warehouse_meta", "load_batches", "users", "audit_log"}


def build(folder: Path) -> Path:
    """Generate, ingest, check, simulate and supervise the pinned city under ``folder``."""
    import yaml

    from dip_sim.paths import SCENARIO_DIR
    from pipelines.simulate import run_simulate
    from pipelines.supervise import run_supervise
    from tests.inputs import ingest_generated_city

    def quiet(message: str) -> None:
        del message

    db = ingest_generated_city(folder, 6_000, seed=11)
    files = sorted(SCENARIO_DIR.glob("*.yaml"))
    for name, changes in SCENARIOS.items():
        path = folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump({"name": name, "description": name, "changes": changes},
                                       allow_unicode=True), encoding="utf-8")
        files.append(path)
    run_simulate(db, 2020, scenario_files=files, progress=quiet)
    run_supervise(db, progress=quiet)
    return db


def _text(value: object) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def digest(db: Path) -> dict[str, dict[str, str]]:
    """Per table: its row count and, per column, the SHA-256 of its sorted values."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out: dict[str, dict[str, str]] = {}
        # what a reader sees: the tables and views of the main schema (a scenario's complete
        # result tables are views over the rows each run stored: dip_sim.pipeline.scenario_tables)
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT temporary AND schema_name = 'main' "
            "UNION SELECT view_name FROM duckdb_views() v WHERE NOT temporary AND NOT internal "
            "AND schema_name = 'main' AND EXISTS (SELECT 1 FROM duckdb_tables() t "
            "WHERE t.schema_name = 'stored' AND t.table_name = v.view_name) ORDER BY 1").fetchall()]
        for table in tables:
            if table in SKIP_TABLES:
                continue
            columns = con.execute(
                "SELECT column_name, data_type FROM duckdb_columns() "
                "WHERE table_name = ? AND schema_name = 'main' AND NOT internal "
                "ORDER BY column_index",
                [table]).fetchall()
            entry = {"_rows": str(con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])}
            for name, kind in columns:
                if "TIMESTAMP" in kind or name in ("batch_id", "run_at", "loaded_at",
                                                   "checked_at", "catalog_version", "inputs_sha256",
                                                   "scenario_file"):
                    continue
                values = sorted(_text(r[0]) for r in con.execute(
                    f'SELECT "{name}" FROM "{table}"').fetchall())
                entry[name] = hashlib.sha256("\n".join(values).encode("utf-8")).hexdigest()[:20]
            out[table] = entry
        return out
    finally:
        con.close()


def as_recorded(result: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """``result`` with each renamed column under its recorded name (``RENAMED``)."""
    return {t: {RENAMED.get((t, c), c): d for c, d in cols.items()} for t, cols in result.items()}


def extend(recorded: dict, result: dict, names: list[str]) -> list[str]:
    """Put the digests named by ``names`` (``table`` for a whole table, ``table.column`` for
    one column) from ``result`` into ``recorded``, leaving every other record as it was;
    return the other columns whose digests now differ (``table.column``)."""
    now = as_recorded(result)
    for name in names:
        table, _, column = name.partition(".")
        if table not in now or (column and column not in now[table]):
            raise SystemExit(f"no such table or column in the outputs: {name}")
        if column:
            recorded.setdefault(table, {})[column] = now[table][column]
        else:
            recorded[table] = now[table]
    return sorted(f"{t}.{c}" for t in set(now) | set(recorded)
                  for c in set(now.get(t, {})) | set(recorded.get(t, {}))
                  if now.get(t, {}).get(c) != recorded.get(t, {}).get(c))


if __name__ == "__main__":
    import argparse
    import os
    import tempfile

    parser = argparse.ArgumentParser(description="rewrite the golden record")
    parser.add_argument("--only", nargs="+", metavar="TABLE[.COLUMN]",
                        help="record these tables or columns only (a new table), keeping "
                             "the others' record; nothing is written when another changed")
    args = parser.parse_args()
    if os.environ.get("DIP_SIM_THREADS") != "1":
        raise SystemExit("run as DIP_SIM_THREADS=1 python -m tests.golden: one thread adds "
                         "every float in the same order")

    with tempfile.TemporaryDirectory() as tmp:
        result = digest(build(Path(tmp)))
    if args.only:
        recorded = json.loads(GOLDEN.read_text(encoding="utf-8"))
        changed = extend(recorded, result, args.only)
        if changed:
            raise SystemExit(f"not written: other columns changed too: {changed}")
        result = recorded
    GOLDEN.write_text(json.dumps(result, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                      encoding="utf-8")
    print(f"{GOLDEN}: {len(result)} tables")
