"""Opening the warehouse file for a batch run."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

# DuckDB's memory cap for batch runs; beyond it DuckDB spills to disk instead of growing
MEMORY_LIMIT = os.environ.get("DIP_SIM_MEMORY_LIMIT", "4GB")


def connect(db_path: Path) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the warehouse for writing, with a memory cap."""
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(db_path))
    con.execute("SET memory_limit = ?", [MEMORY_LIMIT])
    return con
