"""The catalogue adjustment an accepted objection led to (docs/feedback.md).

The panel's adjustments live in YAML files under ``data/catalog_adjustments/``, each with its
own id, author, date and reason (:mod:`dip_sim.catalog.adjustments`, the audit trail of the
catalogue). An accepted objection points to one of them by file and id; the panel may pick
one written before or write one from the dashboard, appended to a file and checked by the same
loader that ``dip-sim simulate`` uses before the file is replaced.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from dip_sim.catalog.adjustments import load_adjustments
from dip_sim.feedback.rules import FeedbackError
from dip_sim.paths import ADJUSTMENTS_DIR
from dip_sim.policy import PolicyError

_FILE_NAME = re.compile(r"^[A-Za-z0-9_\-.\u4e00-\u9fff]{1,80}\.ya?ml$")
LINK_COLUMNS = ["file", "adjustment_id", "action", "target", "author", "date", "reason"]


@dataclass(frozen=True)
class AdjustmentLink:
    """An adjustment of the panel's file ``file`` (a name under the adjustments folder), with
    the file's SHA-256 when the link was made."""

    file: str
    adjustment_id: str
    sha256: str


def panel_adjustments(directory: Path = ADJUSTMENTS_DIR) -> pd.DataFrame:
    """Every adjustment of every file in ``directory`` that the loader accepts, by file and
    order. Columns: file, adjustment_id, action, target, author, date, reason. A file the
    loader refuses is left out (``dip-sim simulate`` says why when a scenario names it)."""
    rows = []
    for path in sorted(directory.glob("*.y*ml")) if directory.is_dir() else []:
        try:
            found = load_adjustments(str(path))
        except PolicyError:
            continue
        rows += [(path.name, a.id, a.action, a.target(), a.author, a.date, a.reason)
                 for a in found.items]
    return pd.DataFrame(rows, columns=LINK_COLUMNS)


def check_link(file: str, adjustment_id: str,
               directory: Path = ADJUSTMENTS_DIR) -> AdjustmentLink:
    """The link to adjustment ``adjustment_id`` of ``file``, checked by the adjustments loader;
    a FeedbackError when the file or the id is not there or the file is refused."""
    path = _path(file, directory)
    if not path.is_file():
        raise FeedbackError(f"专家调整文件 {file} 不存在（{directory}）。")
    try:
        found = load_adjustments(str(path))
    except PolicyError as exc:
        raise FeedbackError(f"专家调整文件 {file} 有误：{exc}") from None
    ids = [a.id for a in found.items]
    if str(adjustment_id) not in ids:
        raise FeedbackError(f"专家调整文件 {file} 中没有编号为 {adjustment_id} 的调整"
                            f"（现有：{'、'.join(ids) or '无'}）。")
    return AdjustmentLink(path.name, str(adjustment_id), found.sha256)


def write_adjustment(file: str, entry: dict[str, Any],
                     directory: Path = ADJUSTMENTS_DIR) -> AdjustmentLink:
    """Append the adjustment ``entry`` (id, action, author, date, reason and the action's
    fields) to ``file`` in ``directory`` (made when missing) and return its link.

    The new file is checked by the adjustments loader before it replaces the old one (id
    unique, fields complete, date, points …): a refused entry leaves the file as it was and
    the error names the field. The file keeps its comments; writers queue on a lock file.
    """
    path = _path(file, directory)
    directory.mkdir(parents=True, exist_ok=True)
    item = {k: v for k, v in entry.items() if v not in (None, "", [])}
    if isinstance(item.get("date"), str):
        with contextlib.suppress(ValueError):
            item["date"] = dt.date.fromisoformat(item["date"])
    with open(directory / ".adjustments.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        old = path.read_text(encoding="utf-8") if path.is_file() else ""
        before = _count(path) if old else 0
        text = _appended(old, item)
        handle, tmp = tempfile.mkstemp(dir=directory, suffix=".yaml.tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            try:
                found = load_adjustments(tmp)
            except PolicyError as exc:
                raise FeedbackError(f"新调整未写入 {file}：{exc}".replace(Path(tmp).name, file)) \
                    from None
            if len(found.items) != before + 1 or found.items[-1].id != str(item.get("id")):
                raise FeedbackError(f"新调整未写入 {file}：文件中的 adjustments 列表不是最后一项，"
                                    "请手工编辑该文件。")
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    return AdjustmentLink(path.name, str(item["id"]),
                          hashlib.sha256(text.encode("utf-8")).hexdigest())


def _path(file: str, directory: Path) -> Path:
    name = (file or "").strip()
    if not _FILE_NAME.match(name):
        raise FeedbackError(f"调整文件名 {name!r} 无效：应为 data/catalog_adjustments/ 下的 "
                            "文件名，如 panel_2021.yaml（字母、数字、汉字、_ - .）。")
    return directory / name


def _count(path: Path) -> int:
    try:
        return len(load_adjustments(str(path)).items)
    except PolicyError as exc:
        raise FeedbackError(f"专家调整文件 {path.name} 有误，请先修正：{exc}") from None


def _appended(old: str, item: dict[str, Any]) -> str:
    """``old`` with ``item`` as the last entry of its ``adjustments:`` list, indented like the
    entries already there (a new file when ``old`` is empty)."""
    if not old.strip():
        old = "adjustments:\n"
    found = re.search(r"^( *)- ", old.split("adjustments:", 1)[-1], flags=re.MULTILINE)
    indent = found.group(1) if found else "  "
    dumped = yaml.safe_dump([item], allow_unicode=True, sort_keys=False)
    lines = [indent + line if line else line for line in dumped.splitlines()]
    return old.rstrip("\n") + "\n" + "\n".join(lines) + "\n"
