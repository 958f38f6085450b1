"""Costs of a stay: total, length of stay, the nine cost parts and the fund/patient split.

The total of a case is its type's base cost × the hospital's cost factor (level 3 ×1.0,
level 2 ×0.8, level 1 ×0.6, times a small hospital-specific factor) × yearly growth ×
log-normal case noise, with rare low and high outliers. The length of stay shares the case
noise, so dearer stays are longer. Amounts are computed in integer fen (分) so that the nine
parts add up exactly to the total and fund + patient = total.
"""

from __future__ import annotations

import numpy as np

from dip_sim.synth.catalog import KIND_MEDICAL, KIND_OPERATION, KIND_SURGICAL

BASE_YEAR = 2017  # year of the catalogue's base costs
COST_GROWTH_PER_YEAR = 0.05
CASE_COST_SIGMA = 0.35  # log-sd of a case's cost around its type, hospital and year
LOW_OUTLIER_RATE = 0.01  # share of cases costing ×LOW_OUTLIER_FACTOR (early leave, transfer)
LOW_OUTLIER_FACTOR = 0.3
HIGH_OUTLIER_RATE = 0.01  # share of cases costing ×2.5–6 (complications, ICU)
HIGH_OUTLIER_RANGE = (2.5, 6.0)
LEVEL_LOS_FACTOR: dict[int, float] = {3: 1.0, 2: 1.05, 1: 1.1}
MAX_LOS_DAYS = 180

# Shares of drug, consumable, exam, lab, treatment, surgery, nursing, bed, other by case kind.
PART_SHARES: dict[int, tuple[float, ...]] = {
    KIND_MEDICAL: (0.36, 0.07, 0.12, 0.16, 0.12, 0.00, 0.05, 0.05, 0.07),
    KIND_OPERATION: (0.26, 0.20, 0.10, 0.12, 0.14, 0.05, 0.04, 0.04, 0.05),
    KIND_SURGICAL: (0.24, 0.26, 0.07, 0.10, 0.08, 0.13, 0.04, 0.03, 0.05),
}
PART_SHARE_SIGMA = 0.25  # log-sd of each part's share around its kind's share

# Fund share of the total (reimbursement tiers): [employee?][level].
FUND_SHARE: dict[bool, dict[int, float]] = {
    True: {1: 0.86, 2: 0.83, 3: 0.80},  # 城镇职工
    False: {1: 0.66, 2: 0.63, 3: 0.60},  # 城乡居民
}
FUND_SHARE_SD = 0.03


def sample_totals_and_los(
    base_cost: np.ndarray,
    base_los: np.ndarray,
    cost_factor: np.ndarray,
    level: np.ndarray,
    year: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Total cost in fen (int64) and length of stay in days (int32) of each case.

    ``base_cost``/``base_los`` are the case type's, ``cost_factor``/``level`` the hospital's,
    all aligned per case.
    """
    n = len(base_cost)
    z = rng.standard_normal(n)
    u = rng.random(n)
    low = u < LOW_OUTLIER_RATE
    high = (u >= LOW_OUTLIER_RATE) & (u < LOW_OUTLIER_RATE + HIGH_OUTLIER_RATE)
    outlier = np.where(low, LOW_OUTLIER_FACTOR, 1.0)
    outlier = np.where(high, rng.uniform(*HIGH_OUTLIER_RANGE, n), outlier)

    growth = (1.0 + COST_GROWTH_PER_YEAR) ** (year - BASE_YEAR)
    total = base_cost * cost_factor * growth * np.exp(CASE_COST_SIGMA * z) * outlier
    total_fen = np.maximum(np.round(total * 100.0), 5000).astype(np.int64)

    level_los = np.select([level == 1, level == 2], [LEVEL_LOS_FACTOR[1], LEVEL_LOS_FACTOR[2]],
                          LEVEL_LOS_FACTOR[3])  # fmt: skip
    los = base_los * level_los * np.exp(0.7 * CASE_COST_SIGMA * z + rng.normal(0.0, 0.2, n))
    los = los * np.sqrt(outlier)
    los_days = np.clip(np.round(los), 1, MAX_LOS_DAYS).astype(np.int32)
    return total_fen, los_days


def split_parts(
    total_fen: np.ndarray, kind: np.ndarray, has_proc: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """The nine cost parts in fen, shape (n, 9), each row adding up exactly to its total.

    Medical cases without any procedure have no surgery part; the rounding remainder goes
    into the last part (other).
    """
    n = len(total_fen)
    kinds = (KIND_MEDICAL, KIND_OPERATION, KIND_SURGICAL)
    table = np.array([PART_SHARES[k] for k in kinds], dtype=np.float32)
    kind_row = np.where((kind == KIND_MEDICAL) & has_proc, KIND_OPERATION, kind)
    shares = rng.standard_normal((n, 9), dtype=np.float32)
    shares *= np.float32(PART_SHARE_SIGMA)
    np.exp(shares, out=shares)
    shares *= table[kind_row]
    shares /= shares.sum(axis=1, keepdims=True)
    parts = np.floor(total_fen[:, None] * shares[:, :8].astype(np.float64)).astype(np.int64)
    other = total_fen - parts.sum(axis=1)
    return np.column_stack([parts, other])


def split_fund(
    total_fen: np.ndarray, employee: np.ndarray, level: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Fund-paid and patient-paid amounts in fen; their sum is the total."""
    base = np.zeros(len(total_fen))
    for emp, by_level in FUND_SHARE.items():
        for lv, share in by_level.items():
            base[(employee == emp) & (level == lv)] = share
    ratio = np.clip(base + rng.normal(0.0, FUND_SHARE_SD, len(total_fen)), 0.3, 0.95)
    fund = np.round(total_fen * ratio).astype(np.int64)
    return fund, total_fen - fund
