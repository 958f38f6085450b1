"""Writing report tables as an Excel workbook: one sheet per table, Chinese column headers."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from dip_sim.contract import code_label, column_codes, column_label


def write_workbook(tables: dict[str, pd.DataFrame], out: Path | BinaryIO,
                   labels: Mapping[str, str] | None = None,
                   sources: Mapping[str, str] | None = None) -> dict[str, int]:
    """Write each table to a sheet named by its key; return the rows written per sheet.

    Column headers are ``labels[column]`` where given, else the output contract's label
    (:func:`dip_sim.contract.column_label`, of the stored table ``sources[sheet]`` when
    given); coded values (group type, outlier band, pools, booleans …) are written by their
    Chinese names (:func:`dip_sim.contract.code_label`). The headers are bold,
    in a frozen first row; amounts (``*_yuan``, ``*_wan``, points) with thousands separators,
    shares (``*_pct``, ``*_share``, ``*_rate``) as percentages; empty values are left blank.
    """
    import xlsxwriter

    if isinstance(out, str | Path):  # a file; else a binary stream (a download)
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
    with xlsxwriter.Workbook(out, {"in_memory": True}) as workbook:
        header = workbook.add_format({"bold": True, "bg_color": "#EEF2F7", "text_wrap": True})
        money = workbook.add_format({"num_format": "#,##0.00"})
        share = workbook.add_format({"num_format": "0.00%"})
        for name, frame in tables.items():
            sheet = workbook.add_worksheet(name)
            table = (sources or {}).get(name)
            sheet.write_row(0, 0, [(labels or {}).get(c) or column_label(c, table)
                                   for c in frame.columns], header)
            frame = _named_codes(frame, table)
            sheet.freeze_panes(1, 0)  # the header row stays in view
            for col, column in enumerate(frame.columns):
                # amounts in 元 (and 万元) with separators; shares as percentages
                style = money if str(column).endswith(("_yuan", "_wan", "points")) else \
                    share if str(column).endswith(("_pct", "_share", "_rate")) else None
                sheet.set_column(col, col, 16, style)
            for row_number, row in enumerate(frame.itertuples(index=False), start=1):
                sheet.write_row(row_number, 0, [None if _missing(v) else v for v in row])
    return {name: len(frame) for name, frame in tables.items()}


def _named_codes(frame: pd.DataFrame, table: str | None) -> pd.DataFrame:
    coded = [c for c in frame.columns if isinstance(c, str) and column_codes(c, table)]
    if not coded:
        return frame
    frame = frame.copy()
    for c in coded:
        frame[c] = [None if _missing(v) else code_label(c, v, table) for v in frame[c]]
    return frame


def _missing(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
