"""The six behaviours: each takes the picked rows of a year's features and returns its edits,
new records and truth (``_Planted``)."""

from __future__ import annotations

import numpy as np
import polars as pl

from dip_sim.synth.catalog import KIND_MEDICAL
from dip_sim.synth.costs import (
    BASE_YEAR,
    CASE_COST_SIGMA,
    COST_GROWTH_PER_YEAR,
    split_fund,
    split_parts,
)
from dip_sim.synth.dates import sample_discharge_dates, settle_dates
from dip_sim.synth.gaming.records import (
    _AMOUNTS,
    _PARTS,
    LONG_STAY_FACTOR,
    LOW_STANDARD_COST_SHARE,
    LOW_STANDARD_LOS,
    SEVERITY_CODES,
    SPLIT_GAP_DAYS,
    _amounts,
    _CaseIds,
    _dates,
    _ints,
    _Planted,
    _Reference,
    _scaled,
    _settlement_text,
    _truth,
    _yuan,
    richer_combinations,
)
from dip_sim.synth.hospitals import LEVEL_COST_FACTOR

# ---------------------------------------------------------------------------------------------
# The behaviours: each takes the picked rows of the features frame


def _split_admission(sub: pl.DataFrame, year: int, rng: np.random.Generator, ids: _CaseIds,
                     ref: _Reference, settlements: pl.DataFrame) -> _Planted:
    n = sub.height
    admit = sub.get_column("_admit").to_numpy().astype("datetime64[D]")
    discharge = sub.get_column("_discharge").to_numpy().astype("datetime64[D]")
    los = sub.get_column("_los").to_numpy().astype(np.int64)
    first_los = rng.integers(1, los)  # the first stay: 1 … los − 1 days
    gap = rng.integers(SPLIT_GAP_DAYS[0], SPLIT_GAP_DAYS[1] + 1, n)
    first_out = admit + first_los.astype("timedelta64[D]")
    second_in = first_out + gap.astype("timedelta64[D]")
    second_out = discharge + gap.astype("timedelta64[D]")
    settled = sub.get_column("_settle").to_numpy().astype("datetime64[D]")
    lag = np.where(np.isnat(settled), 0, (settled - discharge).astype(np.int64)).clip(0, 3)
    year_end = np.datetime64(f"{year}-12-31")

    amounts = _amounts(sub)
    total = amounts[:, 0]
    first_total = np.clip(np.floor(total * first_los / los + 0.5).astype(np.int64), 1, total - 1)
    first = np.column_stack([first_total, _scaled(amounts[:, 1:3], first_total),
                             _scaled(amounts[:, 3:], first_total)])
    second = amounts - first

    icu_null = sub.get_column("_icu").is_null().to_numpy()
    icu = sub.get_column("_icu").fill_null(0).to_numpy().astype(np.int64)
    first_icu = np.minimum(icu, first_los)
    second_icu = np.minimum(icu - first_icu, los - first_los)

    case_id = sub.get_column("case_id")
    second_id = ids.take(sub.get_column("hospital_id"))
    case_edits = pl.DataFrame({
        "_row": sub.get_column("_row"), "discharge_date": _dates(first_out),
        "los_days": _ints(first_los), "discharge_disposition": _ints(np.ones(n)),
        "icu_days": _ints(first_icu, icu_null | (first_icu == 0))})
    new_cases = sub.select(_input_columns(sub)).with_columns(
        case_id=second_id, admit_date=_dates(second_in), discharge_date=_dates(second_out),
        los_days=_ints(los - first_los), icu_days=_ints(second_icu, icu_null | (second_icu == 0)))
    settle_edits = _settlement_text(case_id, np.minimum(first_out + lag, year_end), first)
    template = pl.DataFrame({"case_id": case_id}).join(settlements, on="case_id", how="left",
                                                       maintain_order="left")
    new_settlements = template.with_columns(_settlement_text(
        second_id, np.minimum(second_out + lag, year_end), second).get_columns())
    detail = pl.DataFrame({"a": _dates(admit), "b": _dates(first_out), "c": _dates(second_in),
                           "d": _dates(second_out), "g": _ints(gap)})
    behaviour = "split_admission"
    truth = pl.concat([
        _truth(case_id, sub, year, behaviour, detail.select(pl.format(
            "part 1 of 2: {} to {}; readmitted after a gap of {} day(s)", "a", "b", "g")).to_series(),
            related=second_id),
        _truth(second_id, sub, year, behaviour, detail.select(pl.format(
            "part 2 of 2: {} to {}; admitted {} day(s) after part 1", "c", "d", "g")).to_series(),
            related=case_id)])
    return _Planted(case_edits, truth, settle_edits, new_cases, new_settlements)


def _input_columns(sub: pl.DataFrame) -> list[str]:
    """The input columns of a features frame (without the derived ``_…`` ones)."""
    return [c for c in sub.columns if not c.startswith("_")
            and c not in ("settle_date", *_AMOUNTS)]


def _low_standard_admission(sub: pl.DataFrame, year: int, rng: np.random.Generator,
                            ids: _CaseIds, ref: _Reference, settlements: pl.DataFrame
                            ) -> _Planted:
    """New admissions modelled on the picked (template) rows: their sex, age, insurance."""
    n = sub.height
    los = rng.integers(LOW_STANDARD_LOS[0], LOW_STANDARD_LOS[1] + 1, n)
    discharge = sample_discharge_dates(year, n, rng)
    condition = rng.integers(0, ref.outpatient.height, n)
    code = ref.outpatient.get_column("code").gather(condition)
    level = sub.get_column("_level").cast(pl.Int64).to_numpy()
    level_factor = pl.col("_level").cast(pl.Int64).replace_strict(
        LEVEL_COST_FACTOR, default=1.0, return_dtype=pl.Float64)
    factor = sub.select(pl.col("hospital_id").replace_strict(
        ref.cost_factor, default=None, return_dtype=pl.Float64).fill_null(level_factor)
    ).to_series().to_numpy()
    mean = (ref.outpatient.get_column("base_cost").to_numpy()[condition] * factor
            * (1 + COST_GROWTH_PER_YEAR) ** (year - BASE_YEAR) * np.exp(CASE_COST_SIGMA ** 2 / 2))
    share = rng.uniform(*LOW_STANDARD_COST_SHARE, n)
    total = np.maximum(np.round(mean * share * 100), 100).astype(np.int64)
    parts = split_parts(total, np.full(n, KIND_MEDICAL), np.zeros(n, dtype=bool), rng)
    employee = (sub.get_column("insurance_type") == "employee").to_numpy()
    fund, patient = split_fund(total, employee, level, rng)
    settled = settle_dates(discharge, year, rng)

    case_id = ids.take(sub.get_column("hospital_id"))
    birth_year = year - sub.get_column("_age").to_numpy().astype(np.int64)
    slot = pl.Series(rng.integers(0, 10**11, n)).cast(pl.String).str.zfill(11)
    patient_id = ("YQ" + pl.Series(birth_year).cast(pl.String).str.zfill(4)
                  + sub.get_column("sex") + slot)
    null = pl.lit(None, pl.String)
    new_cases = sub.select(_input_columns(sub)).with_columns(
        case_id=case_id, patient_id=patient_id, age_days=null, birth_weight_g=null,
        admit_date=_dates(discharge - los.astype("timedelta64[D]")),
        discharge_date=_dates(discharge), los_days=_ints(los), discharge_disposition=pl.lit("1"),
        main_dx=code, other_dx=null, main_proc=null, other_procs=null,
        **({"icu_days": null} if "icu_days" in sub.columns else {}))
    amounts = np.column_stack([total, fund, patient, parts])
    written = _settlement_text(case_id, settled, amounts)
    new_settlements = written.select(pl.col(c) if c in written.columns
                                     else pl.lit(None, pl.String).alias(c) for c in settlements.columns)
    detail = pl.DataFrame({"code": code, "los": _ints(los), "cost": _yuan(total),
                           "share": pl.Series(np.round(share * 100)).cast(pl.Int64),
                           "mean": _yuan(np.round(mean * 100))}).select(pl.format(
        "main_dx {}, {} days, cost {} = {}% of the generator's mean {}",
        "code", "los", "cost", "share", "mean")).to_series()
    return _Planted(pl.DataFrame({"_row": pl.Series([], dtype=pl.UInt32)}),
                    _truth(case_id, sub, year, "low_standard_admission", detail),
                    new_cases=new_cases, new_settlements=new_settlements)


def _upcoding_procedure(sub: pl.DataFrame, year: int, rng: np.random.Generator, ids: _CaseIds,
                        ref: _Reference, settlements: pl.DataFrame) -> _Planted:
    target = sub.select("_row", "case_id", "hospital_id", "_dx5").join(
        ref.upcode, left_on="_dx5", right_on="dx5", how="left", maintain_order="left")
    case_edits = target.select("_row", main_proc="new_main_proc", other_procs="new_other_procs")
    detail = target.select(pl.concat_str("new_main_proc", "new_other_procs", separator=";",
                                         ignore_nulls=True)).to_series()
    return _Planted(case_edits, _truth(sub.get_column("case_id"), sub, year,
                                       "upcoding_procedure", detail))


def _upcoding_added_procedure(sub: pl.DataFrame, year: int, rng: np.random.Generator,
                              ids: _CaseIds, ref: _Reference, settlements: pl.DataFrame
                              ) -> _Planted:
    # the costliest common combination of its subcategory holding its procedures and more
    target = (richer_combinations(sub, ref)
              .sort("mean_cost", "new_main", "new_other", descending=[True, False, False],
                    nulls_last=True)
              .unique("_row", keep="first"))
    target = sub.select("_row", "case_id").join(target, on="_row", maintain_order="left")
    case_edits = target.select("_row", main_proc="new_main", other_procs="new_other")
    detail = target.select(pl.format("coded as {};{}", "new_main",
                                     pl.col("new_other").fill_null(""))).to_series()
    return _Planted(case_edits, _truth(sub.get_column("case_id"), sub, year,
                                       "upcoding_added_procedure", detail))


def _upcoding_severity(sub: pl.DataFrame, year: int, rng: np.random.Generator, ids: _CaseIds,
                       ref: _Reference, settlements: pl.DataFrame) -> _Planted:
    codes = pl.Series(SEVERITY_CODES)
    pick = rng.integers(0, len(SEVERITY_CODES), sub.height)
    # never the main diagnosis's own category (a heart failure admission gets another code)
    same = (codes.gather(pick).str.slice(0, 3) == sub.get_column("main_dx").str.slice(0, 3)).to_numpy()
    code = codes.gather(np.where(same, (pick + 1) % len(SEVERITY_CODES), pick))
    return _Planted(pl.DataFrame({"_row": sub.get_column("_row"), "other_dx": code}),
                    _truth(sub.get_column("case_id"), sub, year, "upcoding_severity", code))


def _long_stay(sub: pl.DataFrame, year: int, rng: np.random.Generator, ids: _CaseIds,
               ref: _Reference, settlements: pl.DataFrame) -> _Planted:
    typical = (sub.select("_dx5").join(ref.typical_los, left_on="_dx5", right_on="dx5",
                                       how="left", maintain_order="left")
               .get_column("typical_los").to_numpy())
    los = sub.get_column("_los").to_numpy().astype(np.int64)
    new_los = np.maximum(np.ceil(typical * rng.uniform(*LONG_STAY_FACTOR, sub.height)),
                         los + 1).astype(np.int64)
    discharge = sub.get_column("_discharge").to_numpy().astype("datetime64[D]")
    # bed and nursing fees grow with the stay; the payments keep their shares
    amounts = _amounts(sub)
    bed_nursing = [3 + _PARTS.index("bed_yuan"), 3 + _PARTS.index("nursing_yuan")]
    per_day = amounts[:, bed_nursing] / los[:, None]
    added = np.floor(per_day * (new_los - los)[:, None] + 0.5).astype(np.int64)
    amounts[:, bed_nursing] += added
    more = added.sum(axis=1)
    more_fund = np.floor(more * amounts[:, 1] / amounts[:, 0] + 0.5).astype(np.int64)
    amounts[:, 0] += more
    amounts[:, 1] += more_fund
    amounts[:, 2] += more - more_fund
    case_edits = pl.DataFrame({"_row": sub.get_column("_row"),
                               "admit_date": _dates(discharge - new_los.astype("timedelta64[D]")),
                               "los_days": _ints(new_los)})
    columns = [0, 1, 2, *bed_nursing]
    settle_edits = pl.DataFrame({"case_id": sub.get_column("case_id"),
                                 **{_AMOUNTS[j]: _yuan(amounts[:, j]) for j in columns}})
    detail = pl.DataFrame({"old": _ints(los), "new": _ints(new_los), "dx5": sub.get_column("_dx5"),
                           "typical": pl.Series(np.round(typical, 1))}).select(pl.format(
        "los {} -> {} days; mean stay of {} in the city {}", "old", "new", "dx5", "typical"))
    return _Planted(case_edits, _truth(sub.get_column("case_id"), sub, year, "long_stay",
                                       detail.to_series()), settle_edits)


# in the order they pick, the scarcest candidates first (they may share a hospital)
_PLANTERS = {
    "upcoding_procedure": _upcoding_procedure,
    "upcoding_added_procedure": _upcoding_added_procedure,
    "split_admission": _split_admission,
    "long_stay": _long_stay,
    "upcoding_severity": _upcoding_severity,
    "low_standard_admission": _low_standard_admission,
}


