"""The city's records as the planter sees them: the code lists and reference figures, each
year's cases with their features, which cases may be picked, and the amounts and text
helpers the behaviours share."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from dip_sim.policy.lists import read_list
from dip_sim.reference.load import load_reference
from dip_sim.schema import COST_PART_COLUMNS
from dip_sim.synth.catalog import load_catalog
from dip_sim.synth.gaming.plan import BEHAVIOURS, PlanError
from dip_sim.synth.hospitals import load_hospitals
from dip_sim.synth.plant import GROUND_TRUTH

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
RICHER_MIN_CASES = 5  # cases of a combination in the city for an upcoder to code it
ADULT_AGE = 15

_DATE = "%Y-%m-%d"
_PARTS = COST_PART_COLUMNS
_AMOUNTS = ("total_cost_yuan", "fund_paid_yuan", "patient_paid_yuan", *_PARTS)
_DISPOSITIONS = ("1", "2", "3", "4", "5", "9")
# a case's procedures as one key (main | others), for joining on
_PROCS = pl.concat_str(pl.col("main_proc").fill_null(""), pl.lit("|"),
                       pl.col("other_procs").fill_null(""))


# ---------------------------------------------------------------------------------------------
# What the city and the code lists say


@dataclass(frozen=True)
class _Reference:
    """Code lists, and what the city's cases say of each diagnosis subcategory (all years)."""

    dx_codes: pl.Series  # ICD-10 医保版 2.0 codes allowed as a main diagnosis
    proc_codes: pl.Series  # ICD-9-CM-3 医保版 2.0
    common: pl.DataFrame  # dx5, _procs: the common subcategory × procedures pairs
    typical_los: pl.DataFrame  # dx5, typical_los
    upcode: pl.DataFrame  # dx5, new_main_proc, new_other_procs
    richer: pl.DataFrame  # dx5, main_proc, other_procs, _codes, mean_cost: coded combinations
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
    coded = (combos.with_columns(_codes=codes)
             .with_columns(_classes=pl.col("_codes").list.eval(
                 pl.element().replace_strict(classes, default=None, return_dtype=pl.String)))
             .filter(pl.col("_classes").list.eval(pl.element().is_null()).list.any().not_()
                     & pl.col("_classes").list.eval(pl.element() != "conservative").list.any()))
    combos = (coded.sort("n", "main_proc", "other_procs", descending=[True, False, False],
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
        upcode=upcode,
        richer=coded.filter(pl.col("n") >= RICHER_MIN_CASES).select(
            "dx5", "main_proc", "other_procs", "_codes", "mean_cost"),
        outpatient=_outpatient_codes(dx_codes),
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


def richer_combinations(stays: pl.DataFrame, ref: _Reference) -> pl.DataFrame:
    """For each stay (``_row``, ``_dx5``, ``main_proc``, ``other_procs``), the combinations
    coded with its subcategory in the city (``RICHER_MIN_CASES``) that hold its procedures and
    more (``main_proc``,
    ``other_procs`` of the combination as ``new_main``, ``new_other``; ``mean_cost``)."""
    have = (pl.concat_str("main_proc", "other_procs", separator=";", ignore_nulls=True)
            .str.split(";").list.eval(pl.element().filter(pl.element() != "")))
    return (stays.select("_row", "_dx5", _have=have)
            .join(ref.richer, left_on="_dx5", right_on="dx5")
            .filter(pl.col("_have").list.set_difference("_codes").list.len() == 0,
                    pl.col("_codes").list.set_difference("_have").list.len() > 0)
            .select("_row", "mean_cost", new_main="main_proc", new_other="other_procs"))


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
        # drawn from all the hospital's clean stays that a richer combination holds
        "upcoding_added_procedure": clean & pl.col("_row").is_in(
            richer_combinations(feat, ref).get_column("_row").unique().implode()),
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


