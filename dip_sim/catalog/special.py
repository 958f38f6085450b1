"""基层病种 and 中医优势病种: the group lists of ``data/policy/lists/`` a run reads.

A list is a CSV with the columns ``group_code,note`` (one group per row), named by the
parameters ``special.primary_list_file`` and ``special.tcm_list_file``; the stage
``mart_catalog_groups.sql`` marks the groups. Primary-care groups (基层病种) are paid without the
hospital-level coefficient (the same points at every level, dip_rules.md §5); TCM-advantage
groups (中医优势病种) have their case points multiplied by ``special.tcm_points_factor``.
"""

from __future__ import annotations

from typing import Any

import duckdb

from dip_sim.policy import PolicyError
from dip_sim.policy.lists import read_list


def load_group_list(name: str | None) -> list[tuple[str, str]]:
    """The (group_code, note) rows of the list file ``name`` (none when ``name`` is None)."""
    if not name:
        return []
    file, rows = read_list(name, ("group_code",), "病种名单")
    codes = [(r["group_code"].strip(), (r.get("note") or "").strip()) for r in rows]
    empty = [n for n, (code, _) in enumerate(codes, start=2) if not code]
    if empty:
        raise PolicyError(f"{file}: 第 {empty[0]} 行 group_code 为空")
    return codes


def set_special_tables(con: duckdb.DuckDBPyConnection, primary_file: str | None,
                       tcm_file: str | None) -> None:
    """``run_primary_list`` and ``run_tcm_list`` (group_code, note), read by ``mart_catalog_groups``."""
    for table, name in (("run_primary_list", primary_file), ("run_tcm_list", tcm_file)):
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} (group_code VARCHAR, note VARCHAR)")
        rows = load_group_list(name)
        if rows:
            con.executemany(f"INSERT INTO {table} VALUES (?, ?)", rows)


def special_list_tables(con: duckdb.DuckDBPyConnection, run: Any) -> None:
    """The run's group lists: the primary-care list only when ``special.primary_method`` is
    list (the rule and none read no file)."""
    primary = run.values["special.primary_list_file"] \
        if run.values["special.primary_method"] == "list" else None
    set_special_tables(con, primary, run.values["special.tcm_list_file"])
