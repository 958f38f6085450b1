"""The expert panel's adjustments to the computed catalogue (本地化调整, docs/rules.md).

A YAML file in ``data/catalog_adjustments/`` that the panel edits, named by the parameter
``catalog.adjustments_file`` (none in the baseline). Each adjustment has an ``id``, an
``action``, the ``author``, the ``date`` and the ``reason``, and is one of:

- ``conservative_procedure`` (``code``): the procedure counts as 保守治疗 from now on: it is
  left out of every group key and of the comprehensive class (the key changes before the
  catalogue is computed);
- ``merge`` (``groups``: two or more group codes, ``into``: one of them): the groups' cases,
  history and simulation year, go into ``into``; its mean cost and points are computed from
  the pooled cases;
- ``set_points`` (``group``, ``points``): the group's points are set by negotiation, and every
  other group's points are rescaled by one factor so that the total history points
  (Σ_g W_g·rw_g, W_g = Σ of the year weights of the group's history cases) stay the same, as
  the national rule requires (DIP 3.0: experts may adjust points keeping total points
  unchanged). The budget point value, total history cost ÷ total history points, is
  therefore unchanged too;
- ``split`` (``group``, ``by``: cci, severity, tumour, age or icu): the core group is split by that
  auxiliary dimension whatever the triggers say (``int_aux_choice.sql``), as long as two sub-types
  keep enough cases.

Adjustments are applied after the computed catalogue (the procedure rule first, as it changes
keys), in the order of the file. An adjustment whose target is not in the catalogue is kept,
marked not applied, with the reason (table ``catalog_adjustments``). The file's SHA-256 is part
of the catalogue's version.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import yaml

from dip_sim.paths import ADJUSTMENTS_DIR
from dip_sim.policy import PolicyError

ACTIONS: dict[str, tuple[str, ...]] = {
    "conservative_procedure": ("code",),
    "merge": ("groups", "into"),
    "set_points": ("group", "points"),
    "split": ("group", "by"),
}
SPLIT_DIMENSIONS = ("cci", "severity", "tumour", "age", "icu")
COMMON_FIELDS = ("id", "action", "author", "date", "reason")


@dataclass(frozen=True)
class Adjustment:
    """One adjustment of the panel, as written in the file."""

    id: str
    action: str
    author: str
    date: dt.date
    reason: str
    fields: dict[str, Any]

    def target(self) -> str:
        """What it acts on, for the audit table: a procedure, a group, or the merged groups."""
        if self.action == "conservative_procedure":
            return self.fields["code"]
        if self.action == "merge":
            return " + ".join(self.fields["groups"]) + " → " + self.fields["into"]
        return self.fields["group"]


@dataclass(frozen=True)
class AdjustmentSet:
    """The adjustments of one file (empty when none is named), with the file's fingerprint."""

    name: str = ""
    sha256: str = ""
    items: tuple[Adjustment, ...] = field(default_factory=tuple)


def adjustments_path(name: str) -> Path:
    """The file named by ``catalog.adjustments_file``: under ``data/catalog_adjustments/``."""
    path = Path(name)
    return path if path.is_absolute() else ADJUSTMENTS_DIR / path


def load_adjustments(name: str | None) -> AdjustmentSet:
    """Read and check the adjustments file ``name``; the empty set when ``name`` is None.

    Raises ``PolicyError`` naming the file, the adjustment and the field at fault.
    """
    if not name:
        return AdjustmentSet()
    path = adjustments_path(name)
    if not path.is_file():
        raise PolicyError(f"专家调整文件不存在: {path}（参数 catalog.adjustments_file）")
    text = path.read_text(encoding="utf-8")
    try:
        content = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path.name}: 不是有效的 YAML：{exc}") from None
    rows = content.get("adjustments") if isinstance(content, dict) else None
    if not isinstance(rows, list):
        raise PolicyError(f"{path.name}: 应有 adjustments: 列表")
    items, seen = [], set()
    for n, row in enumerate(rows, start=1):
        items.append(_check(path.name, n, row, seen))
    return AdjustmentSet(path.name, hashlib.sha256(text.encode("utf-8")).hexdigest(), tuple(items))


def _check(file: str, n: int, row: Any, seen: set[str]) -> Adjustment:
    where = f"{file} 第 {n} 项"
    if not isinstance(row, dict):
        raise PolicyError(f"{where}: 应为映射（id、action、author、date、reason …）")
    missing = [f for f in COMMON_FIELDS if row.get(f) in (None, "")]
    if missing:
        raise PolicyError(f"{where}: 缺少字段 {missing}（每项调整须写明作者、日期与理由）")
    adj_id, action = str(row["id"]), row["action"]
    where = f"{file} 调整 {adj_id}"
    if adj_id in seen:
        raise PolicyError(f"{where}: id 重复")
    seen.add(adj_id)
    if action not in ACTIONS:
        raise PolicyError(f"{where}: action {action!r} 未知，应为 {list(ACTIONS)} 之一")
    missing = [f for f in ACTIONS[action] if row.get(f) in (None, "", [])]
    if missing:
        raise PolicyError(f"{where}: {action} 缺少字段 {missing}")
    try:
        date = row["date"] if isinstance(row["date"], dt.date) else \
            dt.date.fromisoformat(str(row["date"]))
    except ValueError:
        raise PolicyError(f"{where}: date {row['date']!r} 不是 YYYY-MM-DD") from None
    fields = {f: row[f] for f in ACTIONS[action]}
    if action == "merge":
        groups = fields["groups"]
        if not isinstance(groups, list) or len(groups) < 2:
            raise PolicyError(f"{where}: merge 的 groups 应列出至少两个病种编码")
        fields["groups"] = [str(g) for g in groups]
        if str(fields["into"]) not in fields["groups"]:
            raise PolicyError(f"{where}: into {fields['into']!r} 应为 groups 中的一个")
        fields["into"] = str(fields["into"])
    elif action == "split":
        if fields["by"] not in SPLIT_DIMENSIONS:
            raise PolicyError(f"{where}: by {fields['by']!r} 应为 {list(SPLIT_DIMENSIONS)} 之一")
        fields["group"] = str(fields["group"])
    elif action == "set_points":
        points = fields["points"]
        if not isinstance(points, int | float) or isinstance(points, bool) or points <= 0:
            raise PolicyError(f"{where}: points 应为正数，收到 {points!r}")
        fields["points"], fields["group"] = float(points), str(fields["group"])
    else:
        fields["code"] = str(fields["code"]).strip()
    return Adjustment(adj_id, action, str(row["author"]), date, str(row["reason"]), fields)


def set_adjustment_tables(con: duckdb.DuckDBPyConnection, adjustments: AdjustmentSet) -> None:
    """The run's adjustment tables the stage SQL reads (empty when there are none).

    ``run_adjustments`` (id, seq, action, target, author, date, reason),
    ``run_conservative`` (code, adjustment_id), ``run_merges`` (from_code, to_code,
    adjustment_id), ``run_set_points`` (group_code, rw, adjustment_id), ``run_splits``
    (group_code, dimension, adjustment_id).
    """
    con.execute("""
        CREATE OR REPLACE TEMP TABLE run_adjustments (adjustment_id VARCHAR, seq INTEGER,
            action VARCHAR, target VARCHAR, author VARCHAR, date DATE, reason VARCHAR);
        CREATE OR REPLACE TEMP TABLE run_conservative (code VARCHAR, adjustment_id VARCHAR);
        CREATE OR REPLACE TEMP TABLE run_merges (from_code VARCHAR, to_code VARCHAR,
            adjustment_id VARCHAR);
        CREATE OR REPLACE TEMP TABLE run_set_points (group_code VARCHAR, rw DOUBLE,
            adjustment_id VARCHAR);
        CREATE OR REPLACE TEMP TABLE run_splits (group_code VARCHAR, dimension VARCHAR,
            adjustment_id VARCHAR);""")
    for seq, a in enumerate(adjustments.items, start=1):
        con.execute("INSERT INTO run_adjustments VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [a.id, seq, a.action, a.target(), a.author, a.date, a.reason])
        if a.action == "conservative_procedure":
            con.execute("INSERT INTO run_conservative VALUES (?, ?)", [a.fields["code"], a.id])
        elif a.action == "merge":
            con.executemany("INSERT INTO run_merges VALUES (?, ?, ?)",
                            [[g, a.fields["into"], a.id] for g in a.fields["groups"]
                             if g != a.fields["into"]])
        elif a.action == "split":
            con.execute("INSERT INTO run_splits VALUES (?, ?, ?)",
                        [a.fields["group"], a.fields["by"], a.id])
        else:
            con.execute("INSERT INTO run_set_points VALUES (?, ?, ?)",
                        [a.fields["group"], a.fields["points"], a.id])


def adjustment_tables(con: duckdb.DuckDBPyConnection, run: Any) -> None:
    """The adjustment tables of the file ``catalog.adjustments_file`` names (none: empty)."""
    set_adjustment_tables(con, load_adjustments(run.values["catalog.adjustments_file"]))
