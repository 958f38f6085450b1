"""Recognising a table by its header: mapping the columns of an export to the contract's fields.

``data/reference/header_map.csv`` lists, item by item, the fields of the national
医疗保障基金结算清单 (医保办发〔2021〕34号 填写规范, and the 2020 version's spellings), of the
医保信息平台's interfaces (4101 清单上传, 4401 病案首页上传, 2304 住院结算: their snake-case
names) and of hospitals' usual exports, each with the contract field it holds, or ``ignore``
for an item recognised and deliberately not stored (a name beside its code, personal data,
a count, a breakdown the contract does not keep), with the reason. A user mapping file
(``dip-sim ingest DIR --mapping FILE``, columns ``field,header``) adds a vendor's own names and
wins over the built-in ones; its field may be ``ignore`` too.

Spellings. A row's ``header`` is the standard's own name; ``variants`` adds export spellings,
``;``-separated patterns in which ``{a|b|}`` means one of the alternatives (``{出院|}主要诊断``
is 出院主要诊断 or 主要诊断; groups may nest). Beside these, every spelling is recognised
- with 编码 for 代码 and the reverse (compared as the same word);
- for an amount (``*_yuan``): with 金额 or 元 after it, or without a closing 金额;
- numbered 1…N (其他诊断代码1 … 其他诊断代码N, or 其他诊断1代码) where the item repeats: the
  list fields (``other_dx``, ``other_procs``, joined in numeric order), items not stored, and
  parts that add up (重症监护合计时长1 + 2).
Headers are compared after normalisation (NFKC, so full-width letters, digits and brackets
become ASCII; lower case; spaces, brackets and ``_-:/.`` removed).

Parts. Some fields are written as parts that add up (``part``): 药品费 = 西药费 + 中药饮片费 +
中成药费, 个人负担 = 个人自付 + 个人自费, a duration in 天 / 小时 / 分钟 columns (``factor``
converts each to hours). A column holding the whole field wins over its parts; a part ``a/b``
counts only when part ``a`` is absent (职工大额医疗费用补助 is inside 补充医疗保险支付).

When two columns give the same field (清单流水号 and 病案号), the one listed first in the map
wins; the other is reported as redundant. A column that maps to nothing is reported as
unmapped (``unmapped``: what it looks like, the field it probably is).

A table's kind follows from the fields found (:func:`table_kinds`).
"""

from __future__ import annotations

import csv
import functools
import re
import unicodedata
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

from dip_sim.ingest.errors import IngestError
from dip_sim.paths import REFERENCE_DIR
from dip_sim.schema import INPUT_COLUMNS, INPUT_KEYS, INPUT_TABLES

IGNORE = "ignore"  # the field of an item recognised and deliberately not stored
LIST_FIELDS: tuple[str, ...] = ("other_dx", "other_procs")
KIND_ORDER: tuple[str, ...] = ("hospitals", "cases", "settlements")
KIND_ZH = {"hospitals": "医院表", "cases": "病案首页", "settlements": "结算表"}
HEADER_MAP_FILE = REFERENCE_DIR / "header_map.csv"

_STRIP = re.compile(r"[\s()\[\]{}<>【】_\-:/\\.·,，;；'\"]+")
NUMBERED_SUFFIX = re.compile(r"^(.*?\D)(\d+)$")
_NUMBERED_MID = re.compile(r"^(.*?\D)(\d+)(\D.*)$")
_GROUP = re.compile(r"\{([^{}]*)\}")

# Rank of the entries by where they come from: a user's mapping first, then the contract's own
# names, the built-in map in its row order, and last the contract's Chinese labels.
_RANK_USER, _RANK_CONTRACT, _RANK_LABEL = -1_000_000, -1_000, 1_000_000


def normalise_header(name: str) -> str:
    """A header as compared: NFKC, lower case, without spaces, brackets and separators; 编码 as 代码."""
    text = unicodedata.normalize("NFKC", str(name)).replace("\ufeff", "").lower()
    return _STRIP.sub("", text).replace("编码", "代码")


def expand_pattern(pattern: str) -> list[str]:
    """Every spelling of ``pattern``: ``{a|b|}`` is one of the alternatives, innermost first."""
    out = [pattern]
    while any("{" in p for p in out):
        expanded = []
        for text in out:
            match = _GROUP.search(text)
            if match is None:
                raise IngestError(f"列名写法中的括号不成对: {pattern}")
            for choice in match.group(1).split("|"):
                expanded.append(text[:match.start()] + choice + text[match.end():])
        out = expanded
    return list(dict.fromkeys(out))


def _amount_spellings(spelling: str) -> list[str]:
    """An amount's usual export forms: with 金额 or 元 after it, or without a closing 金额."""
    out = [spelling, f"{spelling}元"]
    if spelling.endswith("金额") and len(spelling) > 2:
        out.append(spelling[:-2])
    elif not spelling.endswith(("合计", "总额")):
        out += [f"{spelling}金额", f"{spelling}金额元"]
    return out


@dataclass(frozen=True)
class MapEntry:
    """What a recognised spelling holds: its field, which part of it, and its priority."""

    field: str  # a contract field, or IGNORE
    part: str = ""  # "" = the whole field; else a part key ("a/b": a sub-part of part "a")
    # a part's value is multiplied by this before the parts are added; "dhm": the column is
    # written 天/小时/分钟 (a duration in the standard's own form) and read as hours
    factor: float | str = 1.0
    rank: int = 0  # among columns giving the same field, the lowest rank wins
    item: str = ""  # the standard's name of the item (for messages)
    note: str = ""

    @property
    def stored(self) -> bool:
        """True for a contract field (not an item deliberately left out)."""
        return self.field != IGNORE


def _factor(text: str) -> float | str:
    """A ``factor`` cell: a number or fraction (1/60), or ``dhm`` (written 天/小时/分钟)."""
    text = (text or "").strip()
    if text == "dhm":
        return text
    return float(Fraction(text)) if text else 1.0


def _read_rows(path: Path) -> list[dict[str, str]]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            return list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        raise IngestError(f"无法读取列名映射文件 {path}: {exc}") from None


def row_spellings(row: dict[str, str]) -> list[str]:
    """Every spelling a map row recognises (before normalisation), the standard's name first."""
    spellings = expand_pattern(row["header"].strip())
    for pattern in (row.get("variants") or "").split(";"):
        if pattern.strip():
            spellings += expand_pattern(pattern.strip())
    if row["field"].endswith("_yuan"):
        spellings = [a for s in spellings for a in _amount_spellings(s)]
    # 代码 and 编码 are the same word to the matcher; both are listed for the export test
    spellings += [s.replace("代码", "编码") for s in spellings if "代码" in s]
    return list(dict.fromkeys(spellings))


def _entries(path: Path, rank_base: int, user: bool) -> list[tuple[str, MapEntry]]:
    """(spelling, entry) of each row of a map file; unknown fields and bad rows refused."""
    out = []
    for number, row in enumerate(_read_rows(path), start=2):
        name, header = (row.get("field") or "").strip(), (row.get("header") or "").strip()
        if not name or not header:
            raise IngestError(f"列名映射文件 {path} 第 {number} 行: 需要 field 与 header 两列")
        if name != IGNORE and name not in INPUT_COLUMNS:
            raise IngestError(f"列名映射文件 {path} 第 {number} 行: 未知字段 {name}"
                              f"（可用字段: {IGNORE}（不载入此列）, {', '.join(sorted(INPUT_COLUMNS))}）")
        try:
            factor = _factor(row.get("factor") or "")
        except (ValueError, ZeroDivisionError):
            raise IngestError(f"列名映射文件 {path} 第 {number} 行: factor 应为数或分数，"
                              f"收到 {row.get('factor')!r}") from None
        entry = MapEntry(name, (row.get("part") or "").strip(), factor,
                         rank_base + number, header, (row.get("note") or "").strip())
        spellings = [header] if user else row_spellings(row)
        out += [(s, entry) for s in spellings]
    return out


def _contract_entries() -> list[tuple[str, MapEntry]]:
    """The contract's own names (first) and its Chinese labels (last): each maps to itself."""
    out = []
    for col in INPUT_COLUMNS.values():
        out.append((col.name, MapEntry(col.name, rank=_RANK_CONTRACT, item=col.name)))
        if col.label_zh:
            out.append((col.label_zh, MapEntry(col.name, rank=_RANK_LABEL, item=col.label_zh)))
    return out


@functools.cache
def builtin_entries() -> tuple[tuple[str, MapEntry], ...]:
    """(spelling, entry) of the built-in map, in its row order."""
    return tuple(_entries(HEADER_MAP_FILE, 0, user=False))


def header_map(user_map: Path | list[Path] | None = None) -> dict[str, MapEntry]:
    """``normalised header → entry``: the user's mappings, the contract, the built-in map.

    A spelling that two sources name goes to the best-ranked one (the user's first).
    """
    users = [] if user_map is None else [user_map] if isinstance(user_map, str | Path) \
        else list(user_map)
    entries = list(builtin_entries()) + _contract_entries()
    for number, path in enumerate(users):
        entries += _entries(Path(path), _RANK_USER + number * 10_000, user=True)
    out: dict[str, MapEntry] = {}
    for spelling, entry in entries:
        key = normalise_header(spelling)
        if key and (key not in out or entry.rank < out[key].rank):
            out[key] = entry
    return out


def map_conflicts() -> list[str]:
    """Spellings the built-in map gives to two different fields or parts (should be none)."""
    seen: dict[str, tuple[str, str, str]] = {}
    out = []
    for spelling, entry in builtin_entries():
        key = normalise_header(spelling)
        target = (entry.field, entry.part, entry.item)
        if key in seen and seen[key][:2] != target[:2]:
            out.append(f"{spelling}: {seen[key][2]} ({seen[key][0]}) / {entry.item} ({entry.field})")
        seen.setdefault(key, target)
    return out


def _lookup(key: str, mapping: dict[str, MapEntry]) -> tuple[MapEntry | None, int | None, str]:
    """(entry, number, series) of a normalised header: direct, or a numbered repeat of an item."""
    entry = mapping.get(key)
    if entry is not None:
        return entry, None, key
    for pattern in (NUMBERED_SUFFIX, _NUMBERED_MID):
        match = pattern.match(key)
        if match is None:
            continue
        digits, rest = match.group(2), match.group(3) if pattern is _NUMBERED_MID else ""
        # the number may follow digits of the name itself (出院31天内… + 1): longest name first
        for cut in range(len(digits) - 1, -1, -1):
            base = match.group(1) + digits[:cut] + rest
            entry = mapping.get(base)
            if entry is not None and (entry.field in LIST_FIELDS or not entry.stored
                                      or entry.part):
                return entry, int(digits[cut:]), base
    return None, None, key


@dataclass
class FieldSource:
    """The column(s) of a table that give one contract field, and how they combine."""

    headers: list[str]
    how: str = "one"  # one column; "list": numbered columns joined by ;; "sum": parts added
    units: list[float | str] = field(default_factory=list)  # per header: its MapEntry.factor
    text_format: str = ""  # the field's own way of being written (InputColumn.text_format)

    def combined(self) -> bool:
        """True when the field is made from its columns: added, converted from a unit, or
        read in a form of its own (a duration in 天/小时/分钟)."""
        return self.how == "sum" or any(u != 1.0 for u in self.units) or bool(self.text_format)


@dataclass
class MappedHeader:
    """Which source column(s) feed each contract field of one table, and what is left over."""

    fields: dict[str, FieldSource] = field(default_factory=dict)
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (header, the item) not stored
    redundant: list[tuple[str, str, str]] = field(default_factory=list)  # (header, field, used)
    unmapped: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """``field←header`` pairs (``+`` between columns), for ``load_batches`` and messages."""
        return "; ".join(f"{f}←{'+'.join(s.headers)}" for f, s in self.fields.items())

    def describe_ignored(self) -> str:
        """The columns recognised and not stored, and the redundant ones, as one text."""
        parts = [h if normalise_header(h) == normalise_header(item) else f"{h}（{item}）"
                 for h, item in self.ignored]
        parts += [f"{h}（与 {used} 同为 {name}，未用）" for h, name, used in self.redundant]
        return "; ".join(parts)


class _Candidate(NamedTuple):
    """A column that gives a field, as :func:`map_headers` weighs it."""

    rank: int  # its entry's rank (lower wins)
    order: int  # its position in the table
    header: str
    entry: MapEntry
    number: int | None  # its number when it is one of a numbered series
    series: str  # the normalised name of that series (the header itself otherwise)


def map_headers(headers: list[str], mapping: dict[str, MapEntry]) -> MappedHeader:
    """Map a table's headers to contract fields (see the module's docstring for the rules)."""
    out = MappedHeader()
    candidates: dict[str, list[_Candidate]] = {}
    for order, header in enumerate(headers):
        key = normalise_header(header)
        entry, number, series = _lookup(key, mapping) if key else (None, None, key)
        if entry is None:
            out.unmapped.append(header)
        elif not entry.stored:
            out.ignored.append((header, entry.item))
        else:
            candidates.setdefault(entry.field, []).append(
                _Candidate(entry.rank, order, header, entry, number, series))
    for name in sorted(candidates, key=lambda n: min(c.order for c in candidates[n])):
        out.fields[name] = _choose(name, sorted(candidates[name]), out)
        out.fields[name].text_format = INPUT_COLUMNS[name].text_format
    return out


def _parent_parts(key: str) -> list[str]:
    """The parts a part key lies inside: ``补充/职工大额`` → ``["补充"]``."""
    path = key.split("#")[0].split("/")
    return ["/".join(path[:i]) for i in range(1, len(path))]


def _choose(name: str, ranked: list[_Candidate], out: MappedHeader) -> FieldSource:
    """The columns that give ``name`` (``ranked`` best first); the others go to ``out.redundant``."""
    def keep(chosen: list[_Candidate]) -> list[_Candidate]:
        out.redundant.extend((c.header, name, chosen[0].header) for c in ranked if c not in chosen)
        return chosen

    if name in LIST_FIELDS:
        whole = [c for c in ranked if c.number is None]
        if whole:
            return FieldSource([keep(whole[:1])[0].header])
        # the best-ranked numbered series, in its numeric order, each number once
        by_number: dict[int, _Candidate] = {}
        for c in ranked:
            if c.series == ranked[0].series:
                by_number.setdefault(c.number, c)
        members = keep([by_number[n] for n in sorted(by_number)])
        return FieldSource([c.header for c in members], "list")
    whole = [c for c in ranked if not c.entry.part]
    if whole:
        (chosen,) = keep(whole[:1])
        return FieldSource([chosen.header], "one", [chosen.entry.factor])
    # parts: one column per part (a numbered repeat is a part of its own), best rank first;
    # a sub-part a/b only when its part a is absent
    by_part: dict[str, _Candidate] = {}
    for c in ranked:
        by_part.setdefault(c.entry.part + (f"#{c.number}" if c.number is not None else ""), c)
    kept = keep(sorted((c for key, c in by_part.items()
                        if not any(parent in by_part for parent in _parent_parts(key))),
                       key=lambda c: c.order))
    return FieldSource([c.header for c in kept], "sum", [c.entry.factor for c in kept])


def _csv_cell(text: str) -> str:
    return f'"{text}"' if any(ch in text for ch in ',"\n') else text


def mapping_row(name: str, header: str) -> str:
    """The ``--mapping`` file row (``field,header``) that maps ``header`` to ``name``."""
    return f"{name},{_csv_cell(header)}"


def table_kinds(mapped: MappedHeader, name_hint: str, where: str) -> list[str]:
    """The kinds of table the mapped header holds, in load order.

    A kind counts when all its required fields are present. A combined 结算清单 holds a case
    and a settlement per row, and, when it names the hospital with its name and level
    (医保结算等级), the hospital too: ``hospitals`` is then listed first. A header that
    looks like a kind but is not complete (its key and another field of it, a case table
    with cost or payment columns, or a file named for the kind) is refused naming the
    missing fields. Returns ``[]`` for a table of no known kind.
    """
    present = set(mapped.fields)
    complete, partial = [], []
    for kind in KIND_ORDER:
        required = [c.name for c in INPUT_TABLES[kind] if c.required]
        own = {c.name for c in INPUT_TABLES[kind]} - {"case_id", "hospital_id"}
        if kind == "settlements":
            own -= {"settle_date", "payment_method"}  # a case table may carry these
        if all(r in present for r in required):
            complete.append(kind)
        elif (INPUT_KEYS[kind] in present and present & own) or name_hint.startswith(kind):
            partial.append((kind, [r for r in required if r not in present]))
    if "cases" in complete:
        # a case table with amounts is a combined 清单: it must be whole, not loaded as cases
        for kind, missing in partial:
            if kind == "settlements":
                raise IncompleteTable(where, "结算清单（病案与费用在同一行）", missing,
                                   "费用列已识别，但结算部分不完整，未载入任何行（否则病例将全部没有结算）")
    if complete:
        return complete
    if partial:
        kind, missing = partial[0]
        raise IncompleteTable(where, KIND_ZH[kind], missing)
    return []


class IncompleteTable(IngestError):
    """A table that looks like a kind but lacks required fields (``missing``).

    The message names the kind, the missing fields and why; the reader adds which of the
    unmapped columns probably hold them (``readers``), since that takes the map's looks.
    """

    def __init__(self, where: str, kind_zh: str, missing: list[str], why: str = "") -> None:
        labels = ", ".join(f"{m}（{INPUT_COLUMNS[m].label_zh}）" for m in missing)
        super().__init__(f"{where}: 像是{kind_zh}，但缺少必需字段 {labels}"
                         f"{'；' + why if why else ''}")
        self.missing = missing
