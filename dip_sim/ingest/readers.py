"""Opening one input file as a SQL relation with its row numbers, and checking its header.

CSV is read with polars as text (keeping the file's row order, so row numbers are line
numbers) into a temporary text table. Parquet is scanned by DuckDB in place
(``file_row_number``); its typed columns are cast directly, its text columns parsed like CSV.
Every value that does not parse is recorded in ``load_errors`` with its row and field.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from dip_sim.ingest.errors import IngestError
from dip_sim.ingest.parsing import record_parse_errors
from dip_sim.schema import INPUT_TABLES


@dataclass(frozen=True)
class Source:
    """A file opened for loading: a relation with ``source_row``, and where each column is."""

    relation: str  # a table name or a parenthesised subquery
    sources: dict[str, tuple[str, str]]  # contract column → (source expression, SQL type)
    rows: int


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, recorded in ``load_batches``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _clean_header(name: str) -> str:
    return name.replace("\ufeff", "").strip().lower()


def _check_header(path: Path, kind: str, header: list[str]) -> list[str]:
    """The contract columns present in ``header``; raise naming the missing required ones."""
    present = set(header)
    missing = [c.name for c in INPUT_TABLES[kind] if c.required and c.name not in present]
    if missing:
        raise IngestError(
            f"{path.name}: 缺少必需列 {', '.join(missing)}（文件的列: {', '.join(header)}）")
    return [c.name for c in INPUT_TABLES[kind] if c.name in present]


def _sql_path(path: Path) -> str:
    return path.as_posix().replace("'", "''")


def open_source(con: duckdb.DuckDBPyConnection, path: Path, kind: str, label: str) -> Source:
    """Open ``path`` for loading and record its unparseable values in ``load_errors``.

    ``label`` is how the file is named in the tables (its path relative to the input
    directory). Raises :class:`IngestError` for an unreadable file or a missing column.
    """
    if path.suffix.lower() == ".parquet":
        scan = f"read_parquet('{_sql_path(path)}', file_row_number = true)"
        try:
            described = con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()
            rows = con.execute(f"SELECT count(*) FROM {scan}").fetchall()[0][0]
        except duckdb.Error as exc:
            raise IngestError(f"{path.name}: 无法读取 Parquet 文件: {exc}") from None
        original = {_clean_header(name): (name, type_) for name, type_, *_ in described
                    if name != "file_row_number"}
        columns = _check_header(path, kind, list(original))
        source = Source(f"(SELECT *, file_row_number + 1 AS source_row FROM {scan})",
                        {c: (f'"{original[c][0]}"', original[c][1])
                         for c in columns}, rows)
    else:
        try:
            frame = pl.read_csv(path, infer_schema=False, encoding="utf8")
        except (pl.exceptions.ComputeError, UnicodeDecodeError,
                pl.exceptions.NoDataError) as exc:
            raise IngestError(f"{path.name}: 无法按 UTF-8 CSV 读取: {str(exc).splitlines()[0]}") \
                from None
        frame = frame.rename({c: _clean_header(c) for c in frame.columns})
        columns = _check_header(path, kind, frame.columns)
        # source_row is the line in the file: the header is line 1, the first data row line 2
        frame = frame.select(columns).with_row_index("source_row", offset=2)
        con.register("staged_arrow", frame.to_arrow())
        try:
            con.execute("CREATE OR REPLACE TEMP TABLE csv_source AS SELECT * FROM staged_arrow")
        finally:
            con.unregister("staged_arrow")
        source = Source("csv_source", {c: (c, "VARCHAR") for c in columns}, frame.height)
    record_parse_errors(con, kind, source.relation, source.sources, label)
    return source
