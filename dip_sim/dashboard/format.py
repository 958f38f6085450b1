"""Number formats and Chinese labels for the dashboard.

Money is shown in 元 for small amounts and 万元 for large ones; codes stored in the output
tables (outlier kind, group type, procedure class, hospital level, quality severity) are shown
by their Chinese names; :func:`for_display` turns a query result into a table with Chinese
headers. Nothing here computes a payment: it only scales, rounds and relabels.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from dip_sim.contract import code_label, column_codes, column_label
from dip_sim.labels import DERIVED_CODES

WAN = 10_000.0

# Codes stored in the output tables by their Chinese names: from the tables' contracts
# (dip_sim.contract); codes of columns outside them from dip_sim.labels.
OUTLIER_LABELS: dict[str, str] = dict(column_codes("outlier", "case_scores"))
GROUP_TYPE_LABELS: dict[str, str] = dict(column_codes("group_type", "catalog_groups"))
PROC_CLASS_LABELS: dict[str, str] = dict(column_codes("proc_class", "catalog_groups"))
LEVEL_LABELS: dict[int, str] = {int(k): v for k, v in
                                column_codes("level", "level_coefficients").items()}
SEVERITY_LABELS: dict[str, str] = dict(DERIVED_CODES["severity"])
# Quality status codes (dip_sim.quality.checks) by their Chinese names.
STATUS_LABELS: dict[str, str] = dict(DERIVED_CODES["status"])
INSURANCE_LABELS: dict[str, str] = dict(DERIVED_CODES["insurance_type"])
# the fund pools of a scenario that splits the fund by insurance (cases without a type apart)
POOL_LABELS: dict[str, str] = dict(column_codes("pool", "point_values_by_insurance"))

# Amounts of a hospital, a month or the city: shown in 万元.
WAN_COLUMNS: frozenset[str] = frozenset(
    {
        "dip_change_yuan",
        "baseline_yuan",
        "what_if_yuan",
        "dip_fund_yuan",
        "dip_amount_yuan",
        "ffs_fund_paid_yuan",
        "diff_yuan",
        "prepaid_yuan",
        "clearing_yuan",
        "dip_base_yuan",
        "dip_scenario_yuan",
        "year_end_base_yuan",
        "year_end_scenario_yuan",
        "year_end_change_yuan",
        "change_yuan",
        "reserve_yuan",
        "year_end_total_yuan",
    }
)
# Ratios shown as percentages (× 100, header says %).
PCT_COLUMNS: frozenset[str] = frozenset(
    {"diff_pct", "change_pct", "not_ok_share", "share", "case_share", "fund_ratio", "pass_rate",
     "growth_share", "points_share", "indicator_share", "outlier_rate", "ungrouped_rate",
     "growth_to_date", "history_pace",
     "outlier_share", "share_level3", "share_level2", "share_level1", "withhold_release",
     "proc_rate", "region_proc_rate", "prev_proc_rate", "severity_rate", "region_severity_rate",
     "prev_severity_rate"}
)
# Columns rounded to 4 decimals (weights, coefficients, ratios of cost).
FINE_COLUMNS: frozenset[str] = frozenset(
    {
        "rw",
        "cv",
        "level_coefficient",
        "cost_ratio",
        "mean_cost_ratio",
        "pv_budget_yuan",
        "pv_settlement_yuan",
        "value_per_point",
        # supervision indices: rates of a few per thousand, ratios and z scores
        "index_value",
        "region_value",
        "prev_value",
        "ratio_to_region",
        "z_score",
        "indicator_value",
        "flag_value",
        "anomaly_score",
        "coefficient",
        "cmi_relative",
    }
)

def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def fmt_yuan(value: Any, digits: int = 2) -> str:
    """An amount in 元, shown in 万元 from 10,000 元 up (``1,234.57 万元`` / ``980.00 元``)."""
    if _missing(value):
        return "—"
    amount = float(value)
    if abs(amount) >= WAN:
        return f"{amount / WAN:,.{digits}f} 万元"
    return f"{amount:,.{digits}f} 元"


def fmt_signed_yuan(value: Any, digits: int = 2) -> str:
    """Like :func:`fmt_yuan` with an explicit sign (``+12.00 万元``), for differences."""
    if _missing(value):
        return "—"
    text = fmt_yuan(value, digits)
    return text if float(value) < 0 else f"+{text}"


def fmt_point_value(value: Any) -> str:
    """A point value (元 per point) with 4 decimals: ``9.5000 元/分``."""
    if _missing(value):
        return "—"
    return f"{float(value):,.4f} 元/分"


def fmt_number(value: Any, digits: int = 0) -> str:
    """A count or a number of points with thousands separators."""
    if _missing(value):
        return "—"
    return f"{float(value):,.{digits}f}"


def fmt_pct(ratio: Any, digits: int = 2, signed: bool = False) -> str:
    """A ratio shown as a percentage (``0.0512`` → ``5.12%``; ``+5.12%`` when ``signed``)."""
    if _missing(ratio):
        return "—"
    sign = "+" if signed else ""
    return f"{float(ratio) * 100:{sign}.{digits}f}%"


def fmt_delta_pct(ratio: Any, digits: int = 2) -> str | None:
    """A signed percentage for ``st.metric(delta=...)``; None (no delta) when missing."""
    return None if _missing(ratio) else fmt_pct(ratio, digits, signed=True)


def label(mapping: Mapping[Any, str], code: Any) -> str:
    """The Chinese name of ``code`` in ``mapping``; the code itself when it has none."""
    if _missing(code):
        return "—"
    if code in mapping:
        return mapping[code]
    try:  # hospital levels may come back as floats or strings
        return mapping[int(code)]  # type: ignore[index]
    except (KeyError, TypeError, ValueError):
        return str(code)


def level_label(level: Any) -> str:
    """The Chinese name of a hospital level (3 → 三级)."""
    return label(LEVEL_LABELS, level)


def header(column: str, table: str | None = None) -> str:
    """The Chinese header of ``column`` as :func:`for_display` shows it (万元, %, 元 …)."""
    unit = "万元" if column in WAN_COLUMNS else "%" if column in PCT_COLUMNS else None
    return column_label(column, table, unit=unit)


def for_display(df: pd.DataFrame, columns: Iterable[str] | None = None,
                table: str | None = None) -> pd.DataFrame:
    """A copy of ``df`` ready for ``st.dataframe``: chosen columns, Chinese headers and codes.

    Headers and code names come from the output contract (:mod:`dip_sim.contract`; ``table``
    names the stored table the columns are of, when a name means different things in
    different tables). Amounts in :data:`WAN_COLUMNS` are scaled to 万元, ratios in
    :data:`PCT_COLUMNS` to percent, all numbers rounded; coded columns are replaced by their
    Chinese names. Columns are kept numeric so that the table still sorts by value.
    """
    cols = list(df.columns if columns is None else columns)
    out = df.loc[:, cols].copy()
    for col in cols:
        if column_codes(col, table):
            out[col] = [code_label(col, v, table) for v in out[col]]
        elif col in WAN_COLUMNS:
            out[col] = (pd.to_numeric(out[col]) / WAN).round(2)
        elif col in PCT_COLUMNS:
            out[col] = (pd.to_numeric(out[col]) * 100).round(2)
        elif col in FINE_COLUMNS:
            out[col] = pd.to_numeric(out[col]).round(4)
        elif col.endswith("_yuan") or col.endswith("points") or col.startswith("points_"):
            out[col] = pd.to_numeric(out[col]).round(2)
    return out.rename(columns={c: header(c, table) for c in cols})


def fmt_rank(rank: Any, of: Any) -> str:
    """``2 / 6`` (a rank among ``of``); "—" when there is no rank (nothing to rank, or
    suppressed)."""
    if _missing(rank) or _missing(of):
        return "—"
    return f"{int(rank)} / {int(of)}"
