"""What-if runs for the 预算情景 page: a scenario simulated against the warehouse read-only.

The warehouse is attached read-only to an in-memory DuckDB for the run, and detached after
it, so the batch pipeline can take the file between two what-ifs; nothing is written
(``run_scenario(persist=False)``). A what-if reruns only what its changes reach and its
results need, over the stored baseline (:mod:`dip_sim.pipeline.incremental`); the tables of
the models it did not change stay in the in-memory database for the next what-if, as long as
the warehouse file and its baseline are unchanged. A budget-only what-if on the demo city
then recomputes the budget and settlement stages alone.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import yaml

from dip_sim.paths import SCENARIO_DIR
from dip_sim.policy import Scenario, load_baseline, load_scenario
from dip_sim.simulation import Reuse, default_history, run_scenario

# where a deployment (or a test) keeps the scenario files the page saves
ENV_SCENARIO_DIR = "DIP_SIM_SCENARIO_DIR"


class _Session:
    """An in-memory DuckDB kept between what-ifs on one warehouse file, with what they reuse."""

    def __init__(self, stamp: tuple[str, int, int]) -> None:
        self.stamp = stamp
        self.lock = threading.Lock()
        self.con = duckdb.connect()
        self.reuse = Reuse()

    def reset(self) -> None:
        """Start again from nothing (after a what-if that failed half way)."""
        self.con.close()
        self.con = duckdb.connect()
        self.reuse = Reuse()


_SESSIONS: dict[str, _Session] = {}
_SESSIONS_LOCK = threading.Lock()


def _session(db: Path) -> _Session:
    """The session of ``db``: a new one when the file changed since the last what-if."""
    stat = Path(db).stat()
    stamp = (str(Path(db).resolve()), stat.st_mtime_ns, stat.st_size)
    with _SESSIONS_LOCK:
        found = _SESSIONS.get(stamp[0])
        if found is None or found.stamp != stamp:
            if found is not None:
                with found.lock:
                    found.con.close()
            found = _SESSIONS[stamp[0]] = _Session(stamp)
        return found


def run_what_if(db: Path, changes: dict[str, Any], year: int,
                history: list[int] | None = None, region: str | None = None
                ) -> tuple[dict[str, Any], pd.DataFrame]:
    """Simulate ``changes`` on the baseline in pooling ``region`` (None: the warehouse's only
    or first); return its point values and hospital amounts."""
    session = _session(db)
    with session.lock:
        con = session.con
        con.execute("ATTACH ? AS wh (READ_ONLY)", [str(db)])
        try:
            con.execute("USE wh")
            row = run_scenario(con, Scenario("what_if", "预算情景页面试算", dict(changes)),
                               load_baseline(), year, history or default_history(year),
                               progress=lambda message: None, persist=False,
                               keep=("mart_hospital_settlement",), reuse=session.reuse,
                               region_code=region)
        except BaseException:  # what it left half made is not reused
            session.reset()
            raise
        con.execute("USE memory")
        con.execute("DETACH wh")
    return row, row.pop("mart_hospital_settlement")


def scenario_yaml(name: str, description: str, changes: dict[str, Any]) -> str:
    """The scenario file (``data/scenarios/*.yaml``) for ``changes``."""
    return yaml.safe_dump({"name": name, "description": description, "changes": changes},
                          allow_unicode=True, sort_keys=False)


def scenario_dir() -> Path:
    """The folder the 预算情景 page saves scenario files to: ``$DIP_SIM_SCENARIO_DIR``, else
    ``data/scenarios/``."""
    return Path(os.environ.get(ENV_SCENARIO_DIR) or SCENARIO_DIR)


def scenario_files() -> list[Path]:
    """The scenario files there are to compare: those saved (:func:`scenario_dir`) and those the
    project ships (``data/scenarios/*.yaml``, what ``make run`` simulates), each file once."""
    files: dict[Path, Path] = {}
    for folder in (scenario_dir(), SCENARIO_DIR):
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
            files.setdefault(path.resolve(), path)
    return list(files.values())


def run_scenario_file(db: Path, path: Path, year: int, region: str | None = None
                      ) -> dict[str, Any]:
    """A scenario file run as a what-if on the baseline (read-only) in pooling ``region``: its
    point values, named by the file's scenario. The file is read and checked as ``dip-sim
    simulate --scenario`` reads it; one it cannot use raises ``PolicyError`` naming it."""
    scenario = load_scenario(path, load_baseline())
    changes = {**scenario.changes, **scenario.region_changes.get(region or "", {})}
    row, _ = run_what_if(db, changes, year, region=region)
    return {**row, "scenario": scenario.name, "description": scenario.description}
