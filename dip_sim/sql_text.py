"""Text written into SQL as a literal, where a statement cannot take it as a parameter (a
view's definition, a query joined from many parts, a list of accepted values)."""

from __future__ import annotations


def quoted(value: str) -> str:
    """``value`` as an SQL string literal: in single quotes, each quote inside doubled."""
    return "'" + value.replace("'", "''") + "'"
