"""Recognising a table by its header: mapping hospitals' column names to the contract's fields.

Hospitals' information systems name the fields of the 医保结算清单 / 病案首页 differently
(主要诊断编码, 主诊断代码, 出院主要诊断编码 …). ``data/reference/header_map.csv`` lists the
standard names and their common variants for each contract field; a user mapping file
(``dip-sim ingest DIR --mapping FILE``, same ``field,header`` columns) adds a vendor's own
names and wins over the built-in ones. The contract's English names and Chinese labels map to
themselves.

Headers are compared after normalisation (NFKC, so full-width letters, digits and brackets
become their ASCII forms; lower case; spaces, brackets and ``_-:/.`` removed). A list field
(``other_dx``, ``other_procs``) may come as one ``;``-separated column or spread over numbered
columns (其他诊断编码1 … 其他诊断编码N), joined in their numeric order.

A table's kind follows from the fields found: a case table (病案首页), a settlement table
(结算), both in one row per discharge (the combined 医保结算清单: loaded as both), or the
hospital table. A table whose required fields cannot all be mapped is refused with its
headers and the fields missing.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from dip_sim.ingest.errors import IngestError
from dip_sim.paths import REFERENCE_DIR
from dip_sim.schema import INPUT_COLUMNS, INPUT_KEYS, INPUT_TABLES

LIST_FIELDS: tuple[str, ...] = ("other_dx", "other_procs")
KIND_ORDER: tuple[str, ...] = ("hospitals", "cases", "settlements")
KIND_ZH = {"hospitals": "医院表", "cases": "病案首页", "settlements": "结算表"}
_STRIP = re.compile(r"[\s()\[\]{}<>【】_\-:/\\.·,，;；'\"]+")
_NUMBERED = re.compile(r"^(.*?)(\d+)$")


def normalise_header(name: str) -> str:
    """A header as compared: NFKC, lower case, without spaces, brackets and separators."""
    text = unicodedata.normalize("NFKC", str(name)).replace("\ufeff", "").lower()
    return _STRIP.sub("", text)


def _read_map(path: Path) -> dict[str, str]:
    """``normalised header → field`` from a ``field,header`` CSV; unknown fields refused."""
    out: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        raise IngestError(f"无法读取列名映射文件 {path}: {exc}") from None
    for number, row in enumerate(rows, start=2):
        name, header = (row.get("field") or "").strip(), (row.get("header") or "").strip()
        if not name or not header:
            raise IngestError(f"列名映射文件 {path} 第 {number} 行: 需要 field 与 header 两列")
        if name not in INPUT_COLUMNS:
            raise IngestError(f"列名映射文件 {path} 第 {number} 行: 未知字段 {name}"
                              f"（可用字段: {', '.join(sorted(INPUT_COLUMNS))}）")
        out[normalise_header(header)] = name
    return out


def header_map(user_map: Path | None = None) -> dict[str, str]:
    """``normalised header → field``: contract names and labels, the built-in map, the user's."""
    out: dict[str, str] = {}
    for columns in INPUT_TABLES.values():
        for col in columns:
            out[normalise_header(col.name)] = col.name
            if col.label_zh:
                out.setdefault(normalise_header(col.label_zh), col.name)
    out.update(_read_map(REFERENCE_DIR / "header_map.csv"))
    if user_map is not None:
        out.update(_read_map(Path(user_map)))
    return out


@dataclass
class MappedHeader:
    """Which source column(s) feed each contract field of one table."""

    fields: dict[str, list[str]] = field(default_factory=dict)  # field → source header(s)
    unmapped: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """``field←header`` pairs, for ``load_batches`` and messages."""
        return "; ".join(f"{f}←{'+'.join(h)}" for f, h in self.fields.items())


def map_headers(headers: list[str], mapping: dict[str, str]) -> MappedHeader:
    """Map a table's headers to contract fields (numbered list columns kept in their order)."""
    out = MappedHeader()
    numbered: dict[str, list[tuple[int, str]]] = {}
    for header in headers:
        key = normalise_header(header)
        name = mapping.get(key)
        if name is None:
            match = _NUMBERED.match(key)
            base = mapping.get(match.group(1)) if match else None
            if base in LIST_FIELDS:
                numbered.setdefault(base, []).append((int(match.group(2)), header))
                continue
            out.unmapped.append(header)
        elif name not in out.fields:
            out.fields[name] = [header]
        else:
            out.unmapped.append(header)  # a second column for the same field: the first wins
    for name, columns in numbered.items():
        if name not in out.fields:
            out.fields[name] = [h for _, h in sorted(columns)]
    return out


def table_kinds(mapped: MappedHeader, name_hint: str, where: str) -> list[str]:
    """The kinds of table the mapped header holds (a combined 清单 holds two).

    A kind counts when all its required fields are present; a header that is not complete
    for any kind but looks like one (its key and another field of it, or a file named for it)
    is refused naming the missing fields. Returns ``[]`` for a table of no known kind.
    """
    present = set(mapped.fields)
    complete, partial = [], []
    for kind in KIND_ORDER:
        required = [c.name for c in INPUT_TABLES[kind] if c.required]
        own = {c.name for c in INPUT_TABLES[kind]} - {"case_id", "hospital_id"}
        if all(r in present for r in required):
            complete.append(kind)
        elif (INPUT_KEYS[kind] in present and present & own) or name_hint.startswith(kind):
            partial.append((kind, [r for r in required if r not in present]))
    if "hospitals" in complete and len(complete) > 1:
        complete.remove("hospitals")  # hospital fields repeated on every case row
    if complete:
        return complete
    if partial:
        kind, missing = partial[0]
        raise IngestError(
            f"{where}: 像是{KIND_ZH[kind]}，但缺少必需字段 {', '.join(missing)}"
            f"（文件的列: {', '.join(mapped.unmapped + [h for hs in mapped.fields.values() for h in hs])}）"
            f"；可用 --mapping 文件补充列名映射")
    return []


