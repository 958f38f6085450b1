"""Planting hospital gaming behaviours (违规行为), with the truth written apart (docs/supervision.md).

``plant_gaming`` edits a canonical CSV city (``dip-sim synth``: ``hospitals.csv``,
``cases_{year}.csv``, ``settlements_{year}.csv``) in place. A plan names, per behaviour, the
hospitals, the share of each one's discharges of a year to affect and the years:

    {"long_stay": {"hospitals": ["H140321001"], "rate": 0.05, "years": [2020]}, ...}

The behaviours (``BEHAVIOURS``):

- ``split_admission`` (分解住院): a stay of 4 days or more becomes two stays of the same
  patient at the same hospital: the first discharged part-way, the second admitted 1–7 days
  later with the same codes for the rest of the stay; cost, its breakdown and the payments
  shared between the two by days. The second stay gets a new case_id.
- ``low_standard_admission`` (低标准入院): new admissions of 1–3 days, costing 10–30% of
  the generator's mean cost of their diagnosis, with a main diagnosis from
  ``data/policy/lists/outpatient_conditions.csv`` (conditions treated as outpatients); new
  patients, with the sex, age and insurance of one of the hospital's adult patients.
- ``upcoding_procedure`` (高套编码, procedure): a case without procedure gets the procedure
  combination most often coded with its diagnosis subcategory (亚目) in the city, when that
  combination is common (``UPCODE_MIN_CASES``) and costs at least ``UPCODE_MIN_COST_RATIO``
  times the diagnosis's conservative cases (so the case moves to a costlier group); its cost
  is unchanged.
- ``upcoding_added_procedure`` (高套编码, added procedures): a stay, drawn from all the
  hospital's clean stays that a common combination of its diagnosis subcategory holds with
  more procedures, is coded with the costliest such combination (a richer combination reached
  by adding procedures, to a stay with or without one); its cost is unchanged.
- ``upcoding_severity`` (高套编码, severity): a case without secondary diagnoses gets one of
  ``SEVERITY_CODES`` (severe conditions of ``data/reference/severity_dx.csv``); cost unchanged.
- ``long_stay`` (超长住院): the stay is lengthened to 3.3–4.5 times the mean stay of its
  diagnosis subcategory in the city (admitted earlier); bed and nursing fees grow with it.

Only clean records are picked (a main diagnosis valid as such in 医保版 2.0, valid procedure
codes, dates agreeing with the length of stay, one settlement whose parts and payments add up,
no problem planted by ``plant.plant_problems``), whose diagnosis and procedures are common in
the city, each for one behaviour at most; every edit keeps the record so: the case passes the
病案质控 critical checks and is grouped. A hospital without enough such cases for its share is
refused, naming the behaviour, the hospital and the numbers. A rate gives
``max(1, round(rate × discharges))`` cases (pairs, for split admissions; new admissions, for
low-standard ones), the discharges being the hospital's in the year's file before planting.

The truth, ``gaming_truth.csv`` (``case_id, hospital_id, year, behaviour, related_case_id,
detail``; a split pair is two rows naming each other), is written beside the inputs. Ingest
finds it, as it finds every CSV, but its header makes no table (``case_id`` and
``hospital_id`` alone are no case, settlement or hospital table), so it is skipped as
unrecognised, like ``ground_truth.csv``. Everything is vectorised; loops run over behaviours
and hospitals only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import polars as pl

from dip_sim.ingest.files import add_ignored
from dip_sim.synth.gaming.behaviours import _PLANTERS
from dip_sim.synth.gaming.plan import (
    BEHAVIOURS,
    PlanError,
    _city_hospitals,
    _planned,
    check_plan,
    load_plan,
)
from dip_sim.synth.gaming.records import (
    GAMING_TRUTH,
    SEVERITY_CODES,
    TRUTH_SCHEMA,
    _candidates,
    _CaseIds,
    _features,
    _Planted,
    _read,
    _Reference,
    _reference,
)

__all__ = ["BEHAVIOURS", "GAMING_TRUTH", "SEVERITY_CODES", "TRUTH_SCHEMA", "PlanError",
           "check_plan", "load_plan", "plant_gaming"]

# ---------------------------------------------------------------------------------------------
# Putting it together


def _apply(frame: pl.DataFrame, edits: pl.DataFrame | None, key: str) -> pl.DataFrame:
    """``frame`` with the columns of ``edits`` replaced on the rows whose ``key`` it holds."""
    if edits is None or edits.is_empty():
        return frame
    columns = [c for c in edits.columns if c != key and c in frame.columns]
    joined = frame.join(edits.select(key, *columns).with_columns(_hit=pl.lit(True)), on=key,
                        how="left", suffix="_new", maintain_order="left")
    return joined.select(
        pl.when(pl.col("_hit")).then(pl.col(f"{c}_new")).otherwise(pl.col(c)).alias(c)
        if c in columns else pl.col(c) for c in frame.columns)


def _plant_year(cases: pl.DataFrame, settlements: pl.DataFrame, plan: dict[str, dict],
                year: int, rng: np.random.Generator, hospitals: pl.DataFrame, ref: _Reference
                ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    feat = _features(cases, settlements, year, hospitals, ref)
    masks = _candidates(feat, year, ref)
    hospital = feat.get_column("hospital_id").to_numpy()
    discharges = dict(cases.group_by("hospital_id").len().iter_rows())
    taken = np.zeros(feat.height, dtype=bool)
    ids = _CaseIds(cases, year)
    planted: list[_Planted] = []
    for behaviour, planter in _PLANTERS.items():
        entry = plan.get(behaviour)
        if entry is None or year not in entry["years"]:
            continue
        rows = []
        for h in entry["hospitals"]:
            n = _planned(entry["rate"], discharges.get(h, 0))
            pool = np.flatnonzero(masks[behaviour] & (hospital == h) & ~taken)
            if behaviour == "low_standard_admission":  # templates, used again as needed
                if n and not len(pool):
                    raise PlanError(f"{year} 年 {h}: 没有可作为低标准入院模板的成年病例")
                rows.append(rng.choice(pool, n) if n else pool[:0])
                continue
            if len(pool) < n:
                raise PlanError(f"{year} 年 {h} 的 {behaviour}（{BEHAVIOURS[behaviour]}）: 计划 {n} 例，"
                                f"可选的病例只有 {len(pool)} 例 (not enough candidate cases)")
            picked = rng.choice(pool, n, replace=False)
            taken[picked] = True
            rows.append(picked)
        picked = np.sort(np.concatenate(rows)) if rows else np.zeros(0, dtype=np.int64)
        if len(picked):
            planted.append(planter(feat[picked], year, rng, ids, ref, settlements))
    indexed = cases.with_row_index("_row")
    for p in planted:
        indexed = _apply(indexed, p.case_edits, "_row")
        settlements = _apply(settlements, p.settle_edits, "case_id")
    cases = pl.concat([indexed.drop("_row"),
                       *[p.new_cases.select(cases.columns) for p in planted
                         if p.new_cases is not None]])
    settlements = pl.concat([settlements, *[p.new_settlements.select(settlements.columns)
                                            for p in planted if p.new_settlements is not None]])
    truth = pl.concat([p.truth for p in planted]) if planted else pl.DataFrame(schema=TRUTH_SCHEMA)
    return cases, settlements, truth


def plant_gaming(city_dir: Path, plan: Mapping, seed: int) -> pl.DataFrame:
    """Plant the behaviours of ``plan`` in the canonical CSV city ``city_dir``, in place.

    Returns the truth, also written to ``city_dir/gaming_truth.csv``. Refuses a city planted
    before (its truth would be lost), a plan naming a hospital not in the city or a year
    without its files, and a hospital without enough cases fit for a behaviour.
    """
    city_dir = Path(city_dir)
    hospitals = _city_hospitals(city_dir)
    plan = check_plan(plan, hospitals["hospital_id"].to_list())
    if (city_dir / GAMING_TRUTH).exists():
        raise PlanError(f"{city_dir / GAMING_TRUTH} 已存在：该城市已植入过违规行为，请重新生成后再植入")
    years = sorted({y for entry in plan.values() for y in entry["years"]})
    for year in years:
        for kind in ("cases", "settlements"):
            if not (city_dir / f"{kind}_{year}.csv").is_file():
                raise PlanError(f"{city_dir} 中没有 {kind}_{year}.csv（计划的年度 {year}）")
    ref = _reference(city_dir)
    truth = []
    for year in years:
        case_path, settle_path = city_dir / f"cases_{year}.csv", city_dir / f"settlements_{year}.csv"
        cases, settlements, found = _plant_year(
            _read(case_path), _read(settle_path),
            plan, year, np.random.default_rng([seed, year]), hospitals, ref)
        cases.write_csv(case_path)
        settlements.write_csv(settle_path)
        truth.append(found)
    frame = pl.concat(truth) if truth else pl.DataFrame(schema=TRUTH_SCHEMA)
    frame.write_csv(city_dir / GAMING_TRUTH)
    add_ignored(city_dir, GAMING_TRUTH, "植入的违规行为的答案，不是输入数据")
    return frame
