"""Where the project's data lives: reference tables, policy, scenarios, the panel's catalogue
adjustments and the warehouse."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = PROJECT_ROOT / "data"
REFERENCE_DIR = DATA_DIR / "reference"
POLICY_DIR = DATA_DIR / "policy"
SCENARIO_DIR = DATA_DIR / "scenarios"
ADJUSTMENTS_DIR = DATA_DIR / "catalog_adjustments"
DEFAULT_DB = DATA_DIR / "warehouse.duckdb"
SECRET_DIR = DATA_DIR / "secret"


def default_db() -> Path:
    """The warehouse path: ``$DIP_SIM_DB`` if set, else ``data/warehouse.duckdb``."""
    return Path(os.environ.get("DIP_SIM_DB", DEFAULT_DB))
