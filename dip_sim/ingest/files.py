"""Finding input files: every CSV, Excel and Parquet file under a directory, at any depth.

A file's kind is not taken from its name: its header tells (``headers``), so hospitals may
send ``阳泉市第一人民医院/2019年结算清单.xlsx`` as well as ``cases_2019.csv``.
"""

from __future__ import annotations

from pathlib import Path

from dip_sim.ingest.errors import IngestError
from dip_sim.ingest.readers import SUFFIXES


def find_input_files(directory: Path) -> tuple[list[Path], list[Path]]:
    """The readable files under ``directory`` (sorted, so loads are repeatable) and the others.

    Hidden files and Excel lock files (``~$…``) are left out silently.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise IngestError(f"输入目录不存在: {directory}")
    found: list[Path] = []
    skipped: list[Path] = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        if path.name.startswith((".", "~$")):
            continue
        (found if path.suffix.lower() in SUFFIXES else skipped).append(path)
    if not found:
        raise IngestError(f"目录 {directory} 中没有 CSV、Excel (.xlsx) 或 Parquet 文件")
    return found, skipped
