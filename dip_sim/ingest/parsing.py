"""Typing input columns in SQL, and recording every value that does not parse.

A text value that does not parse is set empty and listed in ``load_errors`` with file, row,
field, value and reason (outcome ``value_cleared``): the row is kept, and the quality stage
decides what the empty value means for the case. A row without its key (``case_id``,
``hospital_id``) cannot be attached to anything: it is listed with outcome ``row_rejected``
and not loaded. Columns that arrive already typed (Parquet numbers and dates) are cast
directly, without a detour through text.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass

import duckdb

from dip_sim.paths import REFERENCE_DIR
from dip_sim.schema import INPUT_KEYS, INPUT_TABLES, InputColumn
from dip_sim.sql_text import quoted

_REASONS = {
    "INTEGER": "不是整数",
    "DOUBLE": "不是有限数值",
    "DATE": "不是可识别的日期",
}


def _reason(col: InputColumn) -> str:
    """Why a value of ``col`` was not read, as the error report says it."""
    if col.text_format == "duration_dhm":
        return "不是“天/小时/分钟”（如 1/13/24）或小时数"
    return _REASONS[col.sql_type]


def _column(kind: str, name: str) -> InputColumn:
    return next(c for c in INPUT_TABLES[kind] if c.name == name)


def text_expr(source: str) -> str:
    """A text value trimmed, with an empty string read as missing."""
    return f"NULLIF(trim({source}), '')"


# Date and time layouts hospitals' systems write (ISO first: the fast path)
DATE_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d", "%Y年%m月%d日",
    "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M",
    "%Y%m%d%H%M%S", "%Y-%m-%dT%H:%M:%S",
)


@functools.cache
def value_maps() -> dict[str, dict[str, str]]:
    """``field → {value as written: code}`` from ``data/reference/value_map.csv`` (男 → 1 …)."""
    out: dict[str, dict[str, str]] = {}
    with open(REFERENCE_DIR / "value_map.csv", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            out.setdefault(row["field"], {})[row["value"].strip()] = row["code"].strip()
    return out


def dhm_hours_expr(text: str) -> str:
    """Hours from a trimmed text written 天/小时/分钟 (``1/13/24`` = 37.4 h); NULL otherwise.

    The 结算清单 writes 呼吸机使用时间 and 重症监护合计时长 this way (医疗保障基金结算清单填写规范).
    """
    part = "TRY_CAST(split_part({t}, '/', {i}) AS DOUBLE)"
    d, h, m = (part.format(t=text, i=i) for i in (1, 2, 3))
    return (f"CASE WHEN regexp_full_match({text}, '\\d+(\\.\\d+)?/\\d+(\\.\\d+)?/\\d+(\\.\\d+)?') "
            f"THEN {d} * 24 + {h} + {m} / 60 END")


def parse_text_expr(col: InputColumn, source: str) -> str:
    """SQL parsing the text ``source`` to the type of ``col``; NULL when it does not parse.

    Coded values written out (性别 男/女, 险种 职工/居民, 离院方式 医嘱离院 …) are first
    replaced by their codes (``value_maps``); amounts may carry thousands separators; dates
    may be written in any of ``DATE_FORMATS``.
    """
    raw = _clean_text_expr(col, source)
    if col.text_format == "duration_dhm":
        return f"coalesce({dhm_hours_expr(raw)}, {_finite_number(_amount(raw))})"
    if col.sql_type == "INTEGER":
        return _whole_number(f"TRY_CAST({raw} AS DOUBLE)")
    if col.sql_type == "DOUBLE":
        return _finite_number(_amount(raw))
    if col.sql_type == "DATE":
        return date_expr(raw)
    return raw


def _amount(text: str) -> str:
    """A number read from text, its thousands separators (, or ，) dropped."""
    return f"TRY_CAST(replace(replace({text}, ',', ''), '，', '') AS DOUBLE)"


def _whole_number(num: str) -> str:
    # accept 3 and 3.0, refuse 3.5 (TRY_CAST to INTEGER alone would round it), inf and NaN
    return (f"CASE WHEN isfinite({num}) AND {num} = floor({num}) "
            f"AND abs({num}) < 2147483647 THEN CAST({num} AS INTEGER) END")


def _finite_number(num: str) -> str:
    return f"CASE WHEN isfinite({num}) THEN {num} END"


def date_expr(text: str) -> str:
    """SQL reading a trimmed date text written in any of ``DATE_FORMATS``; NULL otherwise.

    Fast paths first (coalesce stops at the first that reads): ISO (a time may follow),
    ``/`` or ``.`` separators, YYYYMMDD; try_strptime over every layout is slow, so last.
    """
    formats = ", ".join(quoted(f) for f in DATE_FORMATS)
    return (f"coalesce(TRY_CAST({text} AS DATE), "
            f"TRY_CAST(replace(replace(split_part({text}, ' ', 1), '/', '-'), '.', '-') AS DATE), "
            f"CASE WHEN length({text}) = 8 THEN TRY_CAST(substr({text}, 1, 4) || '-' "
            f"|| substr({text}, 5, 2) || '-' || substr({text}, 7, 2) AS DATE) END, "
            f"CAST(try_strptime({text}, [{formats}]) AS DATE))")


def _clean_text_expr(col: InputColumn, source: str) -> str:
    """A text value trimmed, empty read as missing, coded words replaced by their codes."""
    raw = text_expr(source)
    codes = value_maps().get(col.name)
    if not codes:
        return raw
    cases = " ".join(f"WHEN {quoted(v)} THEN {quoted(c) if c else 'NULL'}"
                     for v, c in codes.items())
    return f"(CASE {raw} {cases} ELSE {raw} END)"


@dataclass(frozen=True)
class Part:
    """One column feeding a field made of several (or written in a unit of its own)."""

    source: str  # SQL expression of the column as the file has it
    source_type: str  # its SQL type (VARCHAR for text)
    unit: float | str = 1.0  # multiply by this; "dhm" = must be written 天/小时/分钟
    label: str = ""  # the column's header, shown beside its value in the error report


def _part_value(col: InputColumn, part: Part) -> tuple[str, str]:
    """(present, value) of one part: whether the cell holds anything, and its number (or NULL)."""
    if part.source_type == "VARCHAR":
        text = _clean_text_expr(col, part.source)
        present = f"({text}) IS NOT NULL"
        number = _finite_number(_amount(text))
        if col.text_format == "duration_dhm":
            hours = dhm_hours_expr(text)
            value = hours if part.unit == "dhm" else f"coalesce({hours}, {number} * {part.unit})"
        else:
            value = number if part.unit == 1.0 else f"{number} * {part.unit}"
        return present, value
    present = f"{part.source} IS NOT NULL"
    number = f"CASE WHEN isfinite(TRY_CAST({part.source} AS DOUBLE)) " \
             f"THEN TRY_CAST({part.source} AS DOUBLE) END"
    return present, ("NULL::DOUBLE" if part.unit == "dhm" else f"{number} * {part.unit}")


def combined_value_sql(col: InputColumn, parts: list[Part]) -> tuple[str, str]:
    """(value, text as written) of a field given by ``parts`` that add up (or by one part in a unit).

    The value is the sum of the parts present; NULL when none is, or when one holds something
    that does not read (then the text, which names each column, goes to the error report rather
    than a sum that leaves a part out). Amounts are added as decimals, so 10.10 + 20.20 is 30.30
    exactly, as the parts were written.
    """
    pairs = [_part_value(col, p) for p in parts]
    any_present = " OR ".join(p for p, _ in pairs)
    unreadable = " OR ".join(f"({p} AND ({v}) IS NULL)" for p, v in pairs)
    total = " + ".join(f"coalesce(CAST(({v}) AS DECIMAL(38, 6)), 0)" for _, v in pairs)
    value = (f"CASE WHEN {unreadable} THEN NULL WHEN {any_present} "
             f"THEN CAST({total} AS {col.sql_type}) END")
    texts = []
    for p in parts:
        text = text_expr(p.source if p.source_type == "VARCHAR" else f"CAST({p.source} AS VARCHAR)")
        texts.append(f"{quoted(p.label + '=')} || {text}" if len(parts) > 1 else text)
    return value, f"NULLIF(concat_ws('; ', {', '.join(texts)}), '')"


def staged_typing_sql(columns: list[InputColumn], relation: str,
                      combined: dict[str, list[Part]] | None = None,
                      carried: tuple[str, ...] = ("source_row",)) -> str:
    """SELECT typing the text ``columns`` of ``relation`` once; its ``carried`` columns
    (``source_row``, and ``source_file`` when it holds several tables) come as they are.

    Each non-text column comes with ``<name>__raw``, its text as written (trimmed), for the
    report of values that do not parse. Three layers, so that no expression is evaluated
    twice: clean text; numbers read once as DOUBLE (thousands separators dropped); the
    contract's types (an integer only when whole, a double only when finite, dates in any of
    ``DATE_FORMATS``), with the same results as :func:`parse_text_expr` (an integer may carry
    thousands separators here). A field in ``combined`` is made of the text columns its parts
    name (:func:`combined_value_sql`) instead of a column of its own.
    """
    combined = combined or {}
    plain = [c for c in columns if c.name not in combined]
    clean = ", ".join([*carried] + [f"{_clean_text_expr(c, c.name)} AS {c.name}" for c in plain]
                      + [p.source for c in columns if c.name in combined for p in combined[c.name]])
    numbers = "".join(f", {_amount(c.name)} AS {c.name}__num"
                      for c in plain if c.sql_type in ("INTEGER", "DOUBLE"))
    typed = []
    for c in columns:
        num = f"{c.name}__num"
        if c.name in combined:
            value, text = combined_value_sql(c, combined[c.name])
            typed += [f"{value} AS {c.name}", f"{text} AS {c.name}__raw"]
            continue
        if c.sql_type == "INTEGER":
            typed.append(f"{_whole_number(num)} AS {c.name}")
        elif c.sql_type == "DOUBLE":
            typed.append(f"{_finite_number(num)} AS {c.name}")
        elif c.sql_type == "DATE":
            typed.append(f"{date_expr(c.name)} AS {c.name}")
        else:
            typed.append(c.name)
        if c.sql_type != "VARCHAR":
            typed.append(f"{c.name} AS {c.name}__raw")
    return (f"SELECT {', '.join(carried)}, {', '.join(typed)} "
            f"FROM (SELECT *{numbers} FROM (SELECT {clean} FROM {relation}))")


_INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
                  "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT")


def typed_expr(col: InputColumn, source: str, source_type: str) -> str:
    """SQL giving ``col`` typed from ``source``, whose SQL type is ``source_type``.

    Text is parsed (:func:`parse_text_expr`); a column already of the contract's type is taken
    as it is (a double only when finite); other typed columns are cast, a value that does not
    fit (a fraction for an integer, an out-of-range number) becoming NULL.
    """
    if source_type == "VARCHAR":
        return parse_text_expr(col, source)
    if col.sql_type == "VARCHAR":
        return text_expr(f"CAST({source} AS VARCHAR)")
    if col.sql_type == source_type and col.sql_type != "DOUBLE":
        return source
    if col.sql_type == "INTEGER":
        if source_type in _INTEGER_TYPES:
            return f"TRY_CAST({source} AS INTEGER)"
        num = f"TRY_CAST({source} AS DOUBLE)"
        return f"CASE WHEN {num} = floor({num}) THEN TRY_CAST({source} AS INTEGER) END"
    if col.sql_type == "DOUBLE":
        num = source if source_type == "DOUBLE" else f"TRY_CAST({source} AS DOUBLE)"
        return f"CASE WHEN isfinite({num}) THEN {num} END"
    return f"TRY_CAST({source} AS {col.sql_type})"


def _cannot_fail(col: InputColumn, source_type: str) -> bool:
    """True when a typed column converts to the contract's type without loss (no check needed)."""
    return col.sql_type == source_type != "DOUBLE"


def _error_checks(kind: str, sources: dict[str, tuple[str, str]],
                  raw: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """(condition, SELECT list) per check: a value that does not parse, a row without key.

    ``raw`` maps a column typed while staging the file to its text as written: the value
    did not parse where the text is there and the typed value is not.
    """
    checks = []
    raw = raw or {}
    for col in INPUT_TABLES[kind]:
        if col.name not in sources or col.sql_type == "VARCHAR":
            continue
        src, source_type = sources[col.name]
        if col.name in raw:
            checks.append((f"{raw[col.name]} IS NOT NULL AND {src} IS NULL",
                           f"source_row, '{col.name}' AS field, {raw[col.name]} AS value,"
                           f" '{_reason(col)}' AS reason, 'value_cleared' AS outcome"))
            continue
        if _cannot_fail(col, source_type):
            continue
        is_text = source_type == "VARCHAR"
        value = text_expr(src if is_text else f"CAST({src} AS VARCHAR)")
        present = value if is_text else src  # a typed column: no detour through text
        checks.append((f"{present} IS NOT NULL AND ({typed_expr(col, src, source_type)}) IS NULL",
                       f"source_row, '{col.name}' AS field, {value} AS value,"
                       f" '{_reason(col)}' AS reason, 'value_cleared' AS outcome"))
    key = INPUT_KEYS[kind]
    checks.append((f"NOT {key_present_sql(kind, sources)}",
                   f"source_row, '{key}', NULL, '缺少主键 {key}，整行未载入', 'row_rejected'"))
    return checks


def parse_errors_sql(kind: str, relation: str, sources: dict[str, tuple[str, str]],
                     raw: dict[str, str] | None = None,
                     file_expr: str = "getvariable('source_file')") -> str:
    """SELECT of (file_path, source_row, field, value, reason, outcome) for bad values.

    ``sources`` maps each contract column present to (its source expression, its SQL type).
    ``relation`` must have a ``source_row`` column; ``file_expr`` gives each row's file.
    """
    return " UNION ALL ".join(
        f"SELECT {file_expr} AS file_path, {select} FROM {relation} WHERE {condition}"
        for condition, select in _error_checks(kind, sources, raw))


def typed_columns_sql(kind: str, sources: dict[str, tuple[str, str]]) -> list[str]:
    """``expr AS name`` for every contract column of ``kind`` (NULL for an absent optional one)."""
    out = []
    for col in INPUT_TABLES[kind]:
        if col.name in sources:
            out.append(f"{typed_expr(col, *sources[col.name])} AS {col.name}")
        else:
            out.append(f"CAST(NULL AS {col.sql_type}) AS {col.name}")
    return out


def key_present_sql(kind: str, sources: dict[str, tuple[str, str]]) -> str:
    """Condition keeping the rows that have their key (the others are ``row_rejected``)."""
    key = INPUT_KEYS[kind]
    return f"({typed_expr(_column(kind, key), *sources[key])}) IS NOT NULL"


def record_parse_errors(con: duckdb.DuckDBPyConnection, kind: str, relation: str,
                        sources: dict[str, tuple[str, str]],
                        raw: dict[str, str] | None = None,
                        file_expr: str = "getvariable('source_file')") -> None:
    """Insert the ``load_errors`` rows of one file; keep its keys in temp table ``file_keys``.

    One scan writes each row's key fingerprint (``key_hash``, the hash of the typed key) and
    whether the row has any problem; most files have none, and then the per-field listing (a
    scan per field) is skipped. ``file_keys`` then tells which keys may already be loaded, or
    repeat within the file, without reading the file again. The batch id is the variable
    ``batch_id``.
    """
    any_problem = " OR ".join(f"({condition})"
                              for condition, _ in _error_checks(kind, sources, raw))
    key = INPUT_KEYS[kind]
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE file_keys AS
        SELECT hash({typed_expr(_column(kind, key), *sources[key])}) AS key_hash,
               {any_problem} AS problem
        FROM {relation}""")
    if not con.execute("SELECT count(*) FROM file_keys WHERE problem").fetchall()[0][0]:
        return
    con.execute(f"""
        INSERT INTO load_errors
        SELECT getvariable('batch_id'), file_path, source_row, field, value, reason, outcome
        FROM ({parse_errors_sql(kind, relation, sources, raw, file_expr)})""")
