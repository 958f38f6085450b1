"""Where the table is in a sheet or CSV file: its header row(s), spacer rows and totals rows.

Real exports put a title or two above the header (阳泉市2019年医保结算清单), write headers over
two rows with merged cells (床位费 over 金额 / 甲类 / 乙类 / 自费 / 其他; 基金支付 over its
parts), leave blank spacer rows and end with a 合计 (totals) row. The header is the row, or the
pair of rows, within the first :data:`HEADER_SEARCH_ROWS` whose cells the header map recognises
most (``headers.map_headers``); a two-row header names each column by its upper cell (carried
over the span of a merged cell) followed by its lower cell. Rows with nothing in any
recognised column are spacers; a row that says 合计/总计/小计 in its first cells and has no
key of its own is a totals row: both are left out, and the summary says how many and where.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from dip_sim.ingest.headers import MapEntry, map_headers

HEADER_SEARCH_ROWS = 20
TOTAL_WORDS: tuple[str, ...] = ("合计", "总计", "小计", "累计", "总合计", "本页合计")


@dataclass(frozen=True)
class Layout:
    """Where a table's header is among the rows read, and the column names it gives."""

    header_index: int  # 0-based index of the (first) header row among the rows given
    depth: int  # 1 or 2 header rows
    names: list[str]

    @property
    def data_index(self) -> int:
        """0-based index of the first row after the header."""
        return self.header_index + self.depth


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def header_names(rows: list[list[str]], mapping: dict[str, MapEntry] | None = None) -> list[str]:
    """Column names from one or two header rows.

    Two rows: each column is named by its upper cell followed by its lower cell (床位费 + 金额),
    or by its lower cell alone when only that is recognised (``mapping``): an upper cell may
    be a section title the map does not know (费用 over 金额合计 …). A merged cell holds its
    value in its first cell only (in a sheet as in the CSV saved from it): an upper cell is
    carried to the right over empty upper cells that have a lower cell; a column whose upper
    cell spans both rows has no lower cell and is named by the upper one.
    """
    width = max(len(r) for r in rows)
    rows = [list(r) + [""] * (width - len(r)) for r in rows]
    if len(rows) == 1:
        return rows[0]
    top, bottom = rows
    names, carried = [], ""
    for upper, lower in zip(top, bottom, strict=True):
        if upper:
            carried = upper
        elif lower:
            upper = carried
        else:
            carried = ""
        name = f"{upper}{lower}" if upper and lower else upper or lower
        if upper and lower and mapping is not None and not _known(name, mapping) \
                and _known(lower, mapping):
            name = lower
        names.append(name)
    return names


def _known(name: str, mapping: dict[str, MapEntry]) -> bool:
    mapped = map_headers([name], mapping)
    return bool(mapped.fields or mapped.ignored)


def unique_names(names: list[str]) -> list[str]:
    """Names usable as frame columns: an empty one as （第N列）, a repeat with #2, #3 …"""
    out, seen = [], {}
    for number, name in enumerate(names, start=1):
        name = name or f"（第{number}列）"
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return out


def _score(names: list[str], mapping: dict[str, MapEntry]) -> tuple[int, int]:
    """(columns recognised, contract fields found) of a candidate header."""
    mapped = map_headers([n for n in names if n], mapping)
    recognised = sum(len(s.headers) for s in mapped.fields.values()) + len(mapped.ignored) \
        + len(mapped.redundant)
    return recognised, len(mapped.fields)


def find_header(rows: list[list], mapping: dict[str, MapEntry]) -> Layout | None:
    """The header among the first rows: the row or pair of rows the map recognises most.

    Ties go to the upper, single row. None when no candidate recognises at least two
    columns, one of them a field.
    """
    text = [[_cell(v) for v in row] for row in rows[:HEADER_SEARCH_ROWS + 1]]
    best, best_key = None, (1, 0, 0)
    for index in range(min(len(text), HEADER_SEARCH_ROWS)):
        if not any(text[index]):
            continue
        for depth in (1, 2):
            if index + depth > len(text):
                continue
            names = header_names(text[index:index + depth], mapping)
            recognised, fields = _score(names, mapping)
            key = (recognised, fields, -depth)
            if fields and key > best_key:
                best, best_key = Layout(index, depth, unique_names(names)), key
    return best


def drop_spacers_and_totals(frame: pl.DataFrame, columns: list[str], key: str | None
                            ) -> tuple[pl.DataFrame, int, list[int]]:
    """The frame without spacer rows and totals rows; how many spacers, which totals rows.

    ``columns`` are the recognised columns (a row with none of them filled is a spacer);
    ``key`` the column holding the table's key. A totals row has 合计/总计 … in one of its
    first three cells and, in its key column, nothing or that word. Needs ``source_row``.
    Both kinds of row lack a key of their own, so only the rows whose key cell is empty or
    such a word are examined (most tables have none), not every cell of the table.
    """
    if frame.is_empty() or not columns:
        return frame, 0, []
    rows = frame
    if key is not None:
        key_text = pl.col(key).str.replace_all(r"\s", "")
        rows = frame.filter(key_text.is_null() | (key_text == "")
                            | key_text.is_in(list(TOTAL_WORDS)))
        if rows.is_empty():
            return frame, 0, []
    filled = [pl.col(c).str.strip_chars().replace("", None).is_not_null() for c in columns]
    blank = ~pl.any_horizontal(filled)
    first = [c for c in frame.columns if c != "source_row"][:3]
    says_total = pl.any_horizontal(
        pl.col(c).str.replace_all(r"\s", "").is_in(list(TOTAL_WORDS)) for c in first)
    marked = rows.select("source_row", blank.alias("blank"), (says_total & ~blank).alias("total"))
    totals = marked.filter(pl.col("total"))["source_row"].to_list()
    spacers = marked.filter(pl.col("blank"))["source_row"].to_list()
    if not totals and not spacers:
        return frame, 0, []
    kept = frame.filter(~pl.col("source_row").is_in(totals + spacers))
    return kept, len(spacers), totals
