"""Pipeline: ingest a directory of extracts, then run the quality stage (病案质控)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from dip_sim.ingest import IngestSummary, ingest_directory
from dip_sim.ingest.pseudonym import pseudonym_key
from dip_sim.policy import load_baseline
from dip_sim.quality import run_quality
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
                         recode=recode)
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
    for message in summary.notes:
        progress(f"  {message}")
    if summary.skipped:
        progress(f"  忽略的文件（不是 CSV/Excel/Parquet，或不是可识别的表）: "
                 f"{len(summary.skipped)} 个，例如 {summary.skipped[0]}")


def run_ingest(directory: Path, db_path: Path, force: bool = False, progress=print,
               quality: bool = True, mapping: Path | None = None,
               sheet: str | None = None) -> IngestSummary:
    """Load ``directory`` into the warehouse at ``db_path``, then (``quality``) run the quality stage.

    Without ``quality`` (several directories loaded in a row), run ``dip-sim quality`` after the
    last one: the simulation refuses quality tables older than the last load. ``mapping`` is a
    ``field,header`` CSV adding a vendor's column names to the built-in map.
    """
    started = time.perf_counter()
    con = connect(db_path)
    try:
        summary = ingest_directory(con, directory, pseudonym_key(), progress, force=force,
                                   mapping_file=mapping, sheet=sheet)
        print_summary(summary, con, progress)
        if quality:
            run_quality_stage(con, progress)
        else:
            progress("未运行质控：载入全部数据后请运行 dip-sim quality")
    finally:
        con.close()
    progress(f"载入完成，用时 {time.perf_counter() - started:.1f} 秒 → {db_path}")
    return summary
