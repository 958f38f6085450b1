"""What-if runs for the 预算情景 page: a scenario simulated against the warehouse read-only.

The warehouse is attached read-only to an in-memory DuckDB; every stage runs there in temp
tables and nothing is written (``run_scenario(persist=False)``), so a bureau analyst can try
parameters while the batch pipeline keeps the file. About two seconds on the demo city.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import yaml

from dip_sim.policy import Scenario, load_baseline
from dip_sim.simulation import default_history, run_scenario


def run_what_if(db: Path, changes: dict[str, Any], year: int,
                history: list[int] | None = None) -> tuple[dict[str, Any], pd.DataFrame]:
    """Simulate ``changes`` on the baseline; return its point values and hospital amounts."""
    con = duckdb.connect()
    try:
        con.execute("ATTACH ? AS wh (READ_ONLY)", [str(db)])
        con.execute("USE wh")
        row = run_scenario(con, Scenario("what_if", "预算情景页面试算", dict(changes)),
                           load_baseline(), year, history or default_history(year),
                           progress=lambda message: None, persist=False,
                           keep=("mart_hospital_settlement",))
    finally:
        con.close()
    return row, row.pop("mart_hospital_settlement")


def scenario_yaml(name: str, description: str, changes: dict[str, Any]) -> str:
    """The scenario file (``data/scenarios/*.yaml``) for ``changes``."""
    return yaml.safe_dump({"name": name, "description": description, "changes": changes},
                          allow_unicode=True, sort_keys=False)
