"""The lean reference of make bench equals the pipeline's baseline point values."""

from __future__ import annotations

import pytest


def test_lean_reference_equals_the_pipeline_on_a_synthetic_city(tmp_path):
    from benchmarks.lean_reference import compare, run
    from dip_sim.synth.generator import generate
    from pipelines.ingest import run_ingest
    from pipelines.simulate import run_simulate

    source, db = tmp_path / "in", tmp_path / "w.duckdb"
    generate(source, years=(2017, 2018, 2019, 2020), cases_per_year=4000, seed=11,
             file_format="parquet")
    run_ingest(source, db, progress=lambda m: None)
    run_simulate(db, 2020, progress=lambda m: None)
    result = run(source, 2020)
    lines = compare(result, db)
    assert all(line.endswith(("OK", "(info)")) for line in lines), lines
    # the synthetic defects (no settlement, missing or invalid main diagnosis) are left out
    # as quality leaves them out: the same cases are grouped
    assert sum(line.startswith(("scored cases", "history cases")) for line in lines) == 2


def test_lean_reference_refuses_a_baseline_it_does_not_implement(monkeypatch):
    import benchmarks.lean_reference as lean

    real = lean.parameters_for_year
    monkeypatch.setattr(lean, "parameters_for_year",
                        lambda params, year: {**real(params, year), "point_value.mode": "fixed"})
    with pytest.raises(ValueError, match="point_value.mode"):
        lean.variables(2020)
