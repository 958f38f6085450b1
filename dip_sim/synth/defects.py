"""Deliberate data problems, at small fixed rates, so that the quality stage has work to do.

Every rate is a share of all cases (or of the cases that have the field). Real discharge
records from Chinese hospitals show all of these: missing or free-text main diagnoses, codes
typed in lower case or with stray spaces, codes of the old national edition, a length of stay
that disagrees with the dates, cost breakdowns that do not add up and settlements that never
arrived.
"""

from __future__ import annotations

import numpy as np
import polars as pl

MISSING_MAIN_DX_RATE = 0.003  # main_dx empty
INVALID_MAIN_DX_RATE = 0.003  # main_dx not a code of any edition (INVALID_DX_CODES)
MESSY_CODE_RATE = 0.02  # main_dx / main_proc / other_dx in lower case or with surrounding spaces
OLD_CODE_RATE = 0.01  # main_dx / main_proc written as an old code (ZD_MAP / SS_MAP, old != new)
LOS_MISMATCH_RATE = 0.005  # los_days off by one or two from discharge − admit
COST_MISMATCH_RATE = 0.002  # one cost part changed, so the nine parts miss the total
MISSING_SETTLEMENT_RATE = 0.0005  # case with no settlement row

# Strings that look like diagnosis codes but are in no edition (checked in the tests).
INVALID_DX_CODES: tuple[str, ...] = ("Z99.999x999", "K35.999x999", "I99.999x999", "R99.999x999")

# How a code field is spoiled.
CODE_OK = 0
CODE_EMPTY = 1
CODE_INVALID = 2
CODE_OLD = 3
CODE_CASE = 4  # lower case (diagnoses) or upper case (procedures)
CODE_LEADING_SPACE = 5
CODE_TRAILING_SPACE = 6


def code_defects(
    n: int,
    rng: np.random.Generator,
    *,
    has_alias: np.ndarray,
    alias_share: float,
    empty_rate: float = 0.0,
    invalid_rate: float = 0.0,
) -> np.ndarray:
    """How each of ``n`` code fields is spoiled (``CODE_*``, int8).

    Old codes come only where the case's code has an old spelling (``has_alias``); since
    ``alias_share`` of the cases do, those are spoiled at ``OLD_CODE_RATE / alias_share`` so
    that about ``OLD_CODE_RATE`` of all fields hold an old code.
    """
    u = rng.random(n)
    out = np.zeros(n, dtype=np.int8)
    edge = np.cumsum([empty_rate, invalid_rate, MESSY_CODE_RATE])
    out[u < edge[0]] = CODE_EMPTY
    out[(u >= edge[0]) & (u < edge[1])] = CODE_INVALID
    messy = (u >= edge[1]) & (u < edge[2])
    out[messy] = rng.choice([CODE_CASE, CODE_LEADING_SPACE, CODE_TRAILING_SPACE], messy.sum())
    old_rate = min(1.0, OLD_CODE_RATE / alias_share) if alias_share > 0 else 0.0
    old = (u >= edge[2]) & has_alias & (rng.random(n) < old_rate)
    out[old] = CODE_OLD
    return out


def spoil_code(
    code: pl.Expr, defect: pl.Expr, alias: pl.Expr, invalid: pl.Expr, *, lower: bool
) -> pl.Expr:
    """Apply the ``CODE_*`` defect to a code column (polars expression)."""
    recased = code.str.to_lowercase() if lower else code.str.to_uppercase()
    return (
        pl.when(defect == CODE_EMPTY)
        .then(pl.lit(None, dtype=pl.String))
        .when(defect == CODE_INVALID)
        .then(invalid)
        .when(defect == CODE_OLD)
        .then(alias)
        .when(defect == CODE_CASE)
        .then(recased)
        .when(defect == CODE_LEADING_SPACE)
        .then(pl.concat_str(pl.lit(" "), code))
        .when(defect == CODE_TRAILING_SPACE)
        .then(pl.concat_str(code, pl.lit(" ")))
        .otherwise(code)
    )


def reported_los(los_days: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The length of stay as written: off by one or two at ``LOS_MISMATCH_RATE``."""
    n = len(los_days)
    off = rng.random(n) < LOS_MISMATCH_RATE
    delta = rng.choice(np.array([-2, -1, 1, 2], dtype=np.int32), n)
    shifted = los_days + delta
    shifted = np.where(shifted < 1, los_days + np.abs(delta), shifted)
    return np.where(off, shifted, los_days).astype(np.int32)


def break_part_sums(parts_fen: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Raise one of the first eight parts of ``COST_MISMATCH_RATE`` of the rows (in place).

    The total is left alone, so those rows' parts add up to more than the total (by at
    least 1 yuan).
    """
    n = len(parts_fen)
    rows = np.flatnonzero(rng.random(n) < COST_MISMATCH_RATE)
    cols = rng.integers(0, 8, len(rows))
    total = parts_fen[rows].sum(axis=1)
    bump = np.maximum(100, np.round(total * rng.uniform(0.02, 0.3, len(rows)))).astype(np.int64)
    parts_fen[rows, cols] += bump
    return parts_fen


def settlement_kept(n: int, rng: np.random.Generator) -> np.ndarray:
    """False for the ``MISSING_SETTLEMENT_RATE`` of cases whose settlement row is dropped."""
    return rng.random(n) >= MISSING_SETTLEMENT_RATE
