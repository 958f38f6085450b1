"""Shared test set-up: a pseudonymisation key from the environment, never a file."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _pseudonym_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIP_SIM_PSEUDONYM_KEY", "test-key-not-secret")


@pytest.fixture(scope="session")
def planted_city(tmp_path_factory) -> dict:
    """A city with the example gaming plan planted, ingested, simulated and supervised.

    20,000 discharges a year, 2017–2020; the plan ``data/examples/gaming_plan.yaml`` (each
    behaviour at 5% of a hospital's 2020 discharges); baseline and growth_8pct simulated for
    2020; the baseline supervised. Shared by the detection, supervision-page and browser
    tests. Keys: ``db``, ``truth`` (the gaming_truth.csv path).
    """
    import os
    from pathlib import Path

    from dip_sim.paths import SCENARIO_DIR
    from dip_sim.synth import generate
    from dip_sim.synth.gaming import load_plan, plant_gaming
    from pipelines.ingest import run_ingest
    from pipelines.simulate import run_simulate
    from pipelines.supervise import run_supervise

    def quiet(message: str) -> None:
        del message

    folder = tmp_path_factory.mktemp("planted_city")
    root = Path(__file__).resolve().parents[1]
    generate(folder / "in", cases_per_year=20_000, seed=7)
    plant_gaming(folder / "in", load_plan(root / "data/examples/gaming_plan.yaml", folder / "in"),
                 seed=3)
    db = folder / "w.duckdb"
    previous = os.environ.get("DIP_SIM_PSEUDONYM_KEY")
    os.environ["DIP_SIM_PSEUDONYM_KEY"] = "k"  # session scope: the autouse key is not set yet
    try:
        run_ingest(folder / "in", db, progress=quiet)
    finally:
        if previous is None:
            os.environ.pop("DIP_SIM_PSEUDONYM_KEY")
        else:
            os.environ["DIP_SIM_PSEUDONYM_KEY"] = previous
    run_simulate(db, 2020, scenario_files=[SCENARIO_DIR / "growth_8pct.yaml"], progress=quiet)
    run_supervise(db, progress=quiet)
    return {"db": db, "truth": folder / "in" / "gaming_truth.csv"}
