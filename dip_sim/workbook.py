"""Writing report tables as an Excel workbook: one sheet per table, Chinese column headers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def write_workbook(tables: dict[str, pd.DataFrame], out: Path,
                   labels: dict[str, str]) -> dict[str, int]:
    """Write each table to a sheet named by its key; return the rows written per sheet.

    Column headers are ``labels[column]`` where given (the tables keep English names); empty
    values are left blank.
    """
    import xlsxwriter

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with xlsxwriter.Workbook(out) as workbook:
        for name, frame in tables.items():
            sheet = workbook.add_worksheet(name)
            sheet.write_row(0, 0, [labels.get(c, c) for c in frame.columns])
            for row_number, row in enumerate(frame.itertuples(index=False), start=1):
                sheet.write_row(row_number, 0, ["" if pd.isna(v) else v for v in row])
    return {name: len(frame) for name, frame in tables.items()}
