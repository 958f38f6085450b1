"""Generate a synthetic city: ``hospitals``, and ``cases_{year}``, ``settlements_{year}``.

Everything is vectorised (numpy for numbers, polars for strings) and generated one year at a
time, so 2.5 million cases a year fit comfortably in memory. Each year draws from its own
random stream (``seed``, ``year``), so the same seed gives byte-identical files and a year's
files do not depend on which other years are generated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import polars as pl

from dip_sim.schema import CASE_COLUMNS, HOSPITAL_COLUMNS, SETTLEMENT_COLUMNS, InputColumn
from dip_sim.synth import defects, national
from dip_sim.synth.catalog import RULE_NEWBORN, CaseTypes, load_catalog
from dip_sim.synth.codes import load_code_tables
from dip_sim.synth.costs import sample_totals_and_los, split_fund, split_parts
from dip_sim.synth.dates import sample_discharge_dates, settle_dates
from dip_sim.synth.extract import write_hospital_list, write_year
from dip_sim.synth.hospitals import Hospitals, load_hospitals
from dip_sim.synth.other_dx import (
    MAX_OTHER_DX,
    POOL_ADULT,
    POOL_CHILD,
    POOL_NEWBORN,
    POOL_YOUNG,
    sample_other_dx,
)
from dip_sim.synth.patients import patient_ids, sample_demographics, sample_insurance
from dip_sim.synth.plant import plant_typed_frames, write_truth

DEFAULT_YEARS: tuple[int, ...] = (2017, 2018, 2019, 2020)
DEFAULT_CASES_PER_YEAR = 200_000
DEFAULT_SEED = 20200101
FORMATS = ("csv", "parquet", "extract", "national")

# Share of cases with one extra, random non-OR procedure (87–99): rare grouping keys.
EXTRA_PROC_RATE = 0.05
# Share of a family's cases coded with its first (most usual) code; the rest spread evenly.
PRIMARY_DX_SHARE = 0.7
# Discharge disposition (离院方式): 2 transfer, 3 community, 4 against advice, 9 other;
# 5 death depends on age; the rest 1 (医嘱离院).
DISPOSITION_RATES: dict[int, float] = {2: 0.015, 3: 0.005, 4: 0.03, 9: 0.01}

_PART_COLUMNS = (
    "drug_yuan", "consumable_yuan", "exam_yuan", "lab_yuan", "treatment_yuan",
    "surgery_yuan", "nursing_yuan", "bed_yuan", "other_yuan",
)  # fmt: skip
_POLARS_TYPES = {"VARCHAR": pl.String, "INTEGER": pl.Int32, "DOUBLE": pl.Float64, "DATE": pl.Date}


def generate(
    out_dir: Path,
    years: Sequence[int] = DEFAULT_YEARS,
    cases_per_year: int = DEFAULT_CASES_PER_YEAR,
    seed: int = DEFAULT_SEED,
    file_format: str = "csv",
    progress: Callable[[str], None] | None = None,
    plant_rate: float = 0.0,
    regions: int = 1,
) -> dict[str, int]:
    """Write a synthetic Yangquan into ``out_dir`` and return the number of rows written.

    Files: ``hospitals.{csv,parquet}``, and for each year ``cases_{year}`` and
    ``settlements_{year}``. CSV is UTF-8 with a header row, empty for missing values and
    YYYY-MM-DD dates. Format ``extract`` writes the same rows as hospitals send them, per
    hospital (``dip_sim.synth.extract``); ``national`` as the national 医疗保障基金结算清单
    (``dip_sim.synth.national``). With ``plant_rate`` (Parquet and extract; CSV is
    planted after writing, ``plant.plant_problems``), known problems are planted before
    writing and ``ground_truth.csv`` lists them. The result is ``{"hospitals": …, "cases": …,
    "settlements": …}``. With ``regions`` above 1, a province of that many cities, each a
    pooling region (:mod:`dip_sim.synth.province`; CSV or Parquet, ``cases_per_year`` the
    cities' mean).
    """
    if regions > 1:
        from dip_sim.synth.province import generate_province

        if plant_rate:
            raise ValueError("多统筹区的合成数据不支持植入问题（--plant-rate）")
        return generate_province(out_dir, regions, years, cases_per_year, seed, file_format,
                                 progress)
    if regions < 1:
        raise ValueError("regions must be at least 1")
    if file_format not in FORMATS:
        raise ValueError(f"file_format must be one of {FORMATS}, not {file_format!r}")
    if cases_per_year < 1:
        raise ValueError("cases_per_year must be at least 1")
    if seed < 0:
        raise ValueError("seed must be a non-negative integer")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda _msg: None)

    hospitals = load_hospitals()
    types = load_catalog()
    if file_format == "extract":
        write_hospital_list(hospitals.to_frame(), out_dir)
    elif file_format == "national":
        pass  # the 结算清单 names each hospital on its rows
    else:
        _write(hospitals.to_frame(), out_dir / f"hospitals.{file_format}", HOSPITAL_COLUMNS)
    counts = {"hospitals": len(hospitals), "cases": 0, "settlements": 0}
    say(f"hospitals: {len(hospitals)}")

    truth: list[dict] = []
    for year in sorted({int(y) for y in years}):
        cases, settlements = generate_year(year, cases_per_year, seed, hospitals, types)
        if plant_rate and file_format != "csv":
            cases, settlements, planted = plant_typed_frames(
                cases, settlements, plant_rate, np.random.default_rng([seed, year, 7]))
            truth.extend(planted)
        if file_format == "extract":
            write_year(cases, settlements, hospitals.to_frame(), year, out_dir)
        elif file_format == "national":
            national.write_year(cases, settlements, hospitals.to_frame(), year, out_dir)
        else:
            write_year_files(cases, settlements, out_dir, year, file_format)
        counts["cases"] += cases.height
        counts["settlements"] += settlements.height
        say(f"{year}: {cases.height} cases, {settlements.height} settlements")
        del cases, settlements  # free this year's frames before drawing the next
    if plant_rate and file_format != "csv":
        write_truth(truth, out_dir)
    return counts


@dataclass(frozen=True)
class _Pools:
    """Per-generation lookup arrays derived from the catalogue and hospitals."""

    combo_of_hospital: np.ndarray  # hospital → index of its (level, profile) combination
    combo_cdf: tuple[np.ndarray, ...]  # cumulative type frequencies per combination
    hospital_cdf: np.ndarray
    extra_procs: pl.Series  # non-OR procedures 87–99 for the random extra procedure


@lru_cache(maxsize=1)
def _pools() -> _Pools:
    return _make_pools(load_hospitals())


# a province's cities (dip_sim.synth.province): their pools, by hospital list
_CITY_POOLS: dict[tuple, _Pools] = {}


def _pools_of(hospitals: Hospitals) -> _Pools:
    """The lookup arrays of ``hospitals`` (the city's own list, or a province city's)."""
    if hospitals is load_hospitals():
        return _pools()
    key = (hospitals.hospital_id, hospitals.volume_share.tobytes())
    if key not in _CITY_POOLS:
        _CITY_POOLS[key] = _make_pools(hospitals)
    return _CITY_POOLS[key]


def _make_pools(hospitals: Hospitals) -> _Pools:
    types = load_catalog()
    pairs = [(int(lv), pr) for lv, pr in zip(hospitals.level, hospitals.profile, strict=True)]
    combos = sorted(set(pairs))
    combo_of_hospital = np.array([combos.index(pair) for pair in pairs])
    tables = load_code_tables()
    extra = sorted(
        c for c in tables.proc_names
        if c[:2].isdigit() and 87 <= int(c[:2]) <= 99 and c not in tables.or_procs
    )  # fmt: skip
    return _Pools(
        combo_of_hospital=combo_of_hospital,
        combo_cdf=tuple(np.cumsum(types.profile_weights(lv, pr)) for lv, pr in combos),
        hospital_cdf=np.cumsum(hospitals.volume_share),
        extra_procs=pl.Series("extra", extra, dtype=pl.String),
    )


def _draw(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw of indices for uniforms ``u``."""
    return np.minimum(np.searchsorted(cdf, u * cdf[-1], side="right"), len(cdf) - 1)


def generate_year(
    year: int, n: int, seed: int, hospitals: Hospitals, types: CaseTypes
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The cases and settlements frames of one year (columns as in ``dip_sim.schema``).

    Rows come in case-id order: by hospital, then discharge date.
    """
    rng = np.random.default_rng([seed, year])
    pools = _pools_of(hospitals)

    # Where and when, put in case-id order before anything else is drawn.
    h = _draw(pools.hospital_cdf, rng.random(n))
    discharge = sample_discharge_dates(year, n, rng)
    order = np.lexsort((discharge, h))
    h, discharge = h[order], discharge[order]
    seq = np.arange(n) - np.searchsorted(h, np.arange(len(hospitals)))[h] + 1
    level = hospitals.level[h]

    # What: the case type, by the hospital's level and case mix.
    combo = pools.combo_of_hospital[h]
    t = np.zeros(n, dtype=np.int64)
    for k, cdf in enumerate(pools.combo_cdf):
        rows = np.flatnonzero(combo == k)
        t[rows] = _draw(cdf, rng.random(len(rows)))

    # Who, how long, how much.
    demo = sample_demographics(types, t, discharge, rng)
    age = demo["age_years"]
    employee = sample_insurance(age, rng)
    total_fen, los = sample_totals_and_los(
        types.base_cost[t], types.base_los[t], hospitals.cost_factor[h], level, year, rng
    )
    admit = discharge - los.astype("timedelta64[D]")

    codes = _case_codes(types, t, age, rng)
    extra_on = codes.get_column("_extra").is_not_null().to_numpy()
    has_proc = types.main_proc.gather(t).is_not_null().to_numpy() | extra_on

    cases = pl.DataFrame(
        {
            "hospital_id": pl.Series(list(hospitals.hospital_id)).gather(h),
            "_seq": seq,
            "patient_id": patient_ids(demo["sex"], demo["birth_year"], n, rng),
            "sex": demo["sex"].astype(np.int32),
            "age_years": age.astype(np.int32),
            "age_days": pl.Series(demo["age_days"].astype(np.int32)).set(
                pl.Series(demo["age_days"] < 0), None
            ),
            "birth_weight_g": pl.Series(demo["birth_weight_g"], nan_to_null=True),
            "insurance_type": pl.Series(["resident", "employee"]).gather(employee.astype(np.int8)),
            "admit_date": admit,
            "discharge_date": discharge,
            "los_days": defects.reported_los(los, rng),
            "discharge_disposition": _disposition(age, rng),
        }
    ).hstack(codes)
    # ICU days (重症监护天数), from what is drawn already (no draw of its own, so the rest of the
    # city is the same with or without it): half the stay of a death, a quarter of a stay of
    # 20 days or more; none otherwise
    los_col = pl.col("los_days")
    cases = cases.with_columns(
        icu_days=pl.when(pl.col("discharge_disposition") == 5)
        .then(pl.min_horizontal(los_col, 1 + los_col // 2))
        .when(los_col >= 20).then(los_col // 4)
        .otherwise(None).cast(pl.Int32),
        case_id=pl.concat_str(
            pl.col("hospital_id"), pl.lit(f"-{year}-"), pl.col("_seq").cast(pl.String).str.zfill(7)
        )
    )

    parts = defects.break_part_sums(split_parts(total_fen, types.kind[t], has_proc, rng), rng)
    fund, patient = split_fund(total_fen, employee, level, rng)
    settled = settle_dates(discharge, year, rng)
    kept = defects.settlement_kept(n, rng)
    settlements = pl.DataFrame(
        {
            "case_id": cases.get_column("case_id"),
            "settle_date": settled,
            "total_cost_yuan": total_fen / 100.0,
            "fund_paid_yuan": fund / 100.0,
            "patient_paid_yuan": patient / 100.0,
            **{name: parts[:, j] / 100.0 for j, name in enumerate(_PART_COLUMNS)},
        }
    ).filter(pl.Series(kept))
    return _conform(cases, CASE_COLUMNS), _conform(settlements, SETTLEMENT_COLUMNS)


def _case_codes(
    types: CaseTypes, t: np.ndarray, age: np.ndarray, rng: np.random.Generator
) -> pl.DataFrame:
    """``main_dx, other_dx, main_proc, other_procs`` of each case, with their defects.

    Also returns ``_extra``, the random extra procedure (null for most cases).
    """
    n = len(t)
    pools = _pools()

    # Main diagnosis: the family's usual code, another of the family, or a sibling.
    fam = rng.random(n)
    size = types.dx_size[t]
    k = np.where(
        (fam < PRIMARY_DX_SHARE) | (size == 1),
        0,
        1 + ((fam - PRIMARY_DX_SHARE) / (1 - PRIMARY_DX_SHARE) * (size - 1)).astype(np.int64),
    )
    main_dx = types.dx_codes.gather(types.dx_offset[t] + np.minimum(k, size - 1))
    sib_size = types.sib_size[t]
    sib_on = (rng.random(n) < types.sibling_share[t]) & (sib_size > 0)
    sib_k = (rng.random(n) * np.maximum(sib_size, 1)).astype(np.int64)
    sib_dx = types.sib_codes.gather(np.where(sib_on, types.sib_offset[t] + sib_k, 0))
    main_dx = main_dx.zip_with(pl.Series(~sib_on), sib_dx)

    # Secondary diagnoses: more with age.
    newborn = types.rule[t] == RULE_NEWBORN
    pool = np.select(
        [newborn, age < 15, age < 45], [POOL_NEWBORN, POOL_CHILD, POOL_YOUNG], POOL_ADULT
    )
    lam = np.where(newborn, 0.8, np.where(age < 15, 0.4, 0.3 + np.maximum(age - 30, 0) / 15.0))
    other_dx = sample_other_dx(pool, np.minimum(rng.poisson(lam), MAX_OTHER_DX), rng)

    # Procedures: the type's, sometimes its variant, rarely a random extra one.
    type_proc = types.main_proc.gather(t)
    has_type_proc = type_proc.is_not_null().to_numpy()
    variant_on = rng.random(n) < types.variant_rate[t]
    extra_on = rng.random(n) < EXTRA_PROC_RATE
    extra_idx = rng.integers(0, pools.extra_procs.len(), n)

    # Defects.
    dx_alias = types.dx_alias.gather(t)
    proc_alias = types.proc_alias.gather(t)
    has_dx_alias = dx_alias.is_not_null().to_numpy()
    has_proc_alias = proc_alias.is_not_null().to_numpy()
    dx_defect = defects.code_defects(
        n, rng, has_alias=has_dx_alias, alias_share=float(has_dx_alias.mean()),
        empty_rate=defects.MISSING_MAIN_DX_RATE, invalid_rate=defects.INVALID_MAIN_DX_RATE,
    )  # fmt: skip
    proc_defect = defects.code_defects(
        n, rng, has_alias=has_proc_alias,
        alias_share=float(has_proc_alias.sum() / max(1, has_type_proc.sum())),
    )  # fmt: skip
    invalid_pick = rng.integers(0, len(defects.INVALID_DX_CODES), n).astype(np.int8)
    other_dx_messy = rng.random(n) < defects.MESSY_CODE_RATE

    frame = pl.DataFrame(
        {
            "_dx": main_dx,
            "_dx_alias": dx_alias,
            "_dx_defect": dx_defect,
            "_dx_invalid": invalid_pick,
            "_other_dx": other_dx,
            "_other_dx_messy": other_dx_messy,
            "_type_proc": type_proc,
            "_type_others": types.other_procs.gather(t),
            "_variant": types.variant_proc.gather(t).set(pl.Series(~variant_on), None),
            "_extra": pools.extra_procs.gather(extra_idx).set(pl.Series(~extra_on), None),
            "_proc_alias": proc_alias,
            "_proc_defect": proc_defect,
        }
    )
    invalid = pl.col("_dx_invalid").replace_strict(
        dict(enumerate(defects.INVALID_DX_CODES)), return_dtype=pl.String
    )
    proc, extra = pl.col("_type_proc"), pl.col("_extra")
    other_procs = pl.concat_str(
        pl.col("_type_others"),
        pl.col("_variant"),
        pl.when(proc.is_not_null()).then(extra),
        separator=";",
        ignore_nulls=True,
    )
    return frame.select(
        main_dx=defects.spoil_code(
            pl.col("_dx"), pl.col("_dx_defect"), pl.col("_dx_alias"), invalid, lower=True
        ),
        other_dx=pl.when(pl.col("_other_dx_messy"))
        .then(pl.col("_other_dx").str.to_lowercase())
        .otherwise(pl.col("_other_dx")),
        main_proc=pl.when(proc.is_not_null())
        .then(defects.spoil_code(proc, pl.col("_proc_defect"), pl.col("_proc_alias"), proc,
                                 lower=False))  # fmt: skip
        .otherwise(extra),
        other_procs=pl.when(other_procs != "").then(other_procs),
        _extra=extra,
    )


def _disposition(age: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """离院方式: mostly 1; deaths (5) rise with age; a few transfers (2, 3), 4 and 9."""
    p_death = 0.002 + 0.006 * (age >= 60) + 0.012 * (age >= 75)
    u = rng.random(len(age))
    out = np.ones(len(age), dtype=np.int32)
    edge = p_death.copy()
    out[u < edge] = 5
    for code, rate in DISPOSITION_RATES.items():
        out[(u >= edge) & (u < edge + rate)] = code
        edge = edge + rate
    return out


def _conform(frame: pl.DataFrame, columns: tuple[InputColumn, ...]) -> pl.DataFrame:
    """Select the contract's columns the generator makes, in order, cast to the contract's types.

    The optional fields it does not simulate (中医诊断, 呼吸机使用时长 …) are left out of the
    files rather than written empty.
    """
    return frame.select(pl.col(c.name).cast(_POLARS_TYPES[c.sql_type]) for c in columns
                        if c.name in frame.columns)


def write_year_files(cases: pl.DataFrame, settlements: pl.DataFrame, out_dir: Path, year: int,
                     file_format: str) -> None:
    """Write one year's ``cases_{year}`` and ``settlements_{year}`` (CSV or Parquet)."""
    _write(cases, out_dir / f"cases_{year}.{file_format}", CASE_COLUMNS)
    _write(settlements, out_dir / f"settlements_{year}.{file_format}", SETTLEMENT_COLUMNS)


def _write(frame: pl.DataFrame, path: Path, columns: tuple[InputColumn, ...]) -> None:
    """Write one input file (CSV or Parquet by the path's suffix)."""
    if path.suffix == ".parquet":
        frame.write_parquet(path, compression="zstd", statistics=True)
        return
    # Whole grams read better than 3250.00 in a CSV.
    text = frame.with_columns(
        pl.col(c.name).cast(pl.Int64) for c in columns if c.name == "birth_weight_g"
    )
    text.write_csv(path, null_value="", date_format="%Y-%m-%d", float_precision=2)
