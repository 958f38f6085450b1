"""Planting hospital gaming behaviours (违规行为), with the truth written apart (issue 7 §3).

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

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import yaml

from dip_sim.policy.lists import read_list
from dip_sim.reference.load import load_reference
from dip_sim.schema import SETTLEMENT_COLUMNS
from dip_sim.synth.catalog import KIND_MEDICAL, load_catalog
from dip_sim.synth.costs import (
    BASE_YEAR,
    CASE_COST_SIGMA,
    COST_GROWTH_PER_YEAR,
    split_fund,
    split_parts,
)
from dip_sim.synth.dates import sample_discharge_dates, settle_dates
from dip_sim.synth.hospitals import LEVEL_COST_FACTOR, load_hospitals
from dip_sim.synth.plant import GROUND_TRUTH

BEHAVIOURS: dict[str, str] = {
    "split_admission": "分解住院",
    "low_standard_admission": "低标准入院",
    "upcoding_procedure": "高套编码（手术操作）",
    "upcoding_severity": "高套编码（严重并发症）",
    "long_stay": "超长住院",
}
GAMING_TRUTH = "gaming_truth.csv"
TRUTH_SCHEMA = {"case_id": pl.String, "hospital_id": pl.String, "year": pl.Int32,
                "behaviour": pl.String, "related_case_id": pl.String, "detail": pl.String}
OUTPATIENT_CONDITIONS = "outpatient_conditions.csv"  # in data/policy/lists/

SPLIT_MIN_LOS = 4
SPLIT_GAP_DAYS = (1, 7)
LOW_STANDARD_LOS = (1, 3)
LOW_STANDARD_COST_SHARE = (0.10, 0.30)
UPCODE_MIN_CASES = 30  # cases of the combination in the city (twice catalog.core_min_cases)
UPCODE_MIN_COST_RATIO = 1.5  # its mean cost over the conservative cases' (subcategory, category)
# Severe conditions (severity_dx.csv: J96, I50, A41, N17, R57), sex- and age-neutral.
SEVERITY_CODES = ("J96.000", "I50.900", "A41.900", "N17.900", "R57.900")
LONG_STAY_FACTOR = (3.3, 4.5)  # new stay ÷ the subcategory's mean stay
# A case is picked only when its codes are common in the city: its subcategory and procedures
# (and, for a long stay, its subcategory's mean stay) have this many cases or more.
COMMON_MIN_CASES = 20
ADULT_AGE = 15

_DATE = "%Y-%m-%d"
_PARTS = tuple(c.name for c in SETTLEMENT_COLUMNS[5:])
_AMOUNTS = ("total_cost_yuan", "fund_paid_yuan", "patient_paid_yuan", *_PARTS)
_DISPOSITIONS = ("1", "2", "3", "4", "5", "9")
_PLAN_KEYS = ("hospitals", "rate", "years")
# a case's procedures as one key (main | others), for joining on
_PROCS = pl.concat_str(pl.col("main_proc").fill_null(""), pl.lit("|"),
                       pl.col("other_procs").fill_null(""))


class PlanError(ValueError):
    """A gaming plan that is malformed or cannot be planted in the city."""


# ---------------------------------------------------------------------------------------------
# The plan


def load_plan(path: Path, city_dir: Path | None = None) -> dict[str, dict]:
    """The plan in the YAML file ``path``, checked (:func:`check_plan`).

    Hospitals are checked against ``city_dir/hospitals.csv`` when given, else against the
    generator's hospital list.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlanError(f"无法读取植入计划 {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise PlanError(f"植入计划 {path} 不是有效的 YAML: {exc}") from None
    hospitals = (_city_hospitals(Path(city_dir))["hospital_id"].to_list() if city_dir
                 else list(load_hospitals().hospital_id))
    return check_plan(raw, hospitals, where=path.name)


def check_plan(plan: object, hospital_ids: Collection[str], where: str = "植入计划"
               ) -> dict[str, dict]:
    """``plan`` with every entry checked: ``{behaviour: {hospitals, rate, years}}``.

    Refuses (``PlanError``, naming the entry) an unknown behaviour or key, a hospital not in
    ``hospital_ids`` or named twice, a rate outside (0, 1] and years that are not integers.
    """
    if not isinstance(plan, Mapping) or not plan:
        raise PlanError(f"{where}: 应为非空映射 behaviour → {{hospitals, rate, years}}")
    known = set(hospital_ids)
    out: dict[str, dict] = {}
    for behaviour, entry in plan.items():
        at = f"{where}: {behaviour}"
        if behaviour not in BEHAVIOURS:
            raise PlanError(f"{where}: 未知的违规行为 unknown behaviour {behaviour!r}"
                            f"（可选: {', '.join(BEHAVIOURS)}）")
        if not isinstance(entry, Mapping):
            raise PlanError(f"{at}: 应为映射，含 {', '.join(_PLAN_KEYS)}")
        extra, missing = set(entry) - set(_PLAN_KEYS), [k for k in _PLAN_KEYS if k not in entry]
        if extra or missing:
            raise PlanError(f"{at}: 应有 {', '.join(_PLAN_KEYS)}"
                            + (f"，缺少 {', '.join(missing)}" if missing else "")
                            + (f"，未知的键 {', '.join(sorted(map(str, extra)))}" if extra else ""))
        hospitals = entry["hospitals"]
        if isinstance(hospitals, str):
            hospitals = [hospitals]
        if not isinstance(hospitals, list) or not hospitals:
            raise PlanError(f"{at}: hospitals 应为非空的医院代码列表")
        for h in hospitals:
            if h not in known:
                raise PlanError(f"{at}: 医院 {h!r} 不在城市的医院表中 (hospital not in the city)")
        if len(set(hospitals)) != len(hospitals):
            raise PlanError(f"{at}: hospitals 中有重复的医院")
        rate = entry["rate"]
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 1:
            raise PlanError(f"{at}: rate 应为 (0, 1] 内的比例 (share of discharges)，收到 {rate!r}")
        years = entry["years"]
        if isinstance(years, int) and not isinstance(years, bool):
            years = [years]
        if (not isinstance(years, list) or not years
                or any(isinstance(y, bool) or not isinstance(y, int) for y in years)):
            raise PlanError(f"{at}: years 应为年度（整数）列表，收到 {years!r}")
        out[behaviour] = {"hospitals": [str(h) for h in hospitals], "rate": float(rate),
                          "years": sorted(set(years))}
    return out


def _planned(rate: float, discharges: int) -> int:
    """Cases to affect: ``rate`` of the discharges, at least one where there are any."""
    return max(1, round(rate * discharges)) if discharges else 0


# ---------------------------------------------------------------------------------------------
# What the city and the code lists say


def _city_hospitals(city_dir: Path) -> pl.DataFrame:
    path = city_dir / "hospitals.csv"
    if not path.is_file():
        raise PlanError(f"{city_dir} 中没有 hospitals.csv：植入违规行为需要 dip-sim synth 写出的"
                        f" CSV 城市（--format csv）")
    return pl.read_csv(path, infer_schema=False).select("hospital_id", "level")


@dataclass(frozen=True)
class _Reference:
    """Code lists, and what the city's cases say of each diagnosis subcategory (all years)."""

    dx_codes: pl.Series  # ICD-10 医保版 2.0 codes allowed as a main diagnosis
    proc_codes: pl.Series  # ICD-9-CM-3 医保版 2.0
    common: pl.DataFrame  # dx5, _procs: the common subcategory × procedures pairs
    typical_los: pl.DataFrame  # dx5, typical_los
    upcode: pl.DataFrame  # dx5, new_main_proc, new_other_procs
    outpatient: pl.DataFrame  # code, base_cost (yuan, level 3, base year)
    cost_factor: dict[str, float]  # hospital → the generator's cost factor
    spoilt: pl.Series  # cases with a record problem planted (plant.py's ground_truth.csv)


def _code_lists() -> tuple[pl.Series, pl.DataFrame]:
    """The codes allowed as a main diagnosis, and the procedures with their class, as the
    warehouse's quality stage has them."""
    con = duckdb.connect()
    try:
        load_reference(con)
        dx = pl.Series("code", [r[0] for r in con.execute("""
            SELECT code FROM ref_dx d WHERE NOT EXISTS (
                SELECT 1 FROM ref_main_dx_excluded x WHERE regexp_matches(d.code, x.pattern))
            ORDER BY code""").fetchall()], dtype=pl.String)
        procs = pl.DataFrame(con.execute("SELECT code, proc_class FROM ref_proc").fetchall(),
                             schema={"code": pl.String, "proc_class": pl.String}, orient="row")
    finally:
        con.close()
    return dx, procs


def _outpatient_codes(dx_codes: pl.Series) -> pl.DataFrame:
    """Each condition of the outpatient list as the generator codes it, with its base cost.

    The code is the usual one of the most frequent catalogue type without procedure whose
    usual code starts with the listed prefix.
    """
    name, rows = read_list(OUTPATIENT_CONDITIONS, ("dx_prefix", "name", "source"), "门诊病种清单")
    types = load_catalog()
    usual = types.dx_codes.gather(types.dx_offset).to_list()
    medical = types.main_proc.is_null().to_list()
    valid = set(dx_codes.to_list())
    out = []
    for i, row in enumerate(rows, start=2):
        prefix = row["dx_prefix"].strip()
        rank = next((t for t, code in enumerate(usual) if medical[t] and code.startswith(prefix)),
                    None)
        if not prefix or rank is None or usual[rank] not in valid:
            raise PlanError(f"{name} 第 {i} 行: 诊断 {prefix!r} 不是合成数据生成的病种"
                            f"（无手术操作的病例类型中没有以它开头的编码）")
        out.append({"code": usual[rank], "base_cost": float(types.base_cost[rank])})
    return pl.DataFrame(out, schema={"code": pl.String, "base_cost": pl.Float64})


def _text(column: str) -> pl.Expr:
    """A text column with empty values as null (``plant_problems`` writes them as ``""``)."""
    return pl.when(pl.col(column) != "").then(pl.col(column)).alias(column)


def _read(path: Path) -> pl.DataFrame:
    frame = pl.read_csv(path, infer_schema=False)
    return frame.select(_text(c) for c in frame.columns)


def _reference(city_dir: Path) -> _Reference:
    case_paths = sorted(city_dir.glob("cases_*.csv"))
    settle_paths = sorted(city_dir.glob("settlements_*.csv"))
    dx_codes, procs = _code_lists()
    cases = (pl.scan_csv(case_paths, infer_schema=False)
             .select(*map(_text, ("case_id", "main_dx", "main_proc", "other_procs")),
                     pl.col("los_days").cast(pl.Int32, strict=False).alias("los"))
             .filter(pl.col("main_dx").is_in(dx_codes.implode()) & (pl.col("los") > 0))
             .with_columns(dx5=pl.col("main_dx").str.slice(0, 5),
                           dx3=pl.col("main_dx").str.slice(0, 3), _procs=_PROCS))
    common = (cases.group_by("dx5", "_procs").len()
              .filter(pl.col("len") >= COMMON_MIN_CASES).drop("len"))
    typical = (cases.group_by("dx5").agg(typical_los=pl.col("los").mean(), n=pl.len())
               .filter(pl.col("n") >= COMMON_MIN_CASES).drop("n"))

    costs = (pl.scan_csv(settle_paths, infer_schema=False)
             .select("case_id", pl.col("total_cost_yuan").cast(pl.Float64, strict=False).alias("cost"))
             .filter(pl.col("cost") > 0))
    costed = cases.join(costs, on="case_id")
    bare = pl.col("main_proc").is_null() & pl.col("other_procs").is_null()
    conservative = [costed.filter(bare).group_by(key).agg(pl.col("cost").mean().alias(f"mean_{key}"))
                    for key in ("dx5", "dx3")]
    # the procedure combinations coded with each subcategory, the most frequent first; a
    # combination counts when its codes are all valid and one of them is not conservative
    combos = (costed.filter(pl.col("main_proc").is_not_null())
              .group_by("dx5", "dx3", "main_proc", "other_procs")
              .agg(n=pl.len(), mean_cost=pl.col("cost").mean()))
    # one pass over the files for all five summaries
    common, typical, combos, *conservative = pl.collect_all(
        [common, typical, combos, *conservative])
    codes = pl.concat_list("main_proc", pl.col("other_procs").str.split(";").fill_null([]))
    classes = dict(procs.iter_rows())
    combos = (combos.with_columns(_codes=codes)
              .with_columns(_classes=pl.col("_codes").list.eval(
                  pl.element().replace_strict(classes, default=None, return_dtype=pl.String)))
              .filter(pl.col("_classes").list.eval(pl.element().is_null()).list.any().not_()
                      & pl.col("_classes").list.eval(pl.element() != "conservative").list.any())
              .sort("n", "main_proc", "other_procs", descending=[True, False, False],
                    nulls_last=True)
              .unique("dx5", keep="first", maintain_order=True))
    upcode = (combos.join(conservative[0], on="dx5").join(conservative[1], on="dx3")
              .filter((pl.col("n") >= UPCODE_MIN_CASES)
                      & (pl.col("mean_cost") >= UPCODE_MIN_COST_RATIO
                         * pl.max_horizontal("mean_dx5", "mean_dx3")))
              .select("dx5", new_main_proc="main_proc", new_other_procs="other_procs"))
    hospitals = load_hospitals()
    return _Reference(
        dx_codes=dx_codes, proc_codes=procs.get_column("code"), common=common, typical_los=typical,
        upcode=upcode, outpatient=_outpatient_codes(dx_codes),
        cost_factor=dict(zip(hospitals.hospital_id, hospitals.cost_factor.tolist(), strict=True)),
        spoilt=(pl.read_csv(city_dir / GROUND_TRUTH, infer_schema=False)["case_id"]
                if (city_dir / GROUND_TRUTH).is_file() else pl.Series("case_id", [], pl.String)))


# ---------------------------------------------------------------------------------------------
# The cases of a year, and which may be picked


def _fen(column: str) -> pl.Expr:
    return (pl.col(column).cast(pl.Float64, strict=False) * 100).round().cast(pl.Int64)


def _features(cases: pl.DataFrame, settlements: pl.DataFrame, year: int,
              hospitals: pl.DataFrame, ref: _Reference) -> pl.DataFrame:
    """One row per case row (in order): typed values and ``_clean``, the record being valid."""
    settled = (settlements
               .select("case_id", "settle_date", *[_fen(c).alias(f"_{c}") for c in _AMOUNTS])
               .with_columns(_n_settlements=pl.len().over("case_id"))
               .unique("case_id", keep="first"))
    days = (pl.col("_discharge") - pl.col("_admit")).dt.total_days()
    parts = pl.sum_horizontal(f"_{c}" for c in _PARTS)
    total, fund = pl.col("_total_cost_yuan"), pl.col("_fund_paid_yuan")
    frame = (cases.with_row_index("_row")
             .join(settled, on="case_id", how="left", maintain_order="left")
             .join(hospitals.rename({"level": "_level"}), on="hospital_id", how="left",
                   maintain_order="left")
             .join(ref.common.with_columns(_common=pl.lit(True)),
                   left_on=[pl.col("main_dx").str.slice(0, 5), _PROCS], right_on=["dx5", "_procs"],
                   how="left", maintain_order="left")
             .with_columns(_admit=pl.col("admit_date").str.to_date(_DATE, strict=False),
                           _discharge=pl.col("discharge_date").str.to_date(_DATE, strict=False),
                           _settle=pl.col("settle_date").str.to_date(_DATE, strict=False),
                           _los=pl.col("los_days").cast(pl.Int32, strict=False),
                           _age=pl.col("age_years").cast(pl.Int32, strict=False),
                           _icu=pl.col("icu_days").cast(pl.Int32, strict=False)
                           if "icu_days" in cases.columns else pl.lit(None, pl.Int32),
                           _dx5=pl.col("main_dx").str.slice(0, 5),
                           _n_cases=pl.len().over("case_id")))
    clean = ((pl.col("_n_cases") == 1) & (pl.col("_n_settlements") == 1)
             & pl.col("case_id").is_in(ref.spoilt.implode()).not_()
             & pl.col("_level").is_not_null()
             & pl.col("main_dx").is_in(ref.dx_codes.implode())
             & (pl.col("main_proc").is_null() | pl.col("main_proc").is_in(ref.proc_codes.implode()))
             & (pl.col("_discharge").dt.year() == year) & (days >= 0)
             & (pl.col("_los") == pl.max_horizontal(days, 1))
             & pl.col("discharge_disposition").is_in(_DISPOSITIONS)
             & pl.col("sex").is_in(["1", "2"]) & (pl.col("_age") >= 1)
             & (total > 0) & (fund >= 0) & (fund <= total)
             & (fund + pl.col("_patient_paid_yuan") == total)
             & pl.all_horizontal(pl.col(f"_{c}").is_not_null() for c in _PARTS) & (parts == total))
    return frame.with_columns(_clean=clean.fill_null(False),
                              _common=pl.col("_common").fill_null(False))


def _candidates(feat: pl.DataFrame, year: int, ref: _Reference) -> dict[str, np.ndarray]:
    """For each behaviour, the rows it may pick (``low_standard_admission``: its templates)."""
    clean = pl.col("_clean")
    common = clean & pl.col("_common")
    adult = pl.col("_age") >= ADULT_AGE
    first, last = pl.date(year, 1, 1), pl.date(year, 12, 31 - SPLIT_GAP_DAYS[1])
    bare = pl.col("main_proc").is_null() & pl.col("other_procs").is_null()
    rules = {
        "split_admission": common & (pl.col("_los") >= SPLIT_MIN_LOS)
        & (pl.col("_admit") >= first) & (pl.col("_discharge") <= last),
        "low_standard_admission": clean & adult,
        "upcoding_procedure": common & bare & pl.col("_dx5").is_in(ref.upcode["dx5"].implode()),
        "upcoding_severity": common & adult & pl.col("other_dx").is_null(),
        "long_stay": common & pl.col("_dx5").is_in(ref.typical_los["dx5"].implode()),
    }
    masks = feat.select(**{b: rule.fill_null(False) for b, rule in rules.items()})
    return {b: masks.get_column(b).to_numpy() for b in BEHAVIOURS}


# ---------------------------------------------------------------------------------------------
# Amounts and text


def _scaled(amounts: np.ndarray, total: np.ndarray) -> np.ndarray:
    """``amounts`` (rows of fen) scaled to add up to ``total``, each between 0 and itself.

    Rounded on the running sums, so no part goes negative or above what it was.
    """
    running = np.cumsum(amounts, axis=1)
    scale = total / np.maximum(running[:, -1], 1)
    target = np.floor(running * scale[:, None] + 0.5).astype(np.int64)
    target[:, -1] = total
    return np.diff(target, axis=1, prepend=0)


def _yuan(fen: np.ndarray) -> pl.Series:
    """Amounts in fen as the generator writes yuan: ``1234.50``."""
    fen = pl.Series(np.asarray(fen, dtype=np.int64))
    return (fen // 100).cast(pl.String) + "." + (fen % 100).cast(pl.String).str.zfill(2)


def _dates(days: np.ndarray) -> pl.Series:
    return pl.Series(days.astype("datetime64[D]")).dt.strftime(_DATE)


def _ints(values: np.ndarray, null: np.ndarray | None = None) -> pl.Series:
    series = pl.Series(np.asarray(values, dtype=np.int64)).cast(pl.String)
    return series if null is None else series.set(pl.Series(null), None)


def _amounts(sub: pl.DataFrame) -> np.ndarray:
    """total, fund, patient and the nine parts of the picked rows, in fen (n × 12)."""
    return sub.select(f"_{c}" for c in _AMOUNTS).to_numpy().astype(np.int64)


def _settlement_text(case_id: pl.Series, settle: np.ndarray, amounts: np.ndarray) -> pl.DataFrame:
    """Settlement columns (text) from the case ids, settlement dates and amounts (n × 12)."""
    return pl.DataFrame({"case_id": case_id, "settle_date": _dates(settle),
                         **{c: _yuan(amounts[:, j]) for j, c in enumerate(_AMOUNTS)}})


def _truth(case_id: pl.Series, sub: pl.DataFrame, year: int, behaviour: str, detail: pl.Series,
           related: pl.Series | None = None) -> pl.DataFrame:
    return pl.DataFrame({
        "case_id": case_id, "hospital_id": sub.get_column("hospital_id"),
        "year": pl.Series([year] * sub.height, dtype=pl.Int32),
        "behaviour": pl.Series([behaviour] * sub.height, dtype=pl.String),
        "related_case_id": related if related is not None
        else pl.Series([None] * sub.height, dtype=pl.String),
        "detail": detail}, schema=TRUTH_SCHEMA)


class _CaseIds:
    """New case ids in the generator's style, ``{hospital}-{year}-{seq:07d}``, after the last."""

    def __init__(self, cases: pl.DataFrame, year: int) -> None:
        seq = (cases.select("hospital_id", pl.col("case_id").str.extract(rf"^(.+)-{year}-(\d+)$", 2)
                            .cast(pl.Int64, strict=False).alias("seq"))
               .group_by("hospital_id").agg(pl.col("seq").max().fill_null(0)))
        self.year = year
        self.last = dict(seq.iter_rows())

    def take(self, hospital_id: pl.Series) -> pl.Series:
        frame = pl.DataFrame({"h": hospital_id}).with_columns(
            k=pl.int_range(1, pl.len() + 1).over("h"),
            last=pl.col("h").replace_strict(self.last, default=0, return_dtype=pl.Int64))
        for h, n in frame.group_by("h").agg(pl.len()).iter_rows():
            self.last[h] = self.last.get(h, 0) + n
        return frame.select(pl.concat_str(
            "h", pl.lit(f"-{self.year}-"), (pl.col("last") + pl.col("k")).cast(pl.String).str.zfill(7)
        )).to_series().alias("case_id")


@dataclass
class _Planted:
    """One behaviour's work on a year: edits of existing rows, new rows, and the truth."""

    case_edits: pl.DataFrame  # _row + changed columns (text)
    truth: pl.DataFrame
    settle_edits: pl.DataFrame | None = None  # case_id + changed columns (text)
    new_cases: pl.DataFrame | None = None
    new_settlements: pl.DataFrame | None = None


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
    "split_admission": _split_admission,
    "long_stay": _long_stay,
    "upcoding_severity": _upcoding_severity,
    "low_standard_admission": _low_standard_admission,
}


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
    return frame
