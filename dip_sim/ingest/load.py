"""Loading a directory of extracts into the warehouse as one atomic, repeatable batch.

Flow per batch: every file is staged as text (``readers``), typed in SQL with each value that
does not parse recorded (``typing``), codes standardised to their canonical 医保版 2.0 form,
patient identifiers pseudonymised, and the rows inserted unless the same content is already
there. The whole batch runs in one transaction: if anything fails, the warehouse is as before.

Idempotence: a file whose bytes were loaded before is skipped (``unchanged``); a row whose
(key, content hash) is already in the warehouse is not inserted again. The same ``case_id``
with different content is kept as a second row: the quality stage flags the conflict.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from dip_sim.ingest.errors import IngestError
from dip_sim.ingest.files import KINDS, find_input_files
from dip_sim.ingest.pseudonym import pseudonym_sql
from dip_sim.ingest.readers import create_staging, file_sha256, stage_file, staging_table
from dip_sim.ingest.typing import record_parse_errors, typed_select
from dip_sim.reference import load_reference
from dip_sim.schema import INPUT_TABLES, WAREHOUSE_DDL

Progress = Callable[[str], None]


@dataclass
class IngestSummary:
    """What a batch did: per file and in total."""

    batch_id: str
    files: list[dict] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def total(self, key: str) -> int:
        """Sum of one per-file count (``rows_read``, ``rows_loaded`` …) over the batch."""
        return sum(int(f.get(key) or 0) for f in self.files)


def ensure_warehouse(con: duckdb.DuckDBPyConnection) -> None:
    """Create the warehouse's input tables if missing and (re)load the reference tables."""
    for ddl in WAREHOUSE_DDL.values():
        con.execute(ddl)
    load_reference(con)


def _row_hash(columns: list[str]) -> str:
    # content identity of a row: every contract column, NULL distinguished from ''
    parts = ", ".join(f"coalesce(CAST({c} AS VARCHAR), '\\N')" for c in columns)
    return f"md5(concat_ws(chr(31), {parts}))"


def _prepare_cases(con: duckdb.DuckDBPyConnection) -> None:
    """Typed, code-standardised, pseudonymised case rows in temp table ``new_cases``."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE typed_cases AS
        SELECT row_number() OVER () AS rid, * FROM ({typed_select("cases", "stg_cases")});

        CREATE OR REPLACE TEMP TABLE case_codes AS
        WITH lists AS (
            SELECT rid, 'main_dx' AS role, [main_dx] AS codes FROM typed_cases
            WHERE main_dx IS NOT NULL
            UNION ALL SELECT rid, 'other_dx', string_split(other_dx, ';') FROM typed_cases
            WHERE other_dx IS NOT NULL
            UNION ALL SELECT rid, 'main_proc', [main_proc] FROM typed_cases
            WHERE main_proc IS NOT NULL
            UNION ALL SELECT rid, 'other_procs', string_split(other_procs, ';') FROM typed_cases
            WHERE other_procs IS NOT NULL
        ), long AS (
            SELECT rid, role, trim(unnest(codes)) AS given, generate_subscripts(codes, 1) AS seq
            FROM lists
        )
        SELECT l.rid, l.role, l.seq, l.given, d.code
        FROM long l LEFT JOIN ref_dx_lookup d ON d.code_key = lower(l.given)
        WHERE l.role IN ('main_dx', 'other_dx') AND l.given <> ''
        UNION ALL
        SELECT l.rid, l.role, l.seq, l.given, p.code
        FROM long l LEFT JOIN ref_proc_lookup p ON p.code_key = lower(l.given)
        WHERE l.role IN ('main_proc', 'other_procs') AND l.given <> '';

        CREATE OR REPLACE TEMP TABLE case_codes_wide AS
        SELECT rid,
               max(coalesce(code, given)) FILTER (WHERE role = 'main_dx') AS main_dx,
               string_agg(coalesce(code, given), ';' ORDER BY seq)
                   FILTER (WHERE role = 'other_dx') AS other_dx,
               max(coalesce(code, given)) FILTER (WHERE role = 'main_proc') AS main_proc,
               string_agg(coalesce(code, given), ';' ORDER BY seq)
                   FILTER (WHERE role = 'other_procs') AS other_procs,
               string_agg(role || ':' || given, ';' ORDER BY role, seq)
                   FILTER (WHERE code IS NULL) AS invalid_codes
        FROM case_codes GROUP BY rid;
    """)
    columns = [c.name for c in INPUT_TABLES["cases"]]
    code_cols = {"main_dx", "other_dx", "main_proc", "other_procs"}
    select = []
    for name in columns:
        if name in code_cols:
            select.append(f"w.{name} AS {name}")
        elif name == "patient_id":
            select.append(f"{pseudonym_sql('t.patient_id')} AS patient_id")
        else:
            select.append(f"t.{name}")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE prepared_cases AS
        SELECT {', '.join(select)},
               CAST(year(t.discharge_date) AS INTEGER) AS year,
               w.invalid_codes, t.source_file, t.source_row
        FROM typed_cases t LEFT JOIN case_codes_wide w USING (rid);
        DROP TABLE typed_cases; DROP TABLE case_codes; DROP TABLE case_codes_wide;
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE new_cases AS
        SELECT *, {_row_hash(columns)} AS row_hash FROM prepared_cases;
        DROP TABLE prepared_cases;
    """)


def _prepare_settlements(con: duckdb.DuckDBPyConnection) -> None:
    """Typed settlement rows in temp table ``new_settlements``."""
    columns = [c.name for c in INPUT_TABLES["settlements"]]
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE new_settlements AS
        SELECT *, {_row_hash(columns)} AS row_hash
        FROM ({typed_select("settlements", "stg_settlements")});
    """)


def _insert_new(con: duckdb.DuckDBPyConnection, kind: str) -> None:
    """Insert rows of ``new_<kind>`` whose (key, content) is not yet in the table.

    Marks each staged row ``is_new`` so per-file counts can be reported.
    """
    key = "case_id"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE marked_{kind} AS
        SELECT n.*,
               (row_number() OVER (PARTITION BY n.{key}, n.row_hash
                                   ORDER BY n.source_file, n.source_row) = 1
                AND NOT EXISTS (SELECT 1 FROM {kind} c
                                WHERE c.{key} = n.{key} AND c.row_hash = n.row_hash)) AS is_new
        FROM new_{kind} n;
        INSERT INTO {kind} BY NAME
        SELECT * EXCLUDE (is_new), getvariable('batch_id') AS batch_id
        FROM marked_{kind} WHERE is_new;
    """)


def _load_hospitals(con: duckdb.DuckDBPyConnection) -> None:
    """Upsert hospitals: the last row of the batch for a hospital_id replaces earlier ones."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE new_hospitals AS
        SELECT * FROM ({typed_select("hospitals", "stg_hospitals")})
        QUALIFY row_number() OVER (PARTITION BY hospital_id
                                   ORDER BY source_file DESC, source_row DESC) = 1;
        INSERT INTO load_errors
        SELECT getvariable('batch_id'), source_file, source_row, 'level', CAST(level AS VARCHAR),
               '医院等级应为 1、2 或 3，整行未载入', 'row_rejected'
        FROM new_hospitals WHERE level IS NULL OR level NOT IN (1, 2, 3);
        DELETE FROM new_hospitals WHERE level IS NULL OR level NOT IN (1, 2, 3);
        CREATE OR REPLACE TEMP TABLE marked_hospitals AS
        SELECT n.*, NOT EXISTS (
            SELECT 1 FROM hospitals h WHERE h.hospital_id = n.hospital_id
              AND h.hospital_name IS NOT DISTINCT FROM n.hospital_name
              AND h.level IS NOT DISTINCT FROM n.level
              AND h.county IS NOT DISTINCT FROM n.county) AS is_new
        FROM new_hospitals n;
        DELETE FROM hospitals
        WHERE hospital_id IN (SELECT hospital_id FROM marked_hospitals WHERE is_new);
        INSERT INTO hospitals BY NAME
        SELECT * EXCLUDE (is_new) FROM marked_hospitals WHERE is_new;
    """)


def _file_counts(con: duckdb.DuckDBPyConnection, kind: str, batch_id: str) -> dict[str, tuple]:
    """Per source file: rows loaded, rows already present, rows rejected in this batch."""
    rows = con.execute(f"""
        WITH m AS (SELECT source_file, count(*) FILTER (WHERE is_new) AS loaded,
                          count(*) FILTER (WHERE NOT is_new) AS dup
                   FROM marked_{kind} GROUP BY source_file),
             r AS (SELECT file_path AS source_file, count(DISTINCT row_number) AS rejected
                   FROM load_errors WHERE batch_id = ? AND outcome = 'row_rejected'
                   GROUP BY file_path)
        SELECT coalesce(m.source_file, r.source_file), coalesce(loaded, 0), coalesce(dup, 0),
               coalesce(rejected, 0)
        FROM m FULL JOIN r USING (source_file)""", [batch_id]).fetchall()
    return {r[0]: r[1:] for r in rows}


def ingest_directory(con: duckdb.DuckDBPyConnection, directory: Path, pseudonym_key: str,
                     progress: Progress = print, force: bool = False) -> IngestSummary:
    """Load every input file under ``directory`` as one batch; return what was done.

    Files that cannot be read, or lack a required column, are refused (listed in
    ``load_errors`` and the summary) and the other files load. With ``force``, files loaded
    before are read again (their rows still deduplicate).
    """
    directory = Path(directory)
    files, skipped = find_input_files(directory)
    batch_id = dt.datetime.now().strftime("%Y%m%d%H%M%S-") + uuid.uuid4().hex[:8]
    summary = IngestSummary(batch_id, skipped=[str(p) for p in skipped])
    ensure_warehouse(con)
    con.execute("SET VARIABLE pseudonym_key = ?", [pseudonym_key])
    con.execute("SET VARIABLE batch_id = ?", [batch_id])
    loaded_hashes = {r[0] for r in con.execute(
        "SELECT file_sha256 FROM load_batches WHERE status = 'loaded'").fetchall()}
    now = dt.datetime.now()
    con.execute("BEGIN TRANSACTION")
    try:
        for kind in KINDS:
            create_staging(con, kind)
        staged: dict[str, dict] = {}
        for f in files:
            label = f.path.relative_to(directory).as_posix()
            info = {"file_path": label, "file_kind": f.kind, "file_size_bytes": f.path.stat().st_size,
                    "file_sha256": file_sha256(f.path), "rows_read": 0, "rows_loaded": 0,
                    "rows_duplicate": 0, "rows_rejected": 0, "status": "loaded", "message": ""}
            if info["file_sha256"] in loaded_hashes and not force:
                info.update(status="unchanged", message="文件内容与已载入的版本相同，未重复载入")
                progress(f"  {label}: 与已载入文件相同，跳过")
            else:
                started = time.perf_counter()
                try:
                    info["rows_read"] = stage_file(con, f.path, f.kind, label)
                    progress(f"  读取 {label}: {info['rows_read']:,} 行 "
                             f"({time.perf_counter() - started:.1f} 秒)")
                except IngestError as exc:
                    info.update(status="refused", message=str(exc))
                    summary.refused.append(str(exc))
                    con.execute("INSERT INTO load_errors VALUES (?, ?, NULL, NULL, NULL, ?, ?)",
                                [batch_id, label, str(exc), "file_refused"])
                    progress(f"  拒绝 {label}: {exc}")
            staged[label] = info
            summary.files.append(info)

        for kind in KINDS:
            record_parse_errors(con, kind, staging_table(kind), batch_id)
        progress("  类型转换、编码标准化、假名化 …")
        _load_hospitals(con)
        _prepare_cases(con)
        _insert_new(con, "cases")
        _prepare_settlements(con)
        _insert_new(con, "settlements")

        counts = {}
        for kind in KINDS:
            counts.update(_file_counts(con, kind, batch_id))
        for label, info in staged.items():
            if info["status"] == "loaded" and label in counts:
                info["rows_loaded"], info["rows_duplicate"], info["rows_rejected"] = counts[label]
            con.execute("INSERT INTO load_batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [batch_id, now, label, info["file_kind"], info["file_size_bytes"],
                         info["file_sha256"], info["rows_read"], info["rows_loaded"],
                         info["rows_duplicate"], info["rows_rejected"], info["status"],
                         info["message"]])
        for kind in KINDS:
            for table in (f"stg_{kind}", f"new_{kind}", f"marked_{kind}"):
                con.execute(f"DROP TABLE IF EXISTS {table}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return summary
