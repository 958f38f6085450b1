"""Patients: sex, age, newborn birth weight, insurance scheme and a synthetic patient id.

Sex and age follow the case type: pregnancy (chapter O) and female pelvic disease (N70–N98)
only for women aged 15–50, male genital disease (N40–N51, C61) only for men, newborn disease
(chapter P) only at age 0 with 0–28 days and a birth weight of 1500–4500 g.

A patient id is ``YQ`` + birth year + sex digit + an 11-digit scrambled slot number (18
characters, clearly not an identity-card number). Cases of the same sex and birth year draw
their slot from a pool sized by the yearly volume, so some patients come back, more often
the elderly, and a returning patient keeps the same sex and birth year.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from dip_sim.synth.catalog import (
    RULE_ANY,
    RULE_FEMALE,
    RULE_FEMALE_REPRO,
    RULE_MALE,
    RULE_NEWBORN,
    CaseTypes,
)

# Patient slots per sex and birth year, per case of the yearly volume: the smaller, the more
# readmissions (0.05 gives about one patient in five with two or more stays over four years).
PATIENT_SLOTS_PER_CASE = 0.05
# Share of patients insured as employees (城镇职工), by age group; the rest are residents.
EMPLOYEE_SHARE_ADULT = 0.44
EMPLOYEE_SHARE_CHILD = 0.08  # dependants rarely have the employee scheme

_SLOT_MULTIPLIER = 2654435761  # odd, not a multiple of 5: a bijection modulo 10**11
_SLOT_MODULUS = 10**11


def sample_demographics(
    types: CaseTypes, t: np.ndarray, discharge: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Sex, age and birth weight of each case from its type ``t``.

    Returns ``sex`` (1 male, 2 female), ``age_years``, ``age_days`` (-1 when age ≥ 1 year),
    ``birth_weight_g`` (NaN except newborns) and ``birth_year``.
    """
    n = len(t)
    rule = types.rule[t]
    newborn = rule == RULE_NEWBORN

    u = rng.random(n)
    infant_share = np.where(rule == RULE_ANY, types.infant_share[t], 0.0)
    child_share = np.where(rule == RULE_ANY, types.child_share[t], 0.0)
    infant = ~newborn & (u < infant_share)
    child = ~newborn & ~infant & (u < infant_share + child_share)

    adult_age = rng.normal(types.age_mean[t], types.age_sd[t])
    lo = np.where(rule == RULE_FEMALE_REPRO, 15.0, np.where(rule == RULE_MALE, 18.0, 15.0))
    hi = np.where(rule == RULE_FEMALE_REPRO, 50.99, 99.99)
    age = np.floor(np.clip(adult_age, lo, hi))
    age = np.where(child, rng.integers(1, 15, n), age)
    age = np.where(infant | newborn, 0, age).astype(np.int16)

    newborn_days = np.minimum(rng.geometric(0.22, n) - 1, 28)
    infant_days = rng.integers(29, 365, n)
    age_days = np.where(newborn, newborn_days, np.where(infant, infant_days, -1)).astype(np.int16)

    male_share = np.select(
        [rule == RULE_MALE, (rule == RULE_FEMALE) | (rule == RULE_FEMALE_REPRO)],
        [1.0, 0.0],
        types.male_share[t],
    )
    sex = np.where(rng.random(n) < male_share, 1, 2).astype(np.int8)

    weight = np.clip(rng.normal(types.birth_weight_mean[t], 420.0), 1500.0, 4500.0)
    birth_weight = np.where(newborn, np.round(weight / 10.0) * 10.0, np.nan)

    birth_day = discharge - np.maximum(age_days, 0).astype("timedelta64[D]")
    birth_year = birth_day.astype("datetime64[Y]").astype(np.int64) + 1970 - age
    return {
        "sex": sex,
        "age_years": age,
        "age_days": age_days,
        "birth_weight_g": birth_weight,
        "birth_year": birth_year.astype(np.int16),
    }


def sample_insurance(age_years: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """True for employee insurance (城镇职工), False for resident insurance (城乡居民)."""
    share = np.where(age_years >= 18, EMPLOYEE_SHARE_ADULT, EMPLOYEE_SHARE_CHILD)
    share = np.where(age_years == 0, 0.0, share)
    return rng.random(len(age_years)) < share


def patient_ids(
    sex: np.ndarray, birth_year: np.ndarray, cases_per_year: int, rng: np.random.Generator
) -> pl.Series:
    """Synthetic 18-character patient ids, shared by some cases of the same sex and birth year."""
    n_slots = max(100, round(cases_per_year * PATIENT_SLOTS_PER_CASE))
    slot = rng.integers(0, n_slots, len(sex), dtype=np.int64)
    scrambled = (slot * _SLOT_MULTIPLIER + 12345) % _SLOT_MODULUS
    frame = pl.DataFrame({"y": birth_year, "s": sex, "k": scrambled})
    return frame.select(
        pl.concat_str(
            pl.lit("YQ"),
            pl.col("y").cast(pl.String).str.zfill(4),
            pl.col("s").cast(pl.String),
            pl.col("k").cast(pl.String).str.zfill(11),
        ).alias("patient_id")
    ).to_series()
