"""Numbers as text for the terminal reports (catalog-diff, compare)."""

from __future__ import annotations

import pandas as pd


def cell(value) -> str:
    """A value as text: — when missing; numbers under 100 (ratios, point values) to 4
    decimals, others to 2, with separators."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 100 else f"{value:,.2f}"
    return str(value)
