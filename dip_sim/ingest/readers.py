"""Reading one input file into a text staging table, with its file name and row numbers.

Every value is staged as text so that nothing is lost before typing: the typing step in SQL
can then say which row and field did not parse. CSV is read with polars (keeps the file's row
order, so row numbers are line numbers); Parquet with DuckDB (``file_row_number``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import polars as pl

from dip_sim.ingest.errors import IngestError
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
    """(Re)create the text staging table of ``kind``: every contract column as VARCHAR."""
    cols = ", ".join(f"{c.name} VARCHAR" for c in INPUT_TABLES[kind])
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


def stage_file(con: duckdb.DuckDBPyConnection, path: Path, kind: str, label: str) -> int:
    """Append ``path`` to the staging table of ``kind``; return the number of rows read.

    ``label`` is how the file is named in the tables (its path relative to the input
    directory). Raises :class:`IngestError` for an unreadable file or a missing column.
    """
    target = staging_table(kind)
    if path.suffix.lower() == ".parquet":
        source = f"read_parquet('{_sql_path(path)}', file_row_number = true)"
        try:
            described = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
        except duckdb.Error as exc:
            raise IngestError(f"{path.name}: 无法读取 Parquet 文件: {exc}") from None
        original = {_clean_header(r[0]): r[0] for r in described if r[0] != "file_row_number"}
        columns = _check_header(path, kind, list(original))
        select = ", ".join(f'CAST("{original[c]}" AS VARCHAR)' for c in columns)
        con.execute(
            f"INSERT INTO {target} ({', '.join(columns)}, source_file, source_row) "
            f"SELECT {select}, ?, file_row_number + 1 FROM {source}", [label])
        return con.execute(f"SELECT count(*) FROM {target} WHERE source_file = ?",
                           [label]).fetchall()[0][0]
    try:
        frame = pl.read_csv(path, infer_schema=False, encoding="utf8",
                            truncate_ragged_lines=False)
    except (pl.exceptions.ComputeError, UnicodeDecodeError, pl.exceptions.NoDataError) as exc:
        raise IngestError(f"{path.name}: 无法按 UTF-8 CSV 读取: {str(exc).splitlines()[0]}") \
            from None
    frame = frame.rename({c: _clean_header(c) for c in frame.columns})
    columns = _check_header(path, kind, frame.columns)
    # row_number is the line in the file: the header is line 1, the first data row line 2
    frame = frame.select(columns).with_row_index("source_row", offset=2)
    arrow = frame.to_arrow()
    con.register("staged_arrow", arrow)
    try:
        con.execute(
            f"INSERT INTO {target} ({', '.join(columns)}, source_file, source_row) "
            f"SELECT {', '.join(columns)}, ?, source_row FROM staged_arrow", [label])
    finally:
        con.unregister("staged_arrow")
    return frame.height


def _sql_path(path: Path) -> str:
    return path.as_posix().replace("'", "''")
