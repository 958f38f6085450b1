"""Pipeline: build a warehouse again from its recorded inputs (``dip-sim rebuild``).

What a warehouse holds is derived from its input directories, so a warehouse made by another
schema version (:mod:`dip_sim.warehouse_version`) is not altered in place: it is built anew.
From the old warehouse this reads the directories loaded, in order, with their options
(``warehouse_meta.ingest_sources``, written by every ingest), the files each batch loaded
(``load_batches``), the scenarios simulated (``runs``) and those supervised. It checks the
directories, mapping files and loaded files are still there, loads them into a new file
beside the old one, runs quality, simulates the baseline again (its recorded year, or
``--year``) and supervises it if it was. Only then is the old warehouse moved aside
(``PATH.old-<timestamp>``) and the new one put in its place: an error or Ctrl-C on the way
removes the unfinished file and leaves the old warehouse as it was.

``runs`` records each scenario's file (schema version 2 on): the scenarios of the baseline's
year whose files are still there are simulated again with it; the others are listed with the
command that simulates them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from dip_sim.ingest import ingest_directory
from dip_sim.ingest.pseudonym import key_fingerprint, pseudonym_key
from dip_sim.meta import get_meta
from dip_sim.transaction import transaction
from dip_sim.warehouse_version import SCHEMA_VERSION, stamp, stored_version
from pipelines.ingest import print_summary, record_source, recorded_sources, run_quality_stage
from pipelines.warehouse import connect

BASELINE = "baseline"
# missing files named in the refusal; the rest are counted
_MISSING_SHOWN = 10


class RebuildError(RuntimeError):
    """The warehouse cannot be rebuilt as asked (inputs missing, another key); nothing changed."""


@dataclass
class Recorded:
    """What the old warehouse says about how it was made."""

    sources: list[dict]
    loaded_files: dict[str, list[str]]  # batch id → labels of the tables it loaded
    runs: dict[str, tuple[int, list[int]]]  # scenario → (year, history years) of its last run
    supervised: set[str] = field(default_factory=set)
    key_check: str | None = None
    version: int | None = None
    scenario_files: dict[str, str] = field(default_factory=dict)  # scenario → its file


@dataclass
class Rebuilt:
    """What :func:`run_rebuild` did."""

    old: Path
    simulated: list[str] = field(default_factory=list)
    supervised: list[str] = field(default_factory=list)
    not_simulated: dict[str, int] = field(default_factory=dict)  # scenario → its year


def read_recorded(db_path: Path) -> Recorded:
    """Read, without writing, what the warehouse at ``db_path`` recorded of its making."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables").fetchall()}
        loaded: dict[str, list[str]] = {}
        if "load_batches" in tables:
            for batch, label in con.execute("""
                    SELECT batch_id, file_path FROM load_batches WHERE status = 'loaded'
                    ORDER BY batch_id, file_path""").fetchall():
                loaded.setdefault(batch, []).append(label)
        runs, files = {}, {}
        if "runs" in tables:
            # the scenario's file is recorded since schema version 2
            has_file = con.execute("SELECT count(*) FROM information_schema.columns WHERE "
                                   "table_name = 'runs' AND column_name = 'scenario_file'"
                                   ).fetchall()[0][0]
            file_column = "arg_max(scenario_file, run_at)" if has_file else "NULL"
            for scenario, year, history, file in con.execute(f"""
                    SELECT scenario, arg_max(year, run_at), arg_max(history_years, run_at),
                           {file_column}
                    FROM runs GROUP BY scenario ORDER BY scenario <> ?, scenario""",
                    [BASELINE]).fetchall():
                runs[scenario] = (int(year), [int(y) for y in (history or "").split(",") if y])
                if file:
                    files[scenario] = file
        supervised = set()
        if "supervision_hospitals" in tables:
            supervised = {s for s, in con.execute(
                "SELECT DISTINCT scenario FROM supervision_hospitals").fetchall()}
        return Recorded(recorded_sources(con), loaded, runs, supervised,
                        get_meta(con, "pseudonym_key_check"), stored_version(con), files)
    finally:
        con.close()


def missing_inputs(sources: list[dict], loaded_files: dict[str, list[str]]) -> list[str]:
    """The recorded directories, mapping files and loaded files that are no longer there."""
    missing: list[str] = []
    for source in sources:
        directory = Path(source["directory"])
        if not directory.is_dir():
            missing.append(f"目录 {directory}")
            continue
        missing += [f"映射文件 {m}" for m in source.get("mapping", []) if not Path(m).is_file()]
        labels = {label.split("#", 1)[0]  # a workbook's table is labelled file.xlsx#sheet
                  for batch in source.get("batches", []) for label in loaded_files.get(batch, [])}
        missing += [f"文件 {directory / label}" for label in sorted(labels)
                    if not (directory / label).is_file()]
    return missing


def run_rebuild(db_path: Path, year: int | None = None, directories: list[Path] | None = None,
                progress=print) -> Rebuilt:
    """Build the warehouse at ``db_path`` again from its recorded inputs; see the module doc.

    ``year`` simulates the baseline for that year instead of its recorded one (or when none is
    recorded). ``directories`` replace the recorded directories (loaded in the given order
    with the built-in column map): for a warehouse made before directories were recorded.
    """
    db_path = Path(db_path)
    if not db_path.is_file():
        raise RebuildError(f"仓库文件不存在: {db_path}")
    recorded = read_recorded(db_path)
    sources = recorded.sources
    if directories:
        sources = [{"directory": str(Path(d).resolve()), "mapping": [], "sheets": [],
                    "allow_unmapped": False, "batches": []} for d in directories]
    if not sources:
        raise RebuildError(f"仓库 {db_path} 没有记录输入目录（由较早版本的 dip-sim 载入）：请用 "
                           f"dip-sim rebuild --db {db_path} --dir 输入目录 指明（可重复给出，按载入顺序）")
    missing = missing_inputs(sources, recorded.loaded_files)
    if missing:
        shown = "；".join(missing[:_MISSING_SHOWN])
        more = f" 等 {len(missing)} 项" if len(missing) > _MISSING_SHOWN else ""
        raise RebuildError(f"无法重建 {db_path}：以下输入已不存在: {shown}{more}。"
                           "请恢复后重试（或用 --dir 指明现在的输入目录）；旧仓库未改动")
    key = pseudonym_key()
    if recorded.key_check is not None and recorded.key_check != key_fingerprint(key):
        raise RebuildError("假名化密钥与此仓库载入时使用的不同：重建后同一患者将得到不同的假名。"
                           "请使用原密钥（DIP_SIM_PSEUDONYM_KEY 或 data/secret/pseudonym.key）；旧仓库未改动")

    stamp_text = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    new = db_path.with_name(f"{db_path.name}.rebuild-{stamp_text}")
    old = db_path.with_name(f"{db_path.name}.old-{stamp_text}")
    progress(f"重建 {db_path}（数据结构版本 {recorded.version} → {SCHEMA_VERSION}），"
             f"新仓库先写入 {new}")
    result = Rebuilt(old)
    try:
        _load(new, sources, key, progress)
        _simulate(new, recorded, year, result, progress)
    except BaseException:
        for path in (new, _wal(new)):
            path.unlink(missing_ok=True)
        raise
    db_path.rename(old)
    if _wal(db_path).exists():
        _wal(db_path).rename(_wal(old))
    new.rename(db_path)
    if _wal(new).exists():
        _wal(new).rename(_wal(db_path))
    progress(f"重建完成 → {db_path}；旧仓库已移至 {old}")
    if result.not_simulated:
        progress("以下情景未重新模拟（仓库未记录其情景文件、文件已不在，或年度与基线不同）: " + "，".join(
            f"{name}（{y} 年）" for name, y in result.not_simulated.items()))
        progress(f"请运行 dip-sim simulate --db {db_path} --year 年度 --scenario 情景文件.yaml")
    return result


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _load(new: Path, sources: list[dict], key: str, progress) -> None:
    """Ingest every source into the new warehouse ``new``, run quality, stamp the version."""
    con = connect(new)
    try:
        for source in sources:
            directory = Path(source["directory"])
            progress(f"载入 {directory}")
            summary = ingest_directory(con, directory, key, progress,
                                       mapping_file=[Path(m) for m in source.get("mapping", [])]
                                       or None, sheets=source.get("sheets") or None,
                                       allow_unmapped=bool(source.get("allow_unmapped")))
            print_summary(summary, con, progress)
            with transaction(con):
                record_source(con, directory, summary, source.get("mapping"),
                              source.get("sheets"), bool(source.get("allow_unmapped")))
        run_quality_stage(con, progress)
        with transaction(con):
            stamp(con)
    finally:
        con.close()


def _simulate(new: Path, recorded: Recorded, year: int | None, result: Rebuilt,
              progress) -> None:
    """Simulate the baseline again (and supervise it if it was); note the other scenarios."""
    from pipelines.simulate import run_simulate
    from pipelines.supervise import run_supervise

    recorded_year, history = recorded.runs.get(BASELINE, (None, []))
    if year is None:
        year = recorded_year
    if year is None:
        result.not_simulated = {name: y for name, (y, _h) in recorded.runs.items()
                                if name != BASELINE}
        progress("未模拟：旧仓库中没有基线的模拟记录（可用 --year 指定年度）")
        return
    # the scenarios of the baseline's year whose files are still there run with it
    again = [name for name, (y, _h) in recorded.runs.items() if name != BASELINE and y == year
             and name in recorded.scenario_files and Path(recorded.scenario_files[name]).is_file()]
    result.not_simulated = {name: y for name, (y, _h) in recorded.runs.items()
                            if name != BASELINE and name not in again}
    run_simulate(new, year, history if year == recorded_year and history else None,
                 scenario_files=[Path(recorded.scenario_files[name]) for name in again],
                 progress=progress)
    result.simulated += [BASELINE, *again]
    supervised = [name for name in [BASELINE, *again] if name in recorded.supervised]
    if supervised:
        run_supervise(new, supervised, progress=progress)
        result.supervised += supervised
