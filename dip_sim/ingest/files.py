"""Finding input files: ``hospitals*``, ``cases*`` and ``settlements*`` as CSV or Parquet."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dip_sim.ingest.errors import IngestError

KINDS: tuple[str, ...] = ("hospitals", "cases", "settlements")
SUFFIXES: tuple[str, ...] = (".csv", ".parquet")


@dataclass(frozen=True)
class InputFile:
    """One input file and the table it feeds."""

    path: Path
    kind: str


def find_input_files(directory: Path) -> tuple[list[InputFile], list[Path]]:
    """The input files under ``directory`` (any depth), and the files that were skipped.

    A file feeds the table its name starts with (``cases_2019.csv`` → cases). Files are
    returned sorted by kind then path, so loads are repeatable.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise IngestError(f"输入目录不存在: {directory}")
    found: list[InputFile] = []
    skipped: list[Path] = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        name = path.name.lower()
        kind = next((k for k in KINDS if name.startswith(k)), None)
        if kind and path.suffix.lower() in SUFFIXES:
            found.append(InputFile(path, kind))
        elif not name.startswith("."):
            skipped.append(path)
    if not found:
        raise IngestError(
            f"目录 {directory} 中没有 hospitals*/cases*/settlements* 的 .csv 或 .parquet 文件")
    found.sort(key=lambda f: (KINDS.index(f.kind), str(f.path)))
    return found, skipped
