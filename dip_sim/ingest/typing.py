"""Typing staged text in SQL, and recording every value that does not parse.

A value that does not parse is set empty and listed in ``load_errors`` with file, row, field,
value and reason (outcome ``value_cleared``): the row is kept, and the quality stage decides
what the empty value means for the case. A row without its key (``case_id``, ``hospital_id``)
cannot be attached to anything: it is listed with outcome ``row_rejected`` and not loaded.
"""

from __future__ import annotations

import duckdb

from dip_sim.schema import INPUT_KEYS, INPUT_TABLES, InputColumn

_REASONS = {
    "INTEGER": "不是整数",
    "DOUBLE": "不是有限数值",
    "DATE": "不是日期 (YYYY-MM-DD)",
}


def text_expr(column: str) -> str:
    """The staged value trimmed, with an empty string read as missing."""
    return f"NULLIF(trim({column}), '')"


def typed_expr(col: InputColumn) -> str:
    """SQL parsing the staged text of ``col`` to its type; NULL when it does not parse."""
    raw = text_expr(col.name)
    if col.sql_type == "INTEGER":
        # accept "3" and "3.0", refuse "3.5" (TRY_CAST alone would round it)
        num = f"TRY_CAST({raw} AS DOUBLE)"
        return (f"CASE WHEN isfinite({num}) AND {num} = floor({num}) "
                f"AND abs({num}) < 2147483647 THEN CAST({num} AS INTEGER) END")
    if col.sql_type == "DOUBLE":
        num = f"TRY_CAST({raw} AS DOUBLE)"
        return f"CASE WHEN isfinite({num}) THEN {num} END"
    if col.sql_type == "DATE":
        return f"TRY_CAST({raw} AS DATE)"
    return raw


def record_parse_errors(con: duckdb.DuckDBPyConnection, kind: str, staging: str,
                        batch_id: str) -> None:
    """Insert a ``load_errors`` row for each value of ``staging`` that does not parse."""
    parts = []
    for col in INPUT_TABLES[kind]:
        if col.sql_type == "VARCHAR":
            continue
        parts.append(
            f"SELECT source_file, source_row, '{col.name}' AS field, {text_expr(col.name)} AS value,"
            f" '{_REASONS[col.sql_type]}' AS reason FROM {staging}"
            f" WHERE {text_expr(col.name)} IS NOT NULL AND ({typed_expr(col)}) IS NULL")
    key = INPUT_KEYS[kind]
    parts.append(
        f"SELECT source_file, source_row, '{key}', NULL, '缺少主键 {key}，整行未载入' FROM {staging}"
        f" WHERE {text_expr(key)} IS NULL")
    con.execute(f"""
        INSERT INTO load_errors
        SELECT ?, source_file, source_row, field, value, reason,
               CASE WHEN reason LIKE '缺少主键%' THEN 'row_rejected' ELSE 'value_cleared' END
        FROM ({' UNION ALL '.join(parts)})""", [batch_id])


def typed_select(kind: str, staging: str) -> str:
    """SELECT over ``staging`` giving every contract column typed, keyless rows left out."""
    cols = ",\n       ".join(f"{typed_expr(c)} AS {c.name}" for c in INPUT_TABLES[kind])
    return (f"SELECT {cols},\n       source_file, source_row\n"
            f"FROM {staging}\nWHERE {text_expr(INPUT_KEYS[kind])} IS NOT NULL")
