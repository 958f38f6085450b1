"""Shared test set-up: a pseudonymisation key from the environment, never a file."""

from __future__ import annotations

import pytest

# The test files that take longest, longest first (each file's time with --durations=0 in
# make test on this 2-core machine, 2026-12-07: Spark 117 s, the browser files 76-85 s, the
# planted cities 57 s, the national export 47 s, the dashboard 36 s, down to 11 s). make test
# runs the files on both cores (--dist loadfile --no-loadscope-reorder), each worker taking the
# next file when it is almost done: a long file started late would keep one worker busy while
# the other waits. The order matters, not the figures; the other files follow in their own order.
LONGEST_FIRST = ("test_spark_engine.py", "test_browser_feedback.py", "test_browser_access.py",
                 "test_browser.py", "test_detection_added_procedure.py",
                 "test_national_export.py", "test_app.py", "test_ingest.py",
                 "test_incremental.py", "test_rebuild.py", "test_feedback_concurrency.py",
                 "test_api.py", "test_outputs_unchanged.py", "test_spark_log.py",
                 "test_row_order.py", "test_interrupt.py", "test_ingest_boundary.py", "test_regions.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the tests of :data:`LONGEST_FIRST` first, in its order (a stable sort: the tests of
    a file keep theirs)."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(autouse=True)
def _pseudonym_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIP_SIM_PSEUDONYM_KEY", "test-key-not-secret")


@pytest.fixture(autouse=True)
def _signin_state(monkeypatch: pytest.MonkeyPatch, tmp_path_factory) -> None:
    """The dashboard's session key and sign-in throttle of a test, never the project's
    data/secret/ (dip_sim.signin)."""
    monkeypatch.setenv("DIP_SIM_SESSION_KEY", "test-session-key-not-secret")
    monkeypatch.setenv("DIP_SIM_SIGNIN_DB",
                       str(tmp_path_factory.mktemp("signin") / "signin.sqlite"))


@pytest.fixture(scope="session")
def planted_city(tmp_path_factory) -> dict:
    """A city with the example gaming plan planted, ingested, simulated and supervised.

    20,000 discharges a year, 2017–2020; the plan ``data/examples/gaming_plan.yaml`` (each
    behaviour at 5% of a hospital's 2020 discharges); baseline and growth_8pct simulated for
    2020; the baseline supervised. Shared by the detection, supervision-page and browser
    tests. Keys: ``db``, ``truth`` (the gaming_truth.csv path).
    """
    from pathlib import Path

    from dip_sim.paths import SCENARIO_DIR
    from dip_sim.synth.gaming import load_plan, plant_gaming
    from pipelines.simulate import run_simulate
    from pipelines.supervise import run_supervise
    from tests.inputs import ingest_generated_city

    def quiet(message: str) -> None:
        del message

    def plant(city: Path) -> None:
        plan = Path(__file__).resolve().parents[1] / "data/examples/gaming_plan.yaml"
        plant_gaming(city, load_plan(plan, city), seed=3)

    folder = tmp_path_factory.mktemp("planted_city")
    db = ingest_generated_city(folder, 20_000, seed=7, before_ingest=plant)
    run_simulate(db, 2020, scenario_files=[SCENARIO_DIR / "growth_8pct.yaml"], progress=quiet)
    run_supervise(db, progress=quiet)
    return {"db": db, "truth": folder / "in" / "gaming_truth.csv"}


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL server for the session (``tests/postgres.py``); the tests that
    use it fail, with the exact error, when it cannot start."""
    from tests.postgres import PostgresUnavailable, ThrowawayPostgres

    server = None
    try:
        server = ThrowawayPostgres()
        server.start()
    except PostgresUnavailable as exc:
        if server is not None:
            server.stop()  # removes its folder
        pytest.fail(f"PostgreSQL could not be started: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()
