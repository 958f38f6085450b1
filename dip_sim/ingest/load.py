"""Loading a directory of extracts into the warehouse as one atomic, repeatable batch.

Flow per table: opened as a relation (``readers``: headers mapped; CSV and Excel read as
text), each value that does not parse recorded (``parsing``), codes standardised to their
canonical 医保版 2.0 form and patient identifiers pseudonymised (``standardise``), and the
rows inserted unless the same content is already there. Parquet files load one by one; CSV
and Excel tables of the same fields are gathered, typed and loaded together (``_TextGroups``).
The whole batch runs in one transaction: if anything fails, the warehouse is as before.

Idempotence: a file whose bytes were loaded before is skipped (``unchanged``); a row whose
(key, content hash) is already in the warehouse is not inserted again. The same ``case_id``
with different content is kept as a second row: the quality stage flags the conflict.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from dip_sim.ingest.errors import IngestError, PseudonymMethodChanged
from dip_sim.ingest.files import find_input_files
from dip_sim.ingest.headers import KIND_ZH, header_map
from dip_sim.ingest.parsing import record_parse_errors, typed_columns_sql
from dip_sim.ingest.pseudonym import key_fingerprint, set_pseudonym_key
from dip_sim.ingest.readers import (
    Opened,
    Recognised,
    Source,
    describe_unmapped,
    file_sha256,
    open_tables,
    text_sources,
    typing_sql,
)
from dip_sim.ingest.standardise import (
    code_lists_sql,
    insert_cases_sql,
    insert_rows_sql,
    present_rows_sql,
    typed_rows_sql,
)
from dip_sim.meta import get_meta, set_meta
from dip_sim.reference import load_reference
from dip_sim.schema import WAREHOUSE_DDL
from dip_sim.transaction import commit, rollback

Progress = Callable[[str], None]

# load_batches columns written per table, after batch_id and loaded_at
_INFO_COLUMNS: tuple[str, ...] = (
    "file_path", "file_kind", "file_size_bytes", "file_sha256", "rows_read", "rows_loaded",
    "rows_duplicate", "rows_rejected", "rows_replaced", "status", "message", "column_mapping",
    "encoding", "seconds", "unmapped_columns", "ignored_columns")
_BATCH_COLUMNS = ", ".join(f"? AS {c}" for c in ("batch_id", "loaded_at", *_INFO_COLUMNS))


@dataclass
class IngestSummary:
    """What a batch did: per file and in total."""

    batch_id: str
    files: list[dict] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # left out by the directory's .dipsim-ignore
    notes: list[str] = field(default_factory=list)
    alert: str = ""  # the loud line when too many of the batch's cases are critical

    def total(self, key: str) -> int:
        """Sum of one per-file count (``rows_read``, ``rows_loaded`` …) over the batch."""
        return sum(int(f.get(key) or 0) for f in self.files)


def ensure_warehouse(con: duckdb.DuckDBPyConnection) -> None:
    """Create the warehouse's input tables if missing and (re)load the reference tables.

    A warehouse made by an older version is refused before this (its schema version,
    :mod:`dip_sim.warehouse_version`), never altered here.
    """
    for ddl in WAREHOUSE_DDL.values():
        con.execute(ddl)
    load_reference(con)


def _note_candidates(con: duckdb.DuckDBPyConnection, kind: str) -> None:
    """Add to ``batch_candidates`` the file's keys that may now have more than one row.

    A key gets a second row only if it was loaded before (it is in ``present``) or it repeats
    within the file (``file_keys``): only these are examined at the end of the batch.
    """
    con.execute(f"""
        INSERT INTO batch_candidates
        SELECT '{kind}', key_hash FROM file_keys GROUP BY key_hash HAVING count(*) > 1;
        INSERT INTO batch_candidates SELECT DISTINCT '{kind}', key_hash FROM present;""")


def _settle_repeats(con: duckdb.DuckDBPyConnection, kind: str) -> None:
    """Delete the batch's exact repeats within a file; record the keys with several contents.

    Each file's insert skips rows already in the table (earlier batches, earlier files), so
    the rows of a (key, content) left more than once all come from one file of this batch:
    the first is kept. The keys still having more than one row have different contents: they
    are added to ``duplicate_keys`` for the quality stage. Only the candidate keys
    (:func:`_note_candidates`) are examined, not every key of the table.
    """
    con.execute(f"""
        -- a conflict recorded earlier may be gone (a new version of its file replaced a row)
        DELETE FROM duplicate_keys WHERE kind = '{kind}'
          AND hash(case_id) IN (SELECT key_hash FROM batch_candidates WHERE kind = '{kind}');
        CREATE OR REPLACE TEMP TABLE multi_keys AS
        SELECT case_id FROM {kind}
        WHERE key_hash IN (SELECT key_hash FROM batch_candidates WHERE kind = '{kind}')
        GROUP BY case_id HAVING count(*) > 1;
        DELETE FROM {kind} WHERE rowid IN (
            SELECT rowid FROM {kind} SEMI JOIN multi_keys USING (case_id)
            WHERE batch_id = getvariable('batch_id')
            QUALIFY row_number() OVER (PARTITION BY case_id, row_hash
                                       ORDER BY source_file, source_row) > 1);
        INSERT INTO duplicate_keys
        SELECT '{kind}', case_id FROM {kind} SEMI JOIN multi_keys USING (case_id)
        ANTI JOIN (SELECT case_id FROM duplicate_keys WHERE kind = '{kind}') d USING (case_id)
        GROUP BY case_id HAVING count(*) > 1;
        DROP TABLE multi_keys;""")


def _load_table(con: duckdb.DuckDBPyConnection, src: Source) -> None:
    """Check, standardise and insert one opened table's new rows (hospitals: collect them).

    Rows equal to rows loaded from an earlier table of the same batch count as already
    present.
    """
    con.execute("SET VARIABLE source_file = ?", [src.label])
    record_parse_errors(con, src.kind, src.relation, src.sources, src.raw, src.file_expr)
    if src.kind == "hospitals":
        # a 结算清单 names its hospital on every row: one row per hospital and naming is kept
        con.execute(f"INSERT INTO batch_hospitals BY NAME "
                    f"SELECT * EXCLUDE (row_hash, key_hash, source_row), "
                    f"min(source_row) AS source_row, {src.derived} AS derived "
                    f"FROM ({typed_rows_sql(src.kind, src)}) GROUP BY ALL")
    elif src.kind == "cases":
        con.execute(code_lists_sql(src))
        con.execute(present_rows_sql(src.kind))
        _note_candidates(con, src.kind)
        con.execute(insert_cases_sql(src))
        con.execute("DROP TABLE proc_lists; DROP TABLE dx_lists; DROP TABLE main_dx_codes; "
                    "DROP TABLE present")
    else:
        con.execute(present_rows_sql(src.kind))
        _note_candidates(con, src.kind)
        con.execute(insert_rows_sql(src.kind, src))
        con.execute("DROP TABLE present")
    con.execute("DROP TABLE IF EXISTS file_keys")


def _load_hospitals(con: duckdb.DuckDBPyConnection) -> None:
    """Upsert hospitals: the last row of the batch for a hospital_id replaces earlier ones.

    A hospital table's row wins over the hospital named on the rows of a 结算清单.
    """
    con.execute("""
        CREATE OR REPLACE TEMP TABLE new_hospitals AS
        SELECT * EXCLUDE (derived) FROM batch_hospitals
        QUALIFY row_number() OVER (PARTITION BY hospital_id
                                   ORDER BY derived, source_file DESC, source_row DESC) = 1;
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
              AND h.county IS NOT DISTINCT FROM n.county
              AND h.region IS NOT DISTINCT FROM n.region
              AND h.region_name IS NOT DISTINCT FROM n.region_name) AS is_new
        FROM new_hospitals n;
        DELETE FROM hospitals
        WHERE hospital_id IN (SELECT hospital_id FROM marked_hospitals WHERE is_new);
        INSERT INTO hospitals BY NAME
        SELECT * EXCLUDE (is_new) FROM marked_hospitals WHERE is_new;
    """)


def _loaded_counts(con: duckdb.DuckDBPyConnection, batch_id: str) -> dict[tuple[str, str], int]:
    """Rows this batch inserted, per (source table label, kind)."""
    rows = con.execute("""
        SELECT source_file, 'cases', count(*) FROM cases WHERE batch_id = ? GROUP BY source_file
        UNION ALL
        SELECT source_file, 'settlements', count(*) FROM settlements WHERE batch_id = ?
        GROUP BY source_file
        UNION ALL
        SELECT source_file, 'hospitals', count(*) FILTER (WHERE is_new) FROM marked_hospitals
        GROUP BY source_file""", [batch_id, batch_id]).fetchall()
    return {(label, kind): n for label, kind, n in rows}


def _rejected_counts(con: duckdb.DuckDBPyConnection, batch_id: str) -> dict[str, int]:
    """Rows of each table this batch refused to load (no key, invalid hospital level)."""
    return dict(con.execute("""
        SELECT file_path, count(DISTINCT row_number) FROM load_errors
        WHERE batch_id = ? AND outcome = 'row_rejected' GROUP BY file_path""",
        [batch_id]).fetchall())


def _replace_older_version(con: duckdb.DuckDBPyConnection, kind: str, label: str) -> int:
    """Delete the rows of earlier versions of this table that its new rows replace.

    A changed file under the same name is a new version of the same cases: for each key in
    its new rows, the newer row wins. Keys only in the earlier version are kept. Returns
    the number of rows replaced.
    """
    return con.execute(f"""
        DELETE FROM {kind}
        WHERE source_file = ? AND batch_id <> getvariable('batch_id')
          AND case_id IN (SELECT case_id FROM {kind}
                          WHERE source_file = ? AND batch_id = getvariable('batch_id'))""",
        [label, label]).fetchall()[0][0]


def _finish_table(con: duckdb.DuckDBPyConnection, kind: str, label: str, info: dict,
                  replaces: bool) -> None:
    """After a table's rows are in: a new version of a file replaces its older rows."""
    if replaces:
        info["rows_replaced"] = _replace_older_version(con, kind, label)
        info["message"] = (f"替换早先版本：{info['rows_replaced']:,} 行被新版本取代"
                           if info["rows_replaced"] else "同名文件的新版本")


# rows of text a group gathers before they are typed into its table: the text frames wait in
# memory (polars), while DuckDB's tables spill to disk when they must
_TYPE_ROWS = 500_000


@dataclass
class _TextGroups:
    """CSV and Excel tables of the same fields, typed and loaded together.

    Hospitals send many small files (a hospital, a year, a kind), and each statement costs a
    fixed time to plan and run, so the tables typed by the same SQL (the same fields, written
    alike: ``readers.typing_sql``) form a group. Their text frames are gathered, then typed
    into the group's temp table by one statement per :data:`_TYPE_ROWS` rows or so, each row
    with its own ``source_file``; at the end of the batch each group is loaded by one set of
    statements per kind. Row numbers, labels, repeats and replacements stay per table.
    """

    tables: dict[str, str] = field(default_factory=dict)  # typing SQL → its temp table
    made: set[str] = field(default_factory=set)  # temp tables holding typed rows
    waiting: dict[str, list[tuple[str, pl.DataFrame]]] = field(default_factory=dict)
    members: dict[str, list[tuple[Source, dict, bool]]] = field(default_factory=dict)
    typing_seconds: dict[str, float] = field(default_factory=dict)  # table label → seconds

    def stage(self, table: Recognised, label: str, encoding: str) -> list[Source]:
        """Gather a recognised table's text in its group; its Sources read the group's table."""
        sql, raw = typing_sql(table, "text_frames", carried=("source_file", "source_row"))
        name = self.tables.setdefault(sql, f"text_group_{len(self.tables)}")
        self.waiting.setdefault(name, []).append((label, table.frame))
        return text_sources(table, name, label, encoding, raw, file_expr="source_file")

    def add(self, src: Source, info: dict, replaces: bool) -> None:
        """Count ``src`` (a kind of a gathered table) among its group's tables to load."""
        self.members.setdefault(src.relation, []).append((src, info, replaces))

    def type_waiting(self, con: duckdb.DuckDBPyConnection, progress: Progress,
                     at_least: int = 0) -> None:
        """Type the gathered text of each group holding at least ``at_least`` rows (a table
        of no rows too, when 0); share each statement's time among its tables by rows."""
        for sql, name in self.tables.items():
            frames = self.waiting[name]
            rows = sum(frame.height for _, frame in frames)
            if not frames or rows < at_least:
                continue
            started = time.perf_counter()
            text = pl.concat([frame.with_columns(source_file=pl.lit(label))
                              for label, frame in frames], how="diagonal_relaxed")
            con.register("text_frames", text.to_arrow())
            try:
                into = (f"INSERT INTO {name} BY NAME" if name in self.made
                        else f"CREATE TEMP TABLE {name} AS")
                con.execute(f"{into} {sql}")
            finally:
                con.unregister("text_frames")
            self.made.add(name)
            seconds = time.perf_counter() - started
            for label, frame in frames:
                self.typing_seconds[label] = (self.typing_seconds.get(label, 0.0)
                                              + seconds * frame.height / max(rows, 1))
            progress(f"  类型转换 {len(frames)} 个表格（同一列结构）: {rows:,} 行 ({seconds:.1f} 秒)")
            frames.clear()

    def load(self, con: duckdb.DuckDBPyConnection, progress: Progress) -> None:
        """Type what is left, then load every group, kind by kind; share each load's time
        among its tables by rows."""
        self.type_waiting(con, progress)
        for table, members in self.members.items():
            per_label = Counter(src.label for src, _, _ in members)
            for src, info, _ in members:
                # a table of several kinds (a 结算清单) shares its typing among them
                info["seconds"] += self.typing_seconds.get(src.label, 0.0) / per_label[src.label]
            for kind in dict.fromkeys(src.kind for src, _, _ in members):
                of_kind = [(src, info, rep) for src, info, rep in members if src.kind == kind]
                first = of_kind[0][0]
                started = time.perf_counter()
                rows = sum(s.rows for s, _, _ in of_kind)
                _load_table(con, Source(table, first.sources, rows, kind=kind, staged=True,
                                        raw=first.raw, file_expr="source_file",
                                        derived=first.derived))
                for src, info, replaces in of_kind:
                    _finish_table(con, kind, src.label, info, replaces)
                seconds = time.perf_counter() - started
                rows = max(rows, 1)
                for src, info, _ in of_kind:
                    info["seconds"] += seconds * src.rows / rows
                progress(f"  载入 {len(of_kind)} 个{KIND_ZH[kind]}（同一列结构）: "
                         f"{rows:,} 行 ({seconds:.1f} 秒)")
        for table in self.made:
            con.execute(f"DROP TABLE {table}")


def _check_key(con: duckdb.DuckDBPyConnection, pseudonym_key: str) -> None:
    """Refuse a pseudonymisation key (or method) other than the one the warehouse was loaded with.

    A different key would give every patient a new pseudonym, and every reloaded case would
    look like a conflicting duplicate. Only a fingerprint of the key is stored.
    """
    fingerprint = key_fingerprint(pseudonym_key)
    stored = get_meta(con, "pseudonym_key_check")
    if stored is None and get_meta(con, "pseudonym_key_sha256") is not None:
        raise PseudonymMethodChanged("此仓库由旧版本载入（患者标识用旧的带密钥散列，而非 HMAC-SHA256）："
                          "新旧假名无法对应。请换一个新的仓库文件（--db）重新载入全部数据")
    if stored is None:
        set_meta(con, "pseudonym_key_check", fingerprint)
    elif stored != fingerprint:
        raise IngestError("假名化密钥与此仓库首次载入时使用的不同：同一患者将得到不同的假名。"
                          "请使用原密钥（DIP_SIM_PSEUDONYM_KEY 或 data/secret/pseudonym.key）"
                          "或换一个新的仓库文件")


def ingest_directory(con: duckdb.DuckDBPyConnection, directory: Path, pseudonym_key: str,
                     progress: Progress = print, force: bool = False,
                     mapping_file: Path | list[Path] | None = None,
                     sheets: list[str] | None = None, allow_unmapped: bool = False
                     ) -> IngestSummary:
    """Load every input file under ``directory`` as one batch; return what was done.

    Each file's tables are recognised by their headers (``mapping_file``: files adding
    column names to the built-in map; ``sheets`` limits workbooks to those sheets). A table
    that cannot be read, lacks a required field, is of no known kind, or has diagnosis,
    procedure, cost or payment columns that map to nothing (unless ``allow_unmapped``) is
    refused (listed in ``load_batches``, ``load_errors`` and the summary) and the other tables
    load. With ``force``, files loaded before are read again (their rows still deduplicate).
    """
    directory = Path(directory)
    files, skipped, ignored = find_input_files(directory)
    batch_id = dt.datetime.now().strftime("%Y%m%d%H%M%S-") + uuid.uuid4().hex[:8]
    summary = IngestSummary(batch_id, skipped=[str(p) for p in skipped],
                            ignored=[p.relative_to(directory).as_posix() for p in ignored])
    set_pseudonym_key(con, pseudonym_key)
    con.execute("SET VARIABLE batch_id = ?", [batch_id])
    # inserts need not keep the input order: lets DuckDB stream large loads in less memory
    con.execute("SET preserve_insertion_order = false")
    mapping = header_map(mapping_file)
    now = dt.datetime.now()
    # the files' fingerprints are read in a thread while earlier files load (hashlib frees the GIL)
    hasher = ThreadPoolExecutor(max_workers=1)
    hashes = {path: hasher.submit(file_sha256, path) for path in files}
    # the schema, reference tables and key check are in the batch's transaction too: a load
    # that fails or is interrupted leaves the warehouse exactly as it was
    con.execute("BEGIN TRANSACTION")
    try:
        ensure_warehouse(con)
        _check_key(con, pseudonym_key)
        loaded_hashes: dict[str, set[tuple[str, str]]] = {}  # file hash → its (kind, table label)
        earlier_versions: dict[str, set[str]] = {}  # table label → hashes of its loaded versions
        for sha, kind, table_label in con.execute(
                "SELECT file_sha256, file_kind, file_path FROM load_batches WHERE status = 'loaded'"
        ).fetchall():
            loaded_hashes.setdefault(sha, set()).add((kind, table_label))
            earlier_versions.setdefault(table_label, set()).add(sha)
        con.execute("CREATE OR REPLACE TEMP TABLE batch_candidates (kind VARCHAR, key_hash UBIGINT)")
        con.execute(f"CREATE OR REPLACE TEMP TABLE batch_hospitals AS SELECT "
                    f"{', '.join(typed_columns_sql('hospitals', {}))}, "
                    f"NULL::VARCHAR AS source_file, NULL::BIGINT AS source_row, "
                    f"NULL::BOOLEAN AS derived LIMIT 0")
        tables: list[dict] = []
        groups = _TextGroups()
        for path in files:
            label = path.relative_to(directory).as_posix()
            sha = hashes[path].result()
            base = {"file_path": label, "file_kind": None, "file_size_bytes": path.stat().st_size,
                    "file_sha256": sha, "rows_read": 0, "rows_loaded": 0, "rows_duplicate": 0,
                    "rows_rejected": 0, "rows_replaced": 0, "status": "loaded", "message": "",
                    "column_mapping": "", "encoding": "", "seconds": None,
                    "unmapped_columns": "", "ignored_columns": ""}
            if sha in loaded_hashes and not force:
                for kind, table_label in loaded_hashes[sha]:
                    tables.append(dict(base, file_path=table_label, file_kind=kind,
                                       status="unchanged",
                                       message="文件内容与已载入的版本相同，未重复载入"))
                progress(f"  {label}: 与已载入文件相同，跳过")
                continue
            started_file = time.perf_counter()
            try:
                opened = open_tables(con, path, label, mapping, groups.stage, sheets,
                                     allow_unmapped)
            except IngestError as exc:
                opened = Opened(refused=[(label, str(exc), exc.unmapped)])
            for table_label, message, unmapped in opened.refused:
                tables.append(dict(base, file_path=table_label, status="refused",
                                   message=message, unmapped=unmapped,
                                   unmapped_columns=describe_unmapped(list(unmapped))))
                summary.refused.append(message)
                con.execute("INSERT INTO load_errors VALUES (?, ?, NULL, NULL, NULL, ?, ?)",
                            [batch_id, table_label, message, "file_refused"])
                progress(f"  拒绝 {message}")
            sources = opened.sources
            # reading the file is shared by its tables (a combined 清单 holds two or three)
            read_seconds = (time.perf_counter() - started_file) / max(len(sources), 1)
            summary.notes.extend(opened.notes)
            for src in sources:
                info = dict(base, file_path=src.label, file_kind=src.kind, rows_read=src.rows,
                            column_mapping=src.mapping, encoding=src.encoding,
                            seconds=read_seconds, unmapped=src.unmapped,
                            unmapped_columns=describe_unmapped(list(src.unmapped)),
                            ignored_columns=src.ignored,
                            message=opened.layouts.get(src.label, ""),
                            derived=src.derived)
                tables.append(info)
                replaces = src.kind != "hospitals" and src.label in earlier_versions \
                    and sha not in earlier_versions[src.label]
                if src.staged:
                    groups.add(src, info, replaces)
                    continue
                started = time.perf_counter()
                _load_table(con, src)
                _finish_table(con, src.kind, src.label, info, replaces)
                info["seconds"] += time.perf_counter() - started
                progress(f"  载入 {src.label} [{KIND_ZH[src.kind]}，{src.encoding}]: "
                         f"{src.rows:,} 行 ({info['seconds']:.1f} 秒)")
            groups.type_waiting(con, progress, at_least=_TYPE_ROWS)
        groups.load(con, progress)
        summary.files = tables

        _load_hospitals(con)
        for kind in ("cases", "settlements"):
            _settle_repeats(con, kind)

        loaded, rejected = _loaded_counts(con, batch_id), _rejected_counts(con, batch_id)
        named = dict(con.execute("SELECT source_file, count(DISTINCT hospital_id) "
                                 "FROM batch_hospitals WHERE derived GROUP BY 1").fetchall())
        for info in tables:
            if info.pop("derived", False):
                # the hospitals a 结算清单 names, counted once each rather than on every row
                info["rows_read"] = named.get(info["file_path"], 0)
                info["message"] = "医院取自结算清单各行（定点医药机构代码、名称、医保结算等级）"
            if info["status"] == "loaded":
                info["rows_loaded"] = loaded.get((info["file_path"], info["file_kind"]), 0)
                info["rows_rejected"] = rejected.get(info["file_path"], 0)
                info["rows_duplicate"] = (info["rows_read"] - info["rows_loaded"]
                                          - info["rows_rejected"])
            con.execute(f"INSERT INTO load_batches BY NAME SELECT {_BATCH_COLUMNS}",
                        [batch_id, now, *(info[c] for c in _INFO_COLUMNS)])
        for table in ("batch_hospitals", "new_hospitals", "marked_hospitals", "batch_candidates"):
            con.execute(f"DROP TABLE IF EXISTS {table}")
        if any(info["status"] == "loaded" for info in tables):
            set_meta(con, "loaded_batch_id", batch_id)
        commit(con)
    except BaseException:
        rollback(con)
        raise
    finally:
        hasher.shutdown(cancel_futures=True)
    return summary
