"""The policy's CSV lists in ``data/policy/lists/`` (group lists, assessment results,
deductions, bonuses, special-review decisions), read and checked in one way: a file named by
a parameter, relative to that folder or absolute, with its required columns; a bad file or
value is refused naming the file, the row and the field."""

from __future__ import annotations

import csv
from pathlib import Path

from dip_sim.paths import POLICY_DIR
from dip_sim.policy.parameters import PolicyError

LISTS_DIR = POLICY_DIR / "lists"


def read_list(name: str, required: tuple[str, ...], kind: str) -> tuple[str, list[dict[str, str]]]:
    """The file's name and rows (column → text); ``kind`` names the list in the messages."""
    path = Path(name) if Path(name).is_absolute() else LISTS_DIR / name
    if not path.is_file():
        raise PolicyError(f"{kind}文件不存在: {path}")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise PolicyError(f"{path.name}: 应有列 {', '.join(required)}，缺少 {missing}"
                              f"（实际为 {reader.fieldnames}）")
        return path.name, list(reader)


def number(file: str, row: int, field: str, text: str, low: float, high: float | None) -> float:
    """``text`` as a number within [low, high] (thousands separators allowed), or refused."""
    try:
        value = float(str(text).replace(",", "").strip())
    except ValueError:
        raise PolicyError(f"{file} 第 {row} 行 {field}: {text!r} 不是数值") from None
    if value < low or (high is not None and value > high):
        bound = f"{low}–{high}" if high is not None else f"≥ {low}"
        raise PolicyError(f"{file} 第 {row} 行 {field}: {value} 超出范围（{bound}）")
    return value
