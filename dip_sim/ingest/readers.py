"""Opening one input file as SQL relations with row numbers, one per table it holds.

- CSV (any delimiter of ``,`` tab ``|``): the encoding is found without being told (a UTF-8
  BOM, else valid UTF-8, else GB18030, which covers GBK and GB2312); read by polars as text,
  keeping the file's row order, so row numbers are line numbers. The text is typed once, as
  it is staged into DuckDB, each value kept as written beside it for the error report.
- Excel (``.xlsx``/``.xlsm``): every sheet whose header is a known table, read as text; row
  numbers are the sheet's rows. A table is labelled ``file.xlsx#sheet``.
- Parquet: scanned by DuckDB in place (``file_row_number``); typed columns are cast directly,
  text columns parsed like CSV.

Each table's header is mapped to the contract (``headers``); a numbered list (其他诊断编码1 … N)
becomes one ``;``-separated column. The loader then records every value that does not parse
in ``load_errors`` with its row and field (``parsing.record_parse_errors``).
"""

from __future__ import annotations

import codecs
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from dip_sim.ingest.errors import IngestError
from dip_sim.ingest.headers import MappedHeader, map_headers, table_kinds
from dip_sim.ingest.parsing import staged_typing_sql
from dip_sim.schema import INPUT_COLUMNS

TEXT_SUFFIXES = (".csv", ".txt", ".tsv")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
SUFFIXES = (*TEXT_SUFFIXES, *EXCEL_SUFFIXES, ".parquet")


@dataclass(frozen=True)
class Source:
    """A table opened for loading: a relation with ``source_row``, and where each field is."""

    relation: str  # a table name or a parenthesised subquery
    sources: dict[str, tuple[str, str]]  # contract field → (source expression, SQL type)
    rows: int
    kind: str = ""
    label: str = ""  # how the table is named in the warehouse: path[#sheet]
    mapping: str = ""  # field←header pairs, recorded in load_batches
    encoding: str = ""
    staged: bool = False  # the relation is a temp table holding the file's rows
    raw: dict[str, str] = field(default_factory=dict)  # typed at staging → its text column
    file_expr: str = "getvariable('source_file')"  # the table label of each row, in SQL


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, recorded in ``load_batches``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sql_path(path: Path) -> str:
    return path.as_posix().replace("'", "''")


def decode_csv_bytes(raw: bytes, name: str) -> tuple[bytes, str]:
    """UTF-8 bytes of a text file and the encoding it was in (BOM, UTF-8 or GB18030)."""
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8):], "utf-8-sig"
    try:
        raw.decode("utf-8")
        return raw, "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030").encode("utf-8"), "gb18030"
    except UnicodeDecodeError as exc:
        raise IngestError(f"{name}: 既不是 UTF-8 也不是 GB18030/GBK 编码的文本文件"
                          f"（第 {exc.start} 字节无法解码）") from None


def _delimiter(data: bytes) -> str:
    first = data.split(b"\n", 1)[0]
    counts = {d: first.count(d.encode()) for d in (",", "\t", "|")}
    return max(counts, key=counts.get)


def _read_text_frames(path: Path, sheet: str | None = None
                      ) -> tuple[list[tuple[str, pl.DataFrame]], str]:
    """(sheet or '', frame of text) per table of a CSV or Excel file, and the encoding.

    In a workbook, every sheet is read, or only the one named ``sheet``.
    """
    if path.suffix.lower() in EXCEL_SUFFIXES:
        try:
            sheets = pl.read_excel(path, sheet_id=0, engine="calamine", infer_schema_length=0,
                                   raise_if_empty=False)
        except Exception as exc:  # noqa: BLE001 - any reader failure refuses the file
            raise IngestError(f"{path.name}: 无法读取 Excel 文件: {str(exc).splitlines()[0]}") \
                from None
        if sheet is not None:
            if sheet not in sheets:
                raise IngestError(f"{path.name}: 没有名为 {sheet} 的工作表（工作表: "
                                  f"{', '.join(sheets)}）")
            sheets = {sheet: sheets[sheet]}
        return [(name, frame) for name, frame in sheets.items() if frame.width], "xlsx"
    data, encoding = decode_csv_bytes(path.read_bytes(), path.name)
    try:
        frame = pl.read_csv(io.BytesIO(data), infer_schema=False, separator=_delimiter(data))
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        raise IngestError(f"{path.name}: 无法按 CSV 读取: {str(exc).splitlines()[0]}") from None
    return [("", frame)], encoding


def _staged_frame(frame: pl.DataFrame, mapped: MappedHeader) -> pl.DataFrame:
    """The frame's mapped fields under their contract names, numbered lists joined by ``;``."""
    columns = []
    for name, headers in mapped.fields.items():
        if len(headers) == 1:
            columns.append(pl.col(headers[0]).alias(name))
        else:
            parts = [pl.col(h).str.strip_chars().replace("", None) for h in headers]
            columns.append(pl.concat_str(parts, separator=";", ignore_nulls=True).alias(name))
    # source_row is the row in the file: the header is row 1, the first data row row 2
    return frame.select(columns).with_row_index("source_row", offset=2)


def _stage(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> dict[str, str]:
    """Temp table ``table``: the frame's fields typed once, each non-text one beside its text.

    Returns ``field → its text column`` (``<field>__raw``), for the unparseable-value checks.
    """
    columns = [INPUT_COLUMNS[name] for name in frame.columns if name != "source_row"]
    raw = {c.name: f"{c.name}__raw" for c in columns if c.sql_type != "VARCHAR"}
    con.register("staged_arrow", frame.to_arrow())
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS "
                    f"{staged_typing_sql(columns, 'staged_arrow')}")
    finally:
        con.unregister("staged_arrow")
    return raw


def open_tables(con: duckdb.DuckDBPyConnection, path: Path, label: str,
                mapping: dict[str, str], sheet: str | None = None
                ) -> tuple[list[Source], list[str]]:
    """Open every table ``path`` holds; return one Source per (table, kind) and notes.

    ``label`` names the file in the warehouse (its path relative to the input directory);
    ``mapping`` is :func:`dip_sim.ingest.headers.header_map`; ``sheet`` names the one sheet
    of a workbook to read (default: every sheet). Raises :class:`IngestError`
    for an unreadable file or a table whose required fields cannot be mapped. The notes list
    the sheets of no known kind, which are skipped.
    """
    hint = path.name.lower()
    sources: list[Source] = []
    notes: list[str] = []
    if path.suffix.lower() == ".parquet":
        scan = f"read_parquet('{_sql_path(path)}', file_row_number = true)"
        try:
            described = con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()
            rows = con.execute(f"SELECT count(*) FROM {scan}").fetchall()[0][0]
        except duckdb.Error as exc:
            raise IngestError(f"{path.name}: 无法读取 Parquet 文件: {exc}") from None
        types = {name: type_ for name, type_, *_ in described if name != "file_row_number"}
        mapped = map_headers(list(types), mapping)
        kinds = table_kinds(mapped, hint, path.name)
        extra, fields = [], {}
        for name, headers in mapped.fields.items():
            if len(headers) == 1:
                fields[name] = (f'"{headers[0]}"', types[headers[0]])
            else:
                parts = ", ".join(f"NULLIF(trim(CAST(\"{h}\" AS VARCHAR)), '')" for h in headers)
                extra.append(f"concat_ws(';', {parts}) AS {name}")
                fields[name] = (name, "VARCHAR")
        relation = (f"(SELECT *, {''.join(e + ', ' for e in extra)}"
                    f"file_row_number + 1 AS source_row FROM {scan})")
        for kind in kinds:
            sources.append(Source(relation, fields, rows, kind, label, mapped.describe(),
                                  "parquet"))
    else:
        frames, encoding = _read_text_frames(path, sheet)
        for number, (sheet_name, frame) in enumerate(frames):
            where = f"{path.name}#{sheet_name}" if sheet_name else path.name
            mapped = map_headers(frame.columns, mapping)
            kinds = table_kinds(mapped, sheet_name.lower() if sheet_name else hint, where)
            if not kinds:
                notes.append(f"{where}: 未识别的表（列: {', '.join(frame.columns[:8])} …），跳过")
                continue
            table = f"text_source_{number}"
            raw = _stage(con, table, _staged_frame(frame, mapped))
            fields = {name: (name, INPUT_COLUMNS[name].sql_type) for name in mapped.fields}
            table_label = f"{label}#{sheet_name}" if sheet_name else label
            for kind in kinds:
                sources.append(Source(table, fields, frame.height, kind, table_label,
                                      mapped.describe(), encoding, staged=True, raw=raw))
        if not sources and not notes:
            raise IngestError(f"{path.name}: 文件中没有数据")
    return sources, notes
