"""Objections are never lost to a busy warehouse or to each other (docs/feedback.md): several
processes, each with several threads (dashboard sessions), write objections into the feedback
store at once while ``dip-sim simulate`` runs in a subprocess holding the DuckDB warehouse;
every objection is there afterwards, once. On SQLite (WAL) and on PostgreSQL."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from dip_sim.auth import User
from dip_sim.feedback.store import FeedbackStore

PROCESSES, THREADS, PER_THREAD = 4, 4, 25
ROOT = Path(__file__).resolve().parents[1]


def write_objections(url: str, process: int, start: Path) -> int:
    """One process: THREADS sessions, each raising PER_THREAD objections as its own hospital
    user, started together once the file ``start`` exists; 1 (and the error on stderr) if any
    write failed, else 0."""
    store = FeedbackStore(url)
    errors: list[BaseException] = []

    def session(thread: int) -> None:
        user = User(f"u{process}_{thread}", "hospital", f"H{process}{thread}")
        try:
            for n in range(PER_THREAD):
                store.raise_objection(user, scenario="baseline", catalog_version="v",
                                      target="group", topic="points", group_code="J18.9|",
                                      reason=f"{process}-{thread}-{n}")
        except BaseException as exc:  # reported through the exit code and stderr
            errors.append(exc)

    deadline = time.monotonic() + 120
    while not start.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    threads = [threading.Thread(target=session, args=(t,)) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.close()
    if errors:
        print(repr(errors[0]), file=sys.stderr)
        return 1
    return 0


def _locked(db: Path) -> bool:
    """True while another process holds the warehouse's write lock."""
    try:
        duckdb.connect(str(db), read_only=True).close()
    except duckdb.IOException:
        return True
    return False


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_objections_from_many_sessions_while_simulate_holds_the_warehouse(
        backend, planted_city, tmp_path, request):
    db = tmp_path / "w.duckdb"
    shutil.copy(planted_city["db"], db)
    url = (f"sqlite:///{tmp_path / 'feedback.sqlite'}" if backend == "sqlite"
           else request.getfixturevalue("postgres_server").new_database())
    FeedbackStore(url).close()  # the tables, before the writers race for them

    # each writer its own interpreter (python -m this module), as separate servers would be
    start = tmp_path / "start"
    writers = [subprocess.Popen([sys.executable, "-m", "tests.test_feedback_concurrency", url,
                                 str(p), str(start)], cwd=ROOT, env={**os.environ},
                                stderr=subprocess.PIPE, text=True)
               for p in range(PROCESSES)]
    log = (tmp_path / "simulate.log").open("w")
    # the baseline (again: --force) and every shipped scenario: some seconds of holding the
    # warehouse
    scenarios = [str(p) for p in sorted((ROOT / "data/scenarios").glob("*.yaml"))]
    simulate = subprocess.Popen(
        [sys.executable, "-m", "dip_sim.cli", "simulate", "--db", str(db), "--year", "2020",
         "--force", "--scenario", *scenarios],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ})
    try:
        deadline = time.monotonic() + 120
        # its first stage has begun (a probe before it opened the file would stand in its way)
        while "[baseline]" not in (tmp_path / "simulate.log").read_text(encoding="utf-8"):
            assert simulate.poll() is None, (tmp_path / "simulate.log").read_text()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert _locked(db), "simulate holds the warehouse's write lock"
        start.touch()  # every writer at once, while simulate holds the warehouse
        failures = [w.communicate(timeout=120)[1] for w in writers]
        still_running = simulate.poll() is None
        assert simulate.wait(600) == 0, (tmp_path / "simulate.log").read_text()
    finally:
        if simulate.poll() is None:
            simulate.kill()
        for w in writers:  # a failed test leaves no writer waiting behind it
            if w.poll() is None:
                w.kill()
        log.close()
    assert [w.returncode for w in writers] == [0] * PROCESSES, failures
    assert still_running, "the writes should have been made while simulate ran"

    store = FeedbackStore(url)
    reasons = store.objections(User("b", "bureau"))["reason"].tolist()
    store.close()
    expected = {f"{p}-{t}-{n}" for p in range(PROCESSES) for t in range(THREADS)
                for n in range(PER_THREAD)}
    assert len(reasons) == len(expected) and set(reasons) == expected  # none lost, none twice


if __name__ == "__main__":
    sys.exit(write_objections(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])))
