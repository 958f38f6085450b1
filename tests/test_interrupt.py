"""Ctrl-C during ingest, quality, simulate or supervise: one Chinese line, exit code 130, no
traceback, out within two seconds, and the warehouse as before the command (or, once the
load of an ingest is committed, the load kept and the previous quality results whole).

Each test runs the command in a subprocess on a copy of one small simulated city, sends
SIGINT when its progress shows the work under way, and compares every table and view of
the warehouse (row count and a hash of the rows) with its state before.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from dip_sim.paths import SCENARIO_DIR

# what the warehouse of the city and the command's subprocess use as pseudonymisation key
KEY = "k"
# the longest a command may take to end after SIGINT
STOP_SECONDS = 2.0
QUALITY_TABLES = ("case_features", "case_status", "quality_findings", "quality_rules")


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> dict[str, Path]:
    """A warehouse with a city loaded, checked, simulated (baseline, growth_8pct) and supervised,
    and a second extract (Parquet: each file loads and reports on its own) to load into it."""
    from dip_sim.synth import generate
    from pipelines.simulate import run_simulate
    from pipelines.supervise import run_supervise
    from tests.inputs import ingest_generated_city

    def quiet(message: str) -> None:
        del message

    folder = tmp_path_factory.mktemp("interrupt_city")
    db = ingest_generated_city(folder, 2_000, seed=11)
    run_simulate(db, 2020, scenario_files=[SCENARIO_DIR / "growth_8pct.yaml"], progress=quiet)
    run_supervise(db, ["baseline", "growth_8pct"], progress=quiet)
    more = folder / "more"
    generate(more, years=(2019, 2020), cases_per_year=5_000, seed=12, file_format="parquet")
    return {"db": db, "more": more}


def _snapshot(db: Path, only: tuple[str, ...] = ()) -> dict[str, tuple]:
    """Every table and view of ``db`` (or those in ``only``): its row count and a hash of its rows."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        names = only or tuple(r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall())
        return {name: con.execute(f"SELECT count(*), sum(hash(t)::HUGEINT) FROM {name} t")
                .fetchone() for name in names}
    finally:
        con.close()


def _meta(db: Path) -> dict[str, str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return dict(con.execute("SELECT name, value FROM warehouse_meta").fetchall())
    finally:
        con.close()


def _stop(db: Path, args: list[str], started: str, message: str, program: str | None = None
          ) -> None:
    """Run ``dip-sim args`` on ``db``, send SIGINT once a stderr line contains ``started``; assert
    it stops as it should: exit code 130, ``message`` the last line, no traceback, in time.

    ``program``: Python code to run instead of the command line (it calls ``main``).
    """
    launch = ["-c", program] if program else ["-m", "dip_sim.cli"]
    proc = subprocess.Popen([sys.executable, *launch, *args, "--db", str(db)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "DIP_SIM_PSEUDONYM_KEY": KEY})
    try:
        lines = []
        for line in proc.stderr:
            lines.append(line.rstrip("\n"))
            if started in line:
                break
        assert started in lines[-1], lines
        proc.send_signal(signal.SIGINT)
        sent = time.perf_counter()
        lines += proc.stderr.read().splitlines()
        proc.wait(timeout=60)
        seconds = time.perf_counter() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, lines
    assert lines[-1] == message, lines
    assert not any("Traceback" in line for line in lines), lines
    assert seconds < STOP_SECONDS, seconds


def _copy(city: dict[str, Path], tmp_path: Path) -> Path:
    db = tmp_path / "w.duckdb"
    shutil.copy(city["db"], db)
    return db


def _stop_as_before(db: Path, args: list[str], started: str, work: str,
                    program: str | None = None) -> None:
    """:func:`_stop` a command whose ``work`` is rolled back: the warehouse is exactly as before."""
    before = _snapshot(db)
    _stop(db, args, started, f"已中断：{work}未完成，已回滚，仓库与本次命令之前相同", program)
    assert _snapshot(db) == before


def test_ingest_interrupted_mid_load_leaves_the_warehouse_as_before(city, tmp_path):
    _stop_as_before(_copy(city, tmp_path), ["ingest", str(city["more"])], "载入 cases_", "载入")


def test_ingest_interrupted_in_its_quality_stage_keeps_the_load_and_the_previous_quality(
        city, tmp_path):
    db = _copy(city, tmp_path)
    before, meta = _snapshot(db, QUALITY_TABLES), _meta(db)
    # the summary is printed once the load is committed, just before the quality stage
    _stop(db, ["ingest", str(city["more"])], "新载入",
          "已中断：本次载入已提交，质控未完成，质控结果仍为上次的；请运行 dip-sim quality")
    assert _snapshot(db, QUALITY_TABLES) == before
    after = _meta(db)
    assert after["loaded_batch_id"] != meta["loaded_batch_id"]
    assert after["quality_batch_id"] == meta["quality_batch_id"]


def test_quality_interrupted_between_statements_leaves_the_warehouse_as_before(city, tmp_path):
    """The interrupt comes while the stage is busy in Python: it must not commit after it."""
    program = "\n".join((
        "import sys, time",
        "from dip_sim.cli import main",
        "from dip_sim.quality import status",
        "write_rules = status._write_rules",
        "def announced(con):",
        "    write_rules(con)",
        "    print('质控进行中', file=sys.stderr, flush=True)",
        "    time.sleep(0.5)",
        "status._write_rules = announced",
        "sys.exit(main(sys.argv[1:]))"))
    _stop_as_before(_copy(city, tmp_path), ["quality", "--recode"], "质控进行中", "质控", program)


def test_simulate_interrupted_after_its_first_scenario_leaves_every_scenario_as_before(
        city, tmp_path):
    # --force: the baseline runs again although its inputs are unchanged
    _stop_as_before(_copy(city, tmp_path), ["simulate", "--year", "2020", "--force", "--scenario",
                                            str(SCENARIO_DIR / "growth_8pct.yaml")],
                    "情景 baseline 完成", "模拟")


def test_supervise_interrupted_after_its_first_scenario_leaves_every_scenario_as_before(
        city, tmp_path):
    db = _copy(city, tmp_path)
    # the baseline's stored flags differ from what supervise computes: storing them would show
    con = duckdb.connect(str(db))
    con.execute("DELETE FROM supervision_cases WHERE scenario = 'baseline'")
    con.close()
    _stop_as_before(db, ["supervise", "--scenario", "baseline", "growth_8pct"], "baseline: ",
                    "监管指标计算")
