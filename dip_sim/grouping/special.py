"""基层病种 and 中医优势病种: the group lists of ``data/policy/lists/`` a run reads.

A list is a CSV with the columns ``group_code,note`` (one group per row), named by the
parameters ``special.primary_list_file`` and ``special.tcm_list_file``; the stage
``special.sql`` marks the groups. Primary-care groups (基层病种) are paid without the
hospital-level coefficient (the same points at every level, dip_rules.md §5); TCM-advantage
groups (中医优势病种) have their case points multiplied by ``special.tcm_points_factor``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb

from dip_sim.paths import POLICY_DIR
from dip_sim.policy import PolicyError

LISTS_DIR = POLICY_DIR / "lists"


def load_group_list(name: str | None) -> list[tuple[str, str]]:
    """The (group_code, note) rows of the list file ``name`` (none when ``name`` is None)."""
    if not name:
        return []
    path = Path(name) if Path(name).is_absolute() else LISTS_DIR / name
    if not path.is_file():
        raise PolicyError(f"病种名单文件不存在: {path}")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if "group_code" not in (reader.fieldnames or []):
            raise PolicyError(f"{path.name}: 应有列 group_code（及 note），实际为 {reader.fieldnames}")
        rows = [(r["group_code"].strip(), (r.get("note") or "").strip()) for r in reader]
    empty = [n for n, (code, _) in enumerate(rows, start=2) if not code]
    if empty:
        raise PolicyError(f"{path.name}: 第 {empty[0]} 行 group_code 为空")
    return rows


def set_special_tables(con: duckdb.DuckDBPyConnection, primary_file: str | None,
                       tcm_file: str | None) -> None:
    """``run_primary_list`` and ``run_tcm_list`` (group_code, note) for ``special.sql``."""
    for table, name in (("run_primary_list", primary_file), ("run_tcm_list", tcm_file)):
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} (group_code VARCHAR, note VARCHAR)")
        rows = load_group_list(name)
        if rows:
            con.executemany(f"INSERT INTO {table} VALUES (?, ?)", rows)
