"""Pipeline: ingest a directory of extracts, then run the quality stage (病案质控)."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

from dip_sim.ingest import IngestSummary, ingest_directory
from dip_sim.ingest.headers import KIND_ZH
from dip_sim.ingest.pseudonym import pseudonym_key
from dip_sim.ingest.unmapped import LOOK_OTHER, LOOKS, column_look, look_zh
from dip_sim.meta import get_meta, set_meta
from dip_sim.policy import load_baseline
from dip_sim.quality import run_quality
from dip_sim.transaction import transaction
from dip_sim.warehouse_version import check, stamp, stored_version
from pipelines.interrupt import keep
from pipelines.warehouse import connect


def run_quality_stage(con, progress=print, recode: bool = False) -> dict[str, int]:
    """Rebuild case_status and case_features with the baseline quality parameters.

    With ``recode``, the group-key parts of every loaded case are derived again from its codes
    first (after a change of ``data/reference/proc_class_override.csv``).
    """
    params = load_baseline()
    started = time.perf_counter()
    # quality rules apply to every year loaded: take the values in force today
    today = dt.date.today()
    counts = run_quality(con, params["quality.cost_breakdown_tolerance_yuan"].value_on(today),
                         params["quality.payment_split_tolerance_yuan"].value_on(today),
                         recode=recode, progress=progress)
    progress(f"质控完成 ({time.perf_counter() - started:.1f} 秒): "
             f"正常 {counts.get('ok', 0):,}，警告 {counts.get('warning', 0):,}，"
             f"严重（不入组） {counts.get('critical', 0):,}")
    return counts


_FILE_STATUS = {"loaded": "已载入", "unchanged": "未变化（跳过）", "refused": "拒绝"}
_OUTCOMES = {"value_cleared": "值无法识别（行保留，该值置空）", "row_rejected": "整行拒绝",
             "file_refused": "文件拒绝"}


def print_summary(summary: IngestSummary, con, progress=print) -> None:
    """The end-of-load summary: files, rows read, loaded, already present, rejected, by reason."""
    by_status: dict[str, int] = {}
    for f in summary.files:
        by_status[f["status"]] = by_status.get(f["status"], 0) + 1
    progress(f"批次 {summary.batch_id}: 文件 {len(summary.files)} 个（"
             + "，".join(f"{_FILE_STATUS.get(k, k)} {v}" for k, v in sorted(by_status.items()))
             + "）")
    progress(f"  读取 {summary.total('rows_read'):,} 行，新载入 {summary.total('rows_loaded'):,} 行，"
             f"已存在 {summary.total('rows_duplicate'):,} 行，拒绝 {summary.total('rows_rejected'):,} 行")
    errors = con.execute("""
        SELECT outcome, coalesce(field, ''), reason, count(*) FROM load_errors
        WHERE batch_id = ? AND outcome <> 'file_refused'
        GROUP BY ALL ORDER BY 4 DESC""", [summary.batch_id]).fetchall()
    for outcome, field, reason, n in errors:
        progress(f"  {_OUTCOMES.get(outcome, outcome)}: {field} {reason} × {n:,}（详见 load_errors）")
    for message in summary.refused:
        progress(f"  拒绝的文件: {message}")
    for line in unmapped_lines(summary.files):
        progress(f"  {line}")
    for message in summary.notes:
        progress(f"  {message}")
    if summary.skipped:
        progress(f"  忽略的文件（不是 CSV/Excel/Parquet）: "
                 f"{len(summary.skipped)} 个，例如 {summary.skipped[0]}")
    if summary.ignored:
        progress(f"  按目录中的 .dipsim-ignore 未读取: {', '.join(summary.ignored)}")


def unmapped_lines(files: list[dict]) -> list[str]:
    """One line per table with columns that map to no field, grouped by what they look like."""
    out, seen = [], set()
    for info in files:
        columns = info.get("unmapped") or ()
        if not columns or info["file_path"] in seen:
            continue
        seen.add(info["file_path"])  # a combined 清单 is listed once, not per kind
        groups: dict[str, list[str]] = {}
        for header in columns:
            groups.setdefault(column_look(header), []).append(header)
        parts = [f"{look_zh(look)} {len(headers)}（"
                 f"{', '.join(headers[:6])}{' …' if len(headers) > 6 else ''}）"
                 for look in (*LOOKS, LOOK_OTHER[0]) if (headers := groups.get(look))]
        out.append(f"未映射的列 {info['file_path']}: {'；'.join(parts)}")
    return out


def alerts_since(con, batch_id: str | None, share: float) -> list[str]:
    """The loud lines of the batches loaded after ``batch_id`` (all batches when None), each
    naming its batch: what ``dip-sim quality`` says after loads made with --skip-quality."""
    batches = [b for b, in con.execute("""
        SELECT batch_id FROM load_batches WHERE status = 'loaded'
        GROUP BY batch_id
        HAVING min(loaded_at) > coalesce((SELECT min(loaded_at) FROM load_batches
                                          WHERE batch_id = ?), TIMESTAMP '0001-01-01')
        ORDER BY min(loaded_at)""", [batch_id]).fetchall()]
    return [f"批次 {b}: {alert}" for b in batches if (alert := critical_alert(con, b, share))]


def critical_alert(con, batch_id: str, share: float) -> str:
    """The loud line when more than ``share`` of the batch's cases are critical, else "".

    The batch's cases are the case ids of its case and settlement rows; the top three
    reasons are their statuses (each case's first critical issue) with their counts.
    """
    con.execute("""
        CREATE OR REPLACE TEMP TABLE batch_verdicts AS
        SELECT s.status, s.severity, count(*) AS n
        FROM (SELECT case_id FROM cases WHERE batch_id = ?
              UNION SELECT case_id FROM settlements WHERE batch_id = ?) b
        JOIN case_status s USING (case_id) GROUP BY ALL""", [batch_id, batch_id])
    total, critical = con.execute("""
        SELECT coalesce(sum(n), 0), coalesce(sum(n) FILTER (WHERE severity = 'critical'), 0)
        FROM batch_verdicts""").fetchall()[0]
    top = con.execute("""
        SELECT coalesce(r.label_zh, v.status), v.status, v.n
        FROM batch_verdicts v LEFT JOIN quality_rules r ON r.rule = v.status
        WHERE v.severity = 'critical' ORDER BY v.n DESC, v.status LIMIT 3""").fetchall()
    con.execute("DROP TABLE batch_verdicts")
    if not total or critical <= share * total:
        return ""
    reasons = "，".join(f"{label}（{rule}）{n:,} 例" for label, rule, n in top)
    return (f"！！注意：本批 {total:,} 例中 {critical:,} 例（{critical / total:.1%}）为严重（不入组），"
            f"超过 {share:.0%}；主要原因: {reasons}。多为导出缺列或列名未识别："
            f"请用 dip-sim ingest 目录 --check 查看各列的映射")


def run_ingest(directory: Path, db_path: Path, force: bool = False, progress=print,
               quality: bool = True, mapping: Path | list[Path] | None = None,
               sheets: list[str] | None = None, allow_unmapped: bool = False) -> IngestSummary:
    """Load ``directory`` into the warehouse at ``db_path``, then (``quality``) run the quality stage.

    Without ``quality`` (several directories loaded in a row), run ``dip-sim quality`` after the
    last one: the simulation refuses quality tables older than the last load. ``mapping`` is
    one or more ``field,header`` CSVs adding a vendor's column names to the built-in map;
    ``sheets`` limits workbooks to those sheets; ``allow_unmapped`` loads tables whose
    diagnosis, procedure, cost or payment columns map to nothing. After quality, the summary's
    ``alert`` holds the loud line when too many of the batch's cases are critical.
    """
    started = time.perf_counter()
    con = connect(db_path)
    try:
        check(con, db_path)
        created = stored_version(con) is None  # no dip-sim warehouse in the file yet
        summary = ingest_directory(con, directory, pseudonym_key(), progress, force=force,
                                   mapping_file=mapping, sheets=sheets,
                                   allow_unmapped=allow_unmapped)
        # the batch is committed: an interrupt from here on keeps it (the quality stage is
        # one transaction of its own, so its previous results stay whole)
        keep("已中断：本次载入已提交，质控未完成，质控结果仍为上次的；请运行 dip-sim quality" if quality
             else "已中断：本次载入已提交；载入全部数据后请运行 dip-sim quality")
        with transaction(con):
            if created:
                stamp(con)
            record_source(con, directory, summary, mapping, sheets, allow_unmapped)
        print_summary(summary, con, progress)
        if quality:
            run_quality_stage(con, progress)
            keep("已中断：本次载入与质控均已提交")
            summary.alert = critical_alert(con, summary.batch_id, alert_share())
            if summary.alert:
                progress(summary.alert)
        else:
            progress("未运行质控：载入全部数据后请运行 dip-sim quality")
    finally:
        con.close()
    progress(f"载入完成，用时 {time.perf_counter() - started:.1f} 秒 → {db_path}")
    return summary


SOURCES_META = "ingest_sources"


def record_source(con, directory: Path, summary: IngestSummary,
                  mapping: Path | list[Path] | None, sheets: list[str] | None,
                  allow_unmapped: bool) -> None:
    """Add the loaded directory and its options to ``warehouse_meta.ingest_sources``.

    What ``dip-sim rebuild`` loads again, in the same order with the same options. A directory
    loaded again with the same options keeps its first place and gains the batch; a batch that
    loaded no file is not recorded.
    """
    if not any(f["status"] == "loaded" for f in summary.files):
        return
    mappings = [mapping] if isinstance(mapping, (str, Path)) else list(mapping or [])
    entry = {"directory": str(Path(directory).resolve()),
             "mapping": [str(Path(m).resolve()) for m in mappings],
             "sheets": list(sheets or []), "allow_unmapped": bool(allow_unmapped)}
    sources = recorded_sources(con)
    for source in sources:
        if {k: source.get(k) for k in entry} == entry:
            source["batches"].append(summary.batch_id)
            break
    else:
        sources.append({**entry, "batches": [summary.batch_id]})
    set_meta(con, SOURCES_META, json.dumps(sources, ensure_ascii=False))


def recorded_sources(con) -> list[dict]:
    """The directories recorded by :func:`record_source`, in the order first loaded."""
    text = get_meta(con, SOURCES_META)
    return json.loads(text) if text else []


def alert_share() -> float:
    """``quality.batch_critical_alert_share`` in force today (quality rules apply to every year)."""
    return load_baseline()["quality.batch_critical_alert_share"].value_on(dt.date.today())


def check_directory(directory: Path, mapping: Path | list[Path] | None = None,
                    sheets: list[str] | None = None, allow_unmapped: bool = False,
                    out=print, progress=print) -> IngestSummary:
    """Read every file of ``directory`` as ``ingest`` would, print what it found, write nothing.

    Per table: its kind, encoding and header rows, the field each column maps to, the columns
    recognised and not stored, the unmapped ones, and the first problems found (values that do
    not parse, rows without a key, a refusal); then the quality stage's verdict on the whole
    directory. The load runs in a scratch warehouse in a temporary directory, removed after,
    with a throwaway pseudonymisation key: the warehouse and the key file are not touched.
    """
    import secrets
    import tempfile

    with tempfile.TemporaryDirectory(prefix="dip-sim-check-") as scratch:
        con = connect(Path(scratch) / "check.duckdb")
        try:
            summary = ingest_directory(con, directory, secrets.token_hex(32), lambda _m: None,
                                       mapping_file=mapping, sheets=sheets,
                                       allow_unmapped=allow_unmapped)
            _print_check(summary, con, out)
            if any(f["status"] == "loaded" for f in summary.files):
                counts = run_quality_stage(con, progress)
                summary.alert = critical_alert(con, summary.batch_id, alert_share())
                out(f"质控（如载入）: 正常 {counts.get('ok', 0):,}，警告 {counts.get('warning', 0):,}，"
                    f"严重（不入组） {counts.get('critical', 0):,}")
                if summary.alert:
                    out(summary.alert)
        finally:
            con.close()
    out("检查完成：未写入仓库")
    return summary


def _print_check(summary: IngestSummary, con, out, problems_per_table: int = 5) -> None:
    """The per-table part of ``--check``'s report."""
    by_table: dict[str, list[dict]] = {}
    for info in summary.files:
        by_table.setdefault(info["file_path"], []).append(info)
    errors: dict[str, list[tuple]] = {}
    for path, row, name, value, reason in con.execute("""
            SELECT file_path, row_number, field, value, reason FROM load_errors
            WHERE batch_id = ? AND outcome <> 'file_refused'
            QUALIFY row_number() OVER (PARTITION BY file_path ORDER BY row_number, field) <= ?
            ORDER BY file_path, row_number, field""",
            [summary.batch_id, problems_per_table]).fetchall():
        errors.setdefault(path, []).append((row, name, value, reason))
    for label, infos in by_table.items():
        first = infos[0]
        if first["status"] == "refused":
            out(f"✗ {label}: 拒绝")
            out(f"    {first['message']}")
            for line in unmapped_lines(infos):
                out(f"    {line}")
            continue
        kinds = "+".join(KIND_ZH.get(i["file_kind"], i["file_kind"]) for i in infos)
        rows = max(int(i["rows_read"] or 0) for i in infos)
        layout = "；".join(m for m in dict.fromkeys(i["message"] for i in infos) if m)
        out(f"✓ {label}: {kinds}，{first['encoding']}，{rows:,} 行{'，' + layout if layout else ''}")
        out(f"    映射: {first['column_mapping']}")
        if first["ignored_columns"]:
            out(f"    已识别、不存储: {first['ignored_columns']}")
        for line in unmapped_lines(infos):
            out(f"    {line}")
        for row, name, value, reason in errors.get(label, []):
            shown = f"值 {value!r} " if value is not None else ""
            out(f"    问题: 第 {row} 行 {name or ''} {shown}{reason}")
    for note in summary.notes:
        out(f"  {note}")
