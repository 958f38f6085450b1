"""Read the public code tables in ``data/reference`` that the generator draws its codes from.

Everything is read once and cached: ICD-10 医保版 2.0 diagnoses (``ZD_INFO``), ICD-9-CM-3
医保版 2.0 procedures (``SS_INFO``), the operating-room procedure list (``SS_VALID``), the
old-to-new code maps (``ZD_MAP``/``SS_MAP``) and the CHS-DRG 1.1 MDC/ADRG code lists. See
``data/reference/PROVENANCE.md`` for where each file comes from.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# data/reference at the root of the project tree (…/dip_sim/synth/codes.py → parents[2]).
REFERENCE_DIR = Path(__file__).resolve().parents[2] / "data" / "reference"
CHS_CODES_DIR = REFERENCE_DIR / "chs_codes"
CHS_DRG_DIR = REFERENCE_DIR / "chs_drg_11"


def canonical_code(code: str) -> str:
    """Return the canonical spelling of a code: trimmed, upper case, with a lower-case ``x``.

    ``" k35.300X001 "`` becomes ``"K35.300x001"``, the spelling the 医保版 2.0 tables use.
    """
    return code.strip().upper().replace("X", "x")


def _read_code_names(path: Path) -> dict[str, str]:
    """Read a ``code name`` file (split on the first space; the name may hold spaces)."""
    out: dict[str, str] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if not line:
                continue
            code, _, name = line.partition(" ")
            out[code] = name
    return out


def _read_pairs(path: Path) -> list[tuple[str, str]]:
    """Read an ``old new`` file into a list of pairs."""
    with path.open(encoding="utf-8") as fh:
        return [tuple(line.split()[:2]) for line in fh if line.strip()]  # type: ignore[misc]


def _read_tsv(path: Path) -> list[dict[str, str]]:
    """Read a tab-separated file with a header row."""
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


@dataclass(frozen=True)
class CodeTables:
    """The reference tables the generator needs, as plain Python containers."""

    dx_names: dict[str, str]  # ZD_INFO: diagnosis code → name
    proc_names: dict[str, str]  # SS_INFO: procedure code → name
    or_procs: frozenset[str]  # SS_VALID: operating-room procedures
    dx_old_by_new: dict[str, tuple[str, ...]]  # ZD_MAP rows old != new, old not a current code
    proc_old_by_new: dict[str, tuple[str, ...]]  # SS_MAP likewise
    mdc_dx: dict[str, tuple[str, ...]]  # MDC letter → main diagnoses opening it
    adrg_codes: dict[str, dict[str, tuple[str, ...]]]  # ADRG → role (dx/op/op_secondary) → codes
    adrg_order: tuple[str, ...]  # ADRGs in the order of mdc_adrg_order.tsv


def _old_by_new(
    pairs: list[tuple[str, str]], current: dict[str, str]
) -> dict[str, tuple[str, ...]]:
    """Group the old spellings of each current code, keeping only old codes no longer current."""
    grouped: dict[str, list[str]] = {}
    for old, new in pairs:
        if old != new and old not in current and new in current:
            grouped.setdefault(new, []).append(old)
    return {new: tuple(sorted(olds)) for new, olds in grouped.items()}


@lru_cache(maxsize=1)
def load_code_tables() -> CodeTables:
    """Read (once) every reference table the generator uses from :data:`REFERENCE_DIR`."""
    dx_names = _read_code_names(CHS_CODES_DIR / "ZD_INFO.dat")
    proc_names = _read_code_names(CHS_CODES_DIR / "SS_INFO.dat")
    or_procs = frozenset(_read_code_names(CHS_CODES_DIR / "SS_VALID.dat"))

    mdc_dx: dict[str, list[str]] = {}
    for row in _read_tsv(CHS_DRG_DIR / "mdc_main_dx.tsv"):
        if row["dx_code"] in dx_names:
            mdc_dx.setdefault(row["mdc"], []).append(row["dx_code"])

    adrg_codes: dict[str, dict[str, list[str]]] = {}
    for row in _read_tsv(CHS_DRG_DIR / "adrg_codes.tsv"):
        known = proc_names if row["role"].startswith("op") else dx_names
        if row["code"] in known:
            adrg_codes.setdefault(row["adrg"], {}).setdefault(row["role"], []).append(row["code"])

    adrg_order = tuple(row["adrg"] for row in _read_tsv(CHS_DRG_DIR / "mdc_adrg_order.tsv"))

    return CodeTables(
        dx_names=dx_names,
        proc_names=proc_names,
        or_procs=or_procs,
        dx_old_by_new=_old_by_new(_read_pairs(CHS_CODES_DIR / "ZD_MAP.dat"), dx_names),
        proc_old_by_new=_old_by_new(_read_pairs(CHS_CODES_DIR / "SS_MAP.dat"), proc_names),
        mdc_dx={k: tuple(dict.fromkeys(v)) for k, v in mdc_dx.items()},
        adrg_codes={
            adrg: {role: tuple(dict.fromkeys(codes)) for role, codes in roles.items()}
            for adrg, roles in adrg_codes.items()
        },
        adrg_order=adrg_order,
    )
