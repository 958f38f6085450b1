"""The dashboard on the demo city: page loads and the 预算情景 what-if.

Builds (once) the demo city — 200,000 discharges a year, 2017–2020, the example gaming plan
planted — into ``data/bench/demo`` and its warehouse (simulated and supervised), then,
signed in as the bureau, times each page's second load in
Streamlit's AppTest (the first fills the caches; the script's run time is what a user waits
for beyond the browser's own drawing) and one budget what-if run. Targets: a page under 2 s, the
what-if under 0.3 s. Run by ``make bench`` after the pipeline stages (``run_bench.py``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PAGE_TARGET_SECONDS = 2.0
WHAT_IF_TARGET_SECONDS = 0.3
PAGES = ("overview", "scenario", "compare", "hospital", "catalog", "quality", "supervision")
BUREAU = {"name": "bureau", "role": "bureau", "hospital_id": None}


def _current(db: Path) -> bool:
    """Whether the warehouse was made by this schema version (else it is built again)."""
    import duckdb

    from dip_sim.warehouse_version import SCHEMA_VERSION, stored_version

    if not db.is_file():
        return False
    with duckdb.connect(str(db), read_only=True) as con:
        return stored_version(con) == SCHEMA_VERSION


def demo_warehouse(directory: Path) -> Path:
    """The demo city's warehouse under ``directory`` (generated, loaded and simulated once)."""
    import shutil

    from pipelines.ingest import run_ingest
    from pipelines.run_all import prepare_demo
    from pipelines.simulate import run_simulate
    from pipelines.supervise import run_supervise

    source, db = directory / "demo", directory / "demo.duckdb"
    marker = directory / ".demo-complete-v2"  # v2: the example gaming plan planted, supervised
    if not marker.exists() or not _current(db):
        shutil.rmtree(source, ignore_errors=True)
        for path in (db, Path(f"{db}.wal")):
            path.unlink(missing_ok=True)
        os.environ.setdefault("DIP_SIM_PSEUDONYM_KEY", "bench-key")
        prepare_demo(source, 200_000, progress=lambda m: None)
        run_ingest(source, db, progress=lambda m: None)
        run_simulate(db, 2020, progress=lambda m: None)
        run_supervise(db, progress=lambda m: None)
        marker.touch()
    return db


def dashboard_bench(directory: Path) -> bool:
    """Time the pages and a what-if; print them; True when every target is met."""
    from streamlit.testing.v1 import AppTest

    from dip_sim.dashboard.whatif import run_what_if

    db = demo_warehouse(directory)
    os.environ["DIP_SIM_DB"] = str(db)
    root = Path(__file__).resolve().parents[1]
    at = AppTest.from_file(str(root / "app.py"), default_timeout=120)
    at.session_state["user"] = BUREAU
    at.run()
    print(f"\ndashboard on the demo city ({db}), signed in as the bureau:")
    print(f"{'page':<12}{'first s':>10}{'again s':>10}{'target':>8}")
    ok = True
    for page in PAGES:
        path = f"dip_sim/dashboard/pages/{page}.py"
        started = time.perf_counter()
        at.switch_page(path).run()
        first = time.perf_counter() - started
        started = time.perf_counter()
        at.switch_page(path).run()
        again = time.perf_counter() - started
        # a page that fails shows an exception, or an error box (data it cannot read)
        failed = bool(at.exception) or bool(at.error)
        ok &= not failed and again <= PAGE_TARGET_SECONDS
        print(f"{page:<12}{first:>10.2f}{again:>10.2f}{PAGE_TARGET_SECONDS:>8.0f}"
              + (f"  ERROR {[e.value for e in at.error] or at.exception}" if failed else ""))
    started = time.perf_counter()
    run_what_if(db, {"budget.growth_rate": 0.08}, 2020)
    seconds = time.perf_counter() - started
    ok &= seconds <= WHAT_IF_TARGET_SECONDS
    print(f"{'what-if':<12}{seconds:>10.2f}{'':>10}{WHAT_IF_TARGET_SECONDS:>8.1f}")
    return ok


def detection_bench(directory: Path) -> bool:
    """The supervision indices against the plan planted in the demo city."""
    from dip_sim.supervise.detection import (
        RANK_TARGET,
        RECALL_TARGET,
        detection_report,
        format_detection,
        meets_targets,
    )

    db = demo_warehouse(directory)
    report = detection_report(db, directory / "demo" / "gaming_truth.csv")
    print()
    print(f"planted gaming found in the demo city (targets: rank ≤ {RANK_TARGET} on the "
          f"matching index; recall ≥ {RECALL_TARGET['split_admission']:.0%} for split "
          "admissions):")
    print(format_detection(report))
    return meets_targets(report)
