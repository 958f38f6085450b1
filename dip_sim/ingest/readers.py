"""Opening one input file as SQL relations with row numbers, one per table it holds.

- CSV (any delimiter of ``,`` tab ``|``): the encoding is found without being told (a UTF-8
  BOM, else valid UTF-8, else GB18030, which covers GBK and GB2312); the header row(s) found
  among the first rows (``layout``); the rows below read by polars as text, keeping the
  file's row order, so row numbers are line numbers. The text is typed once, as it goes into
  DuckDB (``typing_sql``; the loader types a batch's tables of the same fields together),
  each value kept as written beside it for the error report.
- Excel (``.xlsx``/``.xlsm``/``.xlsb``/``.xls``): every visible sheet, read as text by
  fastexcel: the header found among its first rows, the rows below it read in one pass; row
  numbers are the sheet's rows. A table is labelled ``file.xlsx#sheet``.
- Parquet: scanned by DuckDB in place (``file_row_number``); its column names are the
  header; typed columns are cast directly, text columns parsed like CSV.

Each table's header is mapped to the contract (``headers``); spacer and totals rows are left
out (``layout``). A table is refused (the file's other tables still load) when it is of no
known kind, or when a column that looks like a diagnosis, procedure, cost or fund payment maps
to nothing (unless ``allow_unmapped``): the message names the columns, the field each probably
is and the ``--mapping`` row that would place it. The loader then records every value that does
not parse in ``load_errors`` with its row and field (``parsing.record_parse_errors``).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import fastexcel
import polars as pl

from dip_sim.ingest.errors import IngestError
from dip_sim.ingest.headers import (
    IncompleteTable,
    MapEntry,
    MappedHeader,
    map_headers,
    mapping_row,
    table_kinds,
)
from dip_sim.ingest.layout import (
    HEADER_SEARCH_ROWS,
    Layout,
    drop_spacers_and_totals,
    find_header,
    unique_names,
)
from dip_sim.ingest.parsing import Part, combined_value_sql, staged_typing_sql
from dip_sim.ingest.unmapped import REFUSING_LOOKS, column_look, look_zh, suggest_field
from dip_sim.schema import INPUT_COLUMNS, INPUT_KEYS

TEXT_SUFFIXES = (".csv", ".txt", ".tsv")
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls")
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
    staged: bool = False  # the relation is a temp table of typed text rows (``file_expr``: whose)
    raw: dict[str, str] = field(default_factory=dict)  # typed at staging → its text column
    file_expr: str = "getvariable('source_file')"  # the table label of each row, in SQL
    unmapped: tuple[str, ...] = ()  # the columns mapped to no field
    ignored: str = ""  # the columns recognised and not stored, and the redundant ones
    derived: bool = False  # hospitals named on the rows of a 结算清单, not a hospital table


# takes a recognised CSV or Excel table, its label and encoding; gives its Sources
Stager = Callable[["Recognised", str, str], list[Source]]


@dataclass
class Opened:
    """What a file holds: its tables ready to load, notes, and the tables refused."""

    sources: list[Source] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # (label, message, unmapped columns) of each table refused
    refused: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    layouts: dict[str, str] = field(default_factory=dict)  # label → where its header was found


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


def _first_lines(data: bytes, n: int) -> list[str]:
    return data[:1 << 20].decode("utf-8", errors="replace").splitlines()[:n]


def _delimiter(lines: list[str]) -> str:
    """The delimiter (``,`` tab ``|``) that splits some line of the file's head the most."""
    counts = {d: max((line.count(d) for line in lines), default=0) for d in (",", "\t", "|")}
    return max(counts, key=counts.get)


@dataclass
class _TextTable:
    """A table read as text: its frame (with ``source_row``) and where its header was."""

    sheet: str
    frame: pl.DataFrame | None  # None: no header recognised (the table is refused)
    layout: Layout | None
    head: list[str] = field(default_factory=list)  # the first cells seen, for the refusal


def _name_columns(frame: pl.DataFrame, names: list[str], first_row: int) -> pl.DataFrame:
    """The frame's columns named by position, rows numbered from ``first_row``.

    A column the header does not reach is kept as （第N列）, so it is reported, not dropped;
    a header column with no data is empty.
    """
    names = unique_names(names + [""] * max(frame.width - len(names), 0))
    columns = [frame.get_column(frame.columns[i]).alias(name) if i < frame.width
               else pl.Series(name, [None] * frame.height, dtype=pl.String)
               for i, name in enumerate(names)]
    named = pl.DataFrame(columns) if columns else pl.DataFrame()
    return named.with_row_index("source_row", offset=first_row)


def _read_csv_table(path: Path, label: str, mapping: dict[str, MapEntry]
                    ) -> tuple[_TextTable, str]:
    """The CSV file's table, and its encoding."""
    data, encoding = decode_csv_bytes(path.read_bytes(), label)
    lines = _first_lines(data, HEADER_SEARCH_ROWS + 1)
    separator = _delimiter(lines)
    head = list(csv.reader(lines, delimiter=separator))
    layout = find_header(head, mapping)
    if layout is None:
        return _TextTable("", None, None, [c for row in head[:3] for c in row if c][:8]), encoding
    try:
        # as wide as the header: a short row is padded, a row longer than it refuses the file
        frame = pl.read_csv(io.BytesIO(data), has_header=False, separator=separator,
                            skip_rows=layout.data_index, missing_columns="insert",
                            schema={f"c{i}": pl.String for i in range(len(layout.names))})
    except pl.exceptions.NoDataError:
        frame = pl.DataFrame()
    except pl.exceptions.PolarsError as exc:
        raise IngestError(f"{label}: 无法按 CSV 读取: {str(exc).splitlines()[0]}"
                          f"（常见原因：某行的列数多于表头，如数值中有未加引号的逗号）") from None
    # line numbers: the first data line is data_index + 1
    return _TextTable("", _name_columns(frame, layout.names, layout.data_index + 1), layout), \
        encoding


def _read_excel_tables(path: Path, label: str, mapping: dict[str, MapEntry],
                       sheets: list[str] | None, notes: list[str]) -> list[_TextTable]:
    """Each visible sheet's table (or only the sheets named in ``sheets``).

    fastexcel counts ``skip_rows`` from the sheet's first row, blank rows included, so the
    header is looked for in the sheet's first rows and each data row keeps its number in the
    sheet. A merged cell has its value in its first cell only, as in a CSV saved from the
    sheet: the header's two rows are read as a CSV's are (``layout.header_names``).
    """
    try:
        reader = fastexcel.read_excel(str(path))
    except Exception as exc:  # noqa: BLE001 - any reader failure refuses the file
        raise IngestError(f"{label}: 无法读取 Excel 文件: {str(exc).splitlines()[0]}") \
            from None
    names = list(reader.sheet_names)
    if sheets:
        missing = [s for s in sheets if s not in names]
        if missing:
            raise IngestError(f"{label}: 没有名为 {', '.join(missing)} 的工作表"
                              f"（工作表: {', '.join(names)}）")
        names = [n for n in names if n in sheets]
    tables = []
    for name in names:
        try:
            sheet = reader.load_sheet(name, header_row=None, dtypes="string", skip_rows=0)
            if sheet.visible != "visible" and not sheets:
                notes.append(f"{label}#{name}: 隐藏的工作表，未读取（如需载入，用 --sheet {name}）")
                continue
            whole = sheet.to_polars()
        except Exception as exc:  # noqa: BLE001 - any reader failure refuses the file
            raise IngestError(f"{label}#{name}: 无法读取工作表: {str(exc).splitlines()[0]}") \
                from None
        head = whole.head(HEADER_SEARCH_ROWS + 1).rows()
        if not any(v not in (None, "") for row in head for v in row):
            continue  # an empty sheet holds nothing to load
        layout = find_header(head, mapping)
        if layout is None:
            cells = [str(c) for row in head[:3] for c in row if c not in ("", None)][:8]
            tables.append(_TextTable(name, None, None, cells))
            continue
        # sheet rows: the first data row is row data_index + 1
        frame = whole.slice(layout.data_index)
        tables.append(_TextTable(name, _name_columns(frame, layout.names, layout.data_index + 1),
                                 layout))
    return tables


def _staged_frame(frame: pl.DataFrame, mapped: MappedHeader) -> pl.DataFrame:
    """The frame's mapped fields under their contract names (a combined field's columns as
    ``<field>__p<i>``), numbered lists joined by ``;``, with ``source_row``."""
    columns = []
    for name, src in mapped.fields.items():
        if src.combined():
            columns += [pl.col(h).alias(f"{name}__p{i}") for i, h in enumerate(src.headers)]
        elif src.how == "one":
            columns.append(pl.col(src.headers[0]).alias(name))
        else:
            parts = [pl.col(h).str.strip_chars().replace("", None) for h in src.headers]
            columns.append(pl.concat_str(parts, separator=";", ignore_nulls=True).alias(name))
    return frame.select("source_row", *columns)


def _combined_parts(mapped: MappedHeader, types: dict[str, str] | None = None
                    ) -> dict[str, list[Part]]:
    """Each combined field's parts; ``types`` gives a Parquet column's type (else staged text)."""
    out = {}
    for name, src in mapped.fields.items():
        if src.combined():
            out[name] = [Part(f'"{h}"' if types else f"{name}__p{i}",
                              types[h] if types else "VARCHAR", unit, h)
                         for i, (h, unit) in enumerate(zip(src.headers, src.units, strict=True))]
    return out


def typing_sql(table: Recognised, relation: str, carried: tuple[str, ...] = ("source_row",)
               ) -> tuple[str, dict[str, str]]:
    """(SELECT typing a recognised table's text fields in ``relation`` once, ``field → its
    text column``).

    Each non-text field (and each combined one) comes with ``<field>__raw``, its text as
    written, for the unparseable-value checks (:func:`dip_sim.ingest.parsing.staged_typing_sql`).
    The fields come in the contract's order: tables with the same fields written alike
    (whatever the order of their columns) are typed by the same SQL, so the loader can type
    them together.
    """
    order = list(INPUT_COLUMNS)
    columns = [INPUT_COLUMNS[name] for name in sorted(table.mapped.fields, key=order.index)]
    combined = _combined_parts(table.mapped)
    raw = {c.name: f"{c.name}__raw" for c in columns
           if c.sql_type != "VARCHAR" or c.name in combined}
    return staged_typing_sql(columns, relation, combined, carried), raw


def text_sources(table: Recognised, relation: str, label: str, encoding: str,
                 raw: dict[str, str], file_expr: str = "getvariable('source_file')"
                 ) -> list[Source]:
    """The Sources (one per kind) of a recognised table typed into ``relation``."""
    fields = {name: (name, INPUT_COLUMNS[name].sql_type) for name in table.mapped.fields}
    return _sources(relation, fields, table.frame.height, table.kinds, label, table.mapped,
                    encoding, table.unmapped, staged=True, raw=raw, file_expr=file_expr)


def describe_unmapped(headers: list[str]) -> str:
    """The unmapped columns, each with what it looks like: ``手术3［手术操作］; 备注［其他］``."""
    return "; ".join(f"{h}［{look_zh(column_look(h))}］" for h in headers)


def _placements(headers: list[str], mapping: dict[str, MapEntry], taken: set[str]
                ) -> list[tuple[str, str, str, str]]:
    """(header, look, probable field, --mapping row) of each unmapped column."""
    out = []
    for header in headers:
        look = column_look(header)
        name, to_map = suggest_field(header, look, mapping, taken)
        out.append((header, look, name, mapping_row(name, to_map) if name else ""))
    return out


def _refuse_unmapped(where: str, headers: list[str], mapping: dict[str, MapEntry],
                     taken: set[str]) -> str:
    """The message refusing a table whose diagnosis, procedure, cost or payment columns map
    to nothing: the columns, the field each probably is, and the --mapping rows that place them."""
    placed = _placements(headers, mapping, taken)
    described = [f"{header}（像{look_zh(look)}，可能是 {name}〔{INPUT_COLUMNS[name].label_zh}〕）"
                 for header, look, name, _ in placed]
    rows = list(dict.fromkeys(row for *_, row in placed))
    return (f"{where}: {len(headers)} 个像是诊断、手术操作、费用或基金支付的列无法对应到任何字段，"
            f"未载入（否则会丢失这些数据）: {'; '.join(described)}。"
            f"在 --mapping 文件（CSV，首行 field,header）中加入: {' | '.join(rows)}；"
            f"若这些列确实无需载入，写 ignore,列名，或用 --allow-unmapped 载入其余列")


def _fix_for_missing(missing: list[str], mapped: MappedHeader,
                     mapping: dict[str, MapEntry]) -> str:
    """What to do about a table's missing fields: the unmapped columns that probably hold
    them, and those that look like diagnoses, procedures, costs or payments, each with its
    --mapping row; or else the unmapped columns there are."""
    rows = [f"{header} 可能是 {name}: 在 --mapping 文件中加一行 {row}"
            for header, look, name, row in _placements(mapped.unmapped, mapping, set(mapped.fields))
            if name in missing or look in REFUSING_LOOKS]
    if rows:
        return "；".join(rows)
    others = ", ".join(mapped.unmapped) or "无"
    return (f"未映射的列: {others}；若其中某列即是此字段，在 --mapping 文件中加一行，"
            f"如 {mapping_row(missing[0], '列名')}")


def _recognise(where: str, headers: list[str], name_hint: str, mapping: dict[str, MapEntry],
               allow_unmapped: bool) -> tuple[MappedHeader, list[str], tuple[str, ...]]:
    """(mapped header, kinds, unmapped columns) of a table, or IngestError refusing it."""
    mapped = map_headers(headers, mapping)
    unmapped = tuple(mapped.unmapped)
    try:
        kinds = table_kinds(mapped, name_hint, where)
    except IncompleteTable as exc:
        raise IngestError(f"{exc}；{_fix_for_missing(exc.missing, mapped, mapping)}",
                          unmapped, problem=str(exc)) from None
    if not kinds:
        problem = (f"{where}: 不是可识别的医院表、病案首页、结算表或结算清单（列: "
                   f"{', '.join(headers[:10])}{' …' if len(headers) > 10 else ''}）")
        raise IngestError(f"{problem}；可用 --mapping 文件补充列名映射，或用 --sheet 只读取需要的工作表",
                          unmapped, problem=problem)
    refusing = [h for h in mapped.unmapped if column_look(h) in REFUSING_LOOKS]
    if refusing and not allow_unmapped:
        raise IngestError(_refuse_unmapped(where, refusing, mapping, set(mapped.fields)), unmapped)
    return mapped, kinds, unmapped


def _sources(relation: str, fields: dict, rows: int, kinds: list[str], label: str,
             mapped: MappedHeader, encoding: str, unmapped: tuple[str, ...], **extra
             ) -> list[Source]:
    return [Source(relation, fields, rows, kind, label, mapped.describe(), encoding,
                   unmapped=unmapped, ignored=mapped.describe_ignored(),
                   derived=kind == "hospitals" and len(kinds) > 1, **extra)
            for kind in kinds]


def _open_parquet(con: duckdb.DuckDBPyConnection, path: Path, label: str,
                  mapping: dict[str, MapEntry], allow_unmapped: bool, opened: Opened) -> None:
    scan = f"read_parquet('{_sql_path(path)}', file_row_number = true)"
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()
        rows = con.execute(f"SELECT count(*) FROM {scan}").fetchall()[0][0]
    except duckdb.Error as exc:
        raise IngestError(f"{label}: 无法读取 Parquet 文件: {exc}") from None
    types = {name: type_ for name, type_, *_ in described if name != "file_row_number"}
    try:
        mapped, kinds, unmapped = _recognise(label, list(types), path.name.lower(), mapping,
                                             allow_unmapped)
    except IngestError as exc:
        opened.refused.append((label, str(exc), exc.unmapped))
        return
    extra, fields, raw = [], {}, {}
    combined = _combined_parts(mapped, types)
    for name, src in mapped.fields.items():
        if name in combined:
            value, text = combined_value_sql(INPUT_COLUMNS[name], combined[name])
            extra += [f"{value} AS {name}", f"{text} AS {name}__raw"]
            fields[name], raw[name] = (name, INPUT_COLUMNS[name].sql_type), f"{name}__raw"
        elif src.how == "one":
            fields[name] = (f'"{src.headers[0]}"', types[src.headers[0]])
        else:
            parts = ", ".join(f"NULLIF(trim(CAST(\"{h}\" AS VARCHAR)), '')" for h in src.headers)
            extra.append(f"concat_ws(';', {parts}) AS {name}")
            fields[name] = (name, "VARCHAR")
    relation = (f"(SELECT *, {''.join(e + ', ' for e in extra)}"
                f"file_row_number + 1 AS source_row FROM {scan})")
    opened.sources += _sources(relation, fields, rows, kinds, label, mapped, "parquet", unmapped,
                               raw=raw)


def open_tables(con: duckdb.DuckDBPyConnection, path: Path, label: str,
                mapping: dict[str, MapEntry], stage: Stager, sheets: list[str] | None = None,
                allow_unmapped: bool = False) -> Opened:
    """Open every table ``path`` holds: one Source per (table, kind), notes, refused tables.

    ``label`` names the file in the warehouse (its path relative to the input directory);
    ``mapping`` is :func:`dip_sim.ingest.headers.header_map`; ``stage`` takes each CSV or
    Excel table once recognised (with its label and encoding) and gives its Sources, the
    table to be typed where they say; ``sheets`` names the sheets of a workbook to read
    (default: every visible sheet). Raises :class:`IngestError` for a file that cannot be
    read at all; a table that cannot be placed is listed in ``refused``.
    """
    opened = Opened()
    if path.suffix.lower() == ".parquet":
        _open_parquet(con, path, label, mapping, allow_unmapped, opened)
        return opened
    if path.suffix.lower() in EXCEL_SUFFIXES:
        tables, encoding = _read_excel_tables(path, label, mapping, sheets, opened.notes), "xlsx"
    else:
        table, encoding = _read_csv_table(path, label, mapping)
        tables = [table]
    for table in tables:
        where = table_label = f"{label}#{table.sheet}" if table.sheet else label
        if table.frame is None:
            opened.refused.append((table_label, f"{where}: 前 {HEADER_SEARCH_ROWS} 行中找不到可识别的"
                                   f"表头（开头的内容: {', '.join(table.head) or '空'}）；若表头写法特殊，"
                                   f"可用 --mapping 文件补充列名映射", ()))
            continue
        try:
            recognised = recognise_frame(table.frame, where, (table.sheet or path.name).lower(),
                                         mapping, allow_unmapped)
        except IngestError as exc:
            opened.refused.append((table_label, str(exc), exc.unmapped))
            continue
        layout = table.layout
        opened.layouts[table_label] = (f"表头第 {layout.header_index + 1} 行" if layout.depth == 1
                                       else f"表头第 {layout.header_index + 1}–"
                                            f"{layout.header_index + 2} 行（两行表头）")
        opened.notes += recognised.notes
        opened.sources += stage(recognised, table_label, encoding)
    return opened


@dataclass(frozen=True)
class Recognised:
    """A table of text cells with its header recognised, ready to be typed."""

    frame: pl.DataFrame  # source_row and each field under its contract name (parts: <field>__p<i>)
    mapped: MappedHeader
    kinds: list[str]  # the kinds of table it holds (cases, settlements …)
    unmapped: tuple[str, ...]
    notes: list[str]  # the rows left out (spacers, totals)

    def combined(self) -> bool:
        """True when a field is made of several columns or written in a unit of its own."""
        return any(src.combined() for src in self.mapped.fields.values())


def recognise_frame(frame: pl.DataFrame, where: str, name_hint: str,
                    mapping: dict[str, MapEntry], allow_unmapped: bool = False) -> Recognised:
    """A table of text cells under its headers (and ``source_row``), its headers recognised
    (contract names, the 结算清单's Chinese names, ``mapping``), spacer and total rows dropped,
    numbered lists joined; raises :class:`IngestError` for a table that cannot be placed (its
    message names the columns)."""
    headers = [c for c in frame.columns if c != "source_row"]
    mapped, kinds, unmapped = _recognise(where, headers, name_hint, mapping, allow_unmapped)
    key_field = INPUT_KEYS[kinds[-1]]
    key = mapped.fields[key_field].headers[0] if key_field in mapped.fields else None
    recognised = [h for s in mapped.fields.values() for h in s.headers]
    frame, spacers, totals = drop_spacers_and_totals(frame, recognised, key)
    notes = []
    if spacers:
        notes.append(f"{where}: 跳过 {spacers} 个空行")
    if totals:
        notes.append(f"{where}: 第 {', '.join(map(str, totals))} 行是合计行，未载入")
    return Recognised(_staged_frame(frame, mapped), mapped, kinds, unmapped, notes)


def stage_recognised(con: duckdb.DuckDBPyConnection, table: Recognised, staged_table: str,
                     label: str, encoding: str = "") -> list[Source]:
    """A recognised table's fields typed into temp table ``staged_table``: its Sources, one
    per kind (each non-text field beside its text, ``<field>__raw``, for the
    unparseable-value checks). The 预分组 API's request rows are staged so; the loader types
    a batch's tables together (``load._TextGroups``)."""
    sql, raw = typing_sql(table, "staged_arrow")
    con.register("staged_arrow", table.frame.to_arrow())
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {staged_table} AS {sql}")
    finally:
        con.unregister("staged_arrow")
    return text_sources(table, staged_table, label, encoding, raw)
