"""Finding input files: every CSV, Excel and Parquet file under a directory, at any depth.

A file's kind is not taken from its name: its header tells (``headers``), so hospitals may
send ``阳泉市第一人民医院/2019年结算清单.xlsx`` as well as ``cases_2019.csv``.

A directory may say which of its files are not input: ``.dipsim-ignore`` holds one pattern a
line (``fnmatch``, matched against the path relative to the directory, ``#`` for comments),
as ``.gitignore`` does; those files are listed in the summary as left out on purpose, never
read nor refused. The synthetic city's answer files (``ground_truth.csv``,
``gaming_truth.csv``) are written there this way.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

from dip_sim.ingest.errors import IngestError
from dip_sim.ingest.readers import SUFFIXES

IGNORE_FILE = ".dipsim-ignore"


def ignore_patterns(directory: Path) -> list[str]:
    """The patterns of ``directory/.dipsim-ignore`` (none when there is no such file)."""
    path = Path(directory) / IGNORE_FILE
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def add_ignored(directory: Path, name: str, why: str) -> None:
    """Add ``name`` to ``directory/.dipsim-ignore`` (with ``why`` as a comment) if not there."""
    if name in ignore_patterns(directory):
        return
    path = Path(directory) / IGNORE_FILE
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(f"# {why}\n{name}\n")


def find_input_files(directory: Path) -> tuple[list[Path], list[Path], list[Path]]:
    """The readable files under ``directory`` (sorted, so loads are repeatable), the others,
    and those its ``.dipsim-ignore`` leaves out.

    Hidden files and Excel lock files (``~$…``) are left out silently.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise IngestError(f"输入目录不存在: {directory}")
    patterns = ignore_patterns(directory)
    found: list[Path] = []
    skipped: list[Path] = []
    ignored: list[Path] = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        if path.name.startswith((".", "~$")):
            continue
        relative = path.relative_to(directory).as_posix()
        if any(fnmatch.fnmatch(relative, p) or fnmatch.fnmatch(path.name, p) for p in patterns):
            ignored.append(path)
        elif path.suffix.lower() in SUFFIXES:
            found.append(path)
        else:
            skipped.append(path)
    if not found:
        raise IngestError(f"目录 {directory} 中没有 CSV、Excel 或 Parquet 文件")
    return found, skipped, ignored
