"""Reading one input file into the typed staging table of its kind, with file and row.

CSV is read with polars as text (keeping the file's row order, so row numbers are line
numbers) and typed in SQL, every value that does not parse recorded with its row and field.
Parquet is read by DuckDB (``file_row_number``); its typed columns are cast directly, its
text columns parsed like CSV.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import polars as pl

from dip_sim.ingest.errors import IngestError
from dip_sim.ingest.typing import record_parse_errors, stage_insert_sql
from dip_sim.schema import INPUT_TABLES


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, recorded in ``load_batches``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _clean_header(name: str) -> str:
    return name.replace("\ufeff", "").strip().lower()


def staging_table(kind: str) -> str:
    """Name of the temporary staging table of an input kind."""
    return f"stg_{kind}"


def create_staging(con: duckdb.DuckDBPyConnection, kind: str) -> None:
    """(Re)create the typed staging table of ``kind`` with source file and row."""
    cols = ", ".join(f"{c.name} {c.sql_type}" for c in INPUT_TABLES[kind])
    con.execute(f"CREATE OR REPLACE TEMP TABLE {staging_table(kind)} "
                f"({cols}, source_file VARCHAR, source_row BIGINT)")


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


def _stage(con: duckdb.DuckDBPyConnection, kind: str, relation: str,
           sources: dict[str, tuple[str, bool]], label: str) -> int:
    record_parse_errors(con, kind, relation, sources, label)
    con.execute(stage_insert_sql(kind, staging_table(kind), relation, sources), [label])
    return con.execute(f"SELECT count(*) FROM {relation}").fetchall()[0][0]


def stage_file(con: duckdb.DuckDBPyConnection, path: Path, kind: str, label: str) -> int:
    """Type ``path`` into the staging table of ``kind``; return the number of rows read.

    ``label`` is how the file is named in the tables (its path relative to the input
    directory). Raises :class:`IngestError` for an unreadable file or a missing column.
    """
    if path.suffix.lower() == ".parquet":
        relation = (f"(SELECT *, file_row_number + 1 AS source_row "
                    f"FROM read_parquet('{_sql_path(path)}', file_row_number = true))")
        try:
            described = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{_sql_path(path)}')"
                                    ).fetchall()
        except duckdb.Error as exc:
            raise IngestError(f"{path.name}: 无法读取 Parquet 文件: {exc}") from None
        original = {_clean_header(name): (name, kind_) for name, kind_, *_ in described}
        columns = _check_header(path, kind, list(original))
        sources = {c: (f'"{original[c][0]}"', original[c][1] == "VARCHAR") for c in columns}
        return _stage(con, kind, relation, sources, label)
    try:
        frame = pl.read_csv(path, infer_schema=False, encoding="utf8")
    except (pl.exceptions.ComputeError, UnicodeDecodeError, pl.exceptions.NoDataError) as exc:
        raise IngestError(f"{path.name}: 无法按 UTF-8 CSV 读取: {str(exc).splitlines()[0]}") \
            from None
    frame = frame.rename({c: _clean_header(c) for c in frame.columns})
    columns = _check_header(path, kind, frame.columns)
    # source_row is the line in the file: the header is line 1, the first data row line 2
    frame = frame.select(columns).with_row_index("source_row", offset=2)
    con.register("staged_arrow", frame.to_arrow())
    try:
        return _stage(con, kind, "staged_arrow", {c: (c, True) for c in columns}, label)
    finally:
        con.unregister("staged_arrow")
