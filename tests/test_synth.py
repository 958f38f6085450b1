"""Tests of the synthetic data generator (dip_sim.synth): contract, determinism, realism."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from dip_sim.synth import defects, generate
from dip_sim.synth.catalog import load_catalog
from dip_sim.synth.codes import REFERENCE_DIR, canonical_code, load_code_tables

YEARS = (2017, 2018, 2019, 2020)
N_PER_YEAR = 5000
SEED = 7

HOSPITAL_COLUMNS = ["hospital_id", "hospital_name", "level", "county"]
CASE_COLUMNS = [
    "case_id", "hospital_id", "patient_id", "sex", "age_years", "age_days", "birth_weight_g",
    "insurance_type", "admit_date", "discharge_date", "los_days", "discharge_disposition",
    "main_dx", "other_dx", "main_proc", "other_procs", "icu_days",
]  # fmt: skip
PART_COLUMNS = [
    "drug_yuan", "consumable_yuan", "exam_yuan", "lab_yuan", "treatment_yuan", "surgery_yuan",
    "nursing_yuan", "bed_yuan", "other_yuan",
]  # fmt: skip
SETTLEMENT_COLUMNS = [
    "case_id", "settle_date", "total_cost_yuan", "fund_paid_yuan", "patient_paid_yuan",
    *PART_COLUMNS,
]


def _canon(expr: pl.Expr) -> pl.Expr:
    return expr.str.strip_chars().str.to_uppercase().str.replace_all("X", "x")


def _read_csv(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema_length=0)  # every column as text


@pytest.fixture(scope="module")
def csv_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth_csv")
    messages: list[str] = []
    counts = generate(out, years=YEARS, cases_per_year=N_PER_YEAR, seed=SEED,
                      progress=messages.append)  # fmt: skip
    assert counts["hospitals"] >= 30
    assert counts["cases"] == N_PER_YEAR * len(YEARS)
    assert messages
    return out


@pytest.fixture(scope="module")
def cases(csv_dir: Path) -> pl.DataFrame:
    return pl.concat(
        _read_csv(csv_dir / f"cases_{y}.csv").with_columns(pl.lit(y).alias("year")) for y in YEARS
    )


@pytest.fixture(scope="module")
def settlements(csv_dir: Path) -> pl.DataFrame:
    frames = [_read_csv(csv_dir / f"settlements_{y}.csv") for y in YEARS]
    return pl.concat(frames).with_columns(pl.exclude("case_id", "settle_date").cast(pl.Float64))


@pytest.fixture(scope="module")
def hospitals(csv_dir: Path) -> pl.DataFrame:
    return _read_csv(csv_dir / "hospitals.csv")


def test_reference_dir_is_inside_the_project() -> None:
    project_root = Path(__file__).resolve().parents[1]
    assert project_root / "data" / "reference" == REFERENCE_DIR
    assert (REFERENCE_DIR / "chs_codes" / "ZD_INFO.dat").exists()


def test_files_and_columns(csv_dir: Path) -> None:
    names = {p.name for p in csv_dir.iterdir()}
    expected = {"hospitals.csv"} | {f"{k}_{y}.csv" for y in YEARS for k in ("cases", "settlements")}
    assert names == expected
    assert _read_csv(csv_dir / "hospitals.csv").columns == HOSPITAL_COLUMNS
    for y in YEARS:
        assert _read_csv(csv_dir / f"cases_{y}.csv").columns == CASE_COLUMNS
        assert _read_csv(csv_dir / f"settlements_{y}.csv").columns == SETTLEMENT_COLUMNS
    first = (csv_dir / "cases_2017.csv").read_bytes()
    first.decode("utf-8")
    assert not first.startswith(b"\xef\xbb\xbf")  # no BOM


def test_counts_match_files(csv_dir: Path, tmp_path: Path) -> None:
    counts = generate(tmp_path, years=(2019,), cases_per_year=300, seed=SEED)
    n_settle = _read_csv(tmp_path / "settlements_2019.csv").height
    assert counts == {"hospitals": counts["hospitals"], "cases": 300, "settlements": n_settle}


def test_same_seed_same_bytes_and_other_seed_differs(csv_dir: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate(again, years=YEARS, cases_per_year=N_PER_YEAR, seed=SEED)
    for path in csv_dir.iterdir():
        assert (again / path.name).read_bytes() == path.read_bytes(), path.name
    other = tmp_path / "other"
    generate(other, years=(2018,), cases_per_year=N_PER_YEAR, seed=SEED + 1)
    for kind in ("cases", "settlements"):
        name = f"{kind}_2018.csv"
        assert (other / name).read_bytes() != (csv_dir / name).read_bytes()
    # A year's files do not depend on which other years are generated.
    assert (other / "hospitals.csv").read_bytes() == (csv_dir / "hospitals.csv").read_bytes()


def test_hospitals(hospitals: pl.DataFrame, cases: pl.DataFrame) -> None:
    assert 30 <= hospitals.height <= 40
    assert hospitals["hospital_id"].n_unique() == hospitals.height
    assert hospitals["hospital_id"].str.contains(r"^H\d{9}$").all()
    assert set(hospitals["level"]) == {"1", "2", "3"}
    assert set(hospitals["county"]) == {"城区", "矿区", "郊区", "平定县", "盂县"}
    names = set(hospitals["hospital_name"])
    assert {"阳泉市第一人民医院", "阳煤集团总医院", "平定县人民医院", "盂县人民医院"} <= names
    share = (
        cases.join(hospitals, on="hospital_id")
        .group_by("level")
        .agg(pl.len() / cases.height)
        .sort("level")["len"]
        .to_list()
    )
    assert share[2] > share[1] > share[0]  # level 3 busiest, level 1 least
    assert share[2] > 0.4
    assert set(cases["hospital_id"]) <= set(hospitals["hospital_id"])


def test_case_ids_unique_and_formatted(cases: pl.DataFrame) -> None:
    assert cases["case_id"].n_unique() == cases.height
    pattern = r"^H\d{9}-(\d{4})-\d{7}$"
    assert cases["case_id"].str.contains(pattern).all()
    year_in_id = cases["case_id"].str.extract(pattern, 1).cast(pl.Int32)
    assert (year_in_id == cases["year"]).all()
    assert (cases["case_id"].str.slice(0, 10) == cases["hospital_id"]).all()


def test_one_settlement_per_case_except_missing(
    cases: pl.DataFrame, settlements: pl.DataFrame
) -> None:
    assert settlements["case_id"].n_unique() == settlements.height
    assert settlements.join(cases, on="case_id", how="anti").height == 0  # no orphans
    missing = cases.join(settlements, on="case_id", how="anti").height / cases.height
    assert 0 < missing < 5 * defects.MISSING_SETTLEMENT_RATE


def test_amounts(settlements: pl.DataFrame) -> None:
    s = settlements
    money = ["total_cost_yuan", "fund_paid_yuan", "patient_paid_yuan", *PART_COLUMNS]
    assert s.select(pl.min_horizontal(money)).to_series().min() >= 0
    assert (s["total_cost_yuan"] > 0).all()
    for name in money:  # two decimals
        assert ((s[name] * 100 - (s[name] * 100).round()).abs() < 1e-6).all()
    paid = (s["fund_paid_yuan"] + s["patient_paid_yuan"] - s["total_cost_yuan"]).abs()
    assert (paid < 0.005).all()
    off = (s.select(pl.sum_horizontal(PART_COLUMNS)).to_series() - s["total_cost_yuan"]).abs()
    rate = (off > 0.01).mean()
    assert 0.25 * defects.COST_MISMATCH_RATE < rate < 3 * defects.COST_MISMATCH_RATE


def test_dates_and_los(cases: pl.DataFrame, settlements: pl.DataFrame) -> None:
    d = cases.with_columns(
        pl.col("admit_date").str.to_date("%Y-%m-%d"),
        pl.col("discharge_date").str.to_date("%Y-%m-%d"),
        pl.col("los_days").cast(pl.Int32),
    )
    assert (d["discharge_date"].dt.year() == d["year"]).all()
    assert (d["admit_date"] < d["discharge_date"]).all()
    assert (d["los_days"] >= 1).all()
    assert (d["admit_date"].dt.year() < d["year"]).any()  # some stays start the year before
    months = d["discharge_date"].dt.month().value_counts()
    assert months.height == 12
    gap = (d["discharge_date"] - d["admit_date"]).dt.total_days()
    rate = (gap != d["los_days"]).mean()
    assert 0.25 * defects.LOS_MISMATCH_RATE < rate < 3 * defects.LOS_MISMATCH_RATE
    assert ((gap - d["los_days"]).abs() <= 2).all()

    j = d.join(settlements, on="case_id").with_columns(pl.col("settle_date").str.to_date())
    lag = (j["settle_date"] - j["discharge_date"]).dt.total_days()
    assert lag.min() >= 0 and lag.max() <= 3
    assert (j["settle_date"].dt.year() == j["year"]).all()


def test_main_dx_codes(cases: pl.DataFrame) -> None:
    tables = load_code_tables()
    dx = cases.select(_canon(pl.col("main_dx")).alias("dx"))["dx"]
    valid = dx.is_in(list(tables.dx_names))
    assert valid.mean() > 0.97
    assert 0.25 * defects.MISSING_MAIN_DX_RATE < dx.is_null().mean() < 3e-2
    raw_valid = cases["main_dx"].is_in(list(tables.dx_names)).mean()
    assert raw_valid < valid.mean()  # some codes are messy …
    assert valid.mean() - raw_valid < 2 * defects.MESSY_CODE_RATE  # … but only a few
    olds = {o for v in tables.dx_old_by_new.values() for o in v}
    old_rate = dx.is_in(list(olds)).mean()
    assert 0.3 * defects.OLD_CODE_RATE < old_rate < 3 * defects.OLD_CODE_RATE
    invalid_rate = dx.is_in(list(defects.INVALID_DX_CODES)).mean()
    assert 0.25 * defects.INVALID_MAIN_DX_RATE < invalid_rate < 3 * defects.INVALID_MAIN_DX_RATE
    assert not set(defects.INVALID_DX_CODES) & set(tables.dx_names)
    assert canonical_code(" k35.300X001 ") == "K35.300x001"


def test_procedure_codes(cases: pl.DataFrame) -> None:
    tables = load_code_tables()
    procs = (
        cases.select(
            pl.concat_str("main_proc", "other_procs", separator=";", ignore_nulls=True)
            .str.split(";")
            .alias("p")
        )
        .explode("p")
        .filter(pl.col("p").is_not_null() & (pl.col("p") != ""))
        .select(_canon(pl.col("p")))["p"]
    )
    assert procs.len() > 0.4 * cases.height
    assert procs.is_in(list(tables.proc_names)).mean() > 0.97
    has_proc = cases["main_proc"].is_not_null().mean()
    assert 0.3 < has_proc < 0.7
    # other procedures only come with a main procedure
    orphan_procs = pl.col("main_proc").is_null() & pl.col("other_procs").is_not_null()
    assert cases.filter(orphan_procs).is_empty()
    assert cases["other_procs"].is_null().mean() > 0.7
    assert cases["other_dx"].is_not_null().mean() > 0.4


def test_sex_and_age_rules(cases: pl.DataFrame) -> None:
    c = cases.with_columns(
        _canon(pl.col("main_dx")).alias("dx"),
        pl.col("sex").cast(pl.Int32),
        pl.col("age_years").cast(pl.Int32),
        pl.col("age_days").cast(pl.Int32),
        pl.col("birth_weight_g").cast(pl.Float64),
    )
    chapter = pl.col("dx").str.slice(0, 1)
    num = pl.col("dx").str.slice(1, 2).cast(pl.Int32, strict=False)
    female = (chapter == "O") | ((chapter == "N") & num.is_between(70, 98))
    male = ((chapter == "N") & num.is_between(40, 51)) | pl.col("dx").str.starts_with("C61")
    newborn = chapter == "P"
    assert c.filter(female).height > 0 and c.filter(newborn).height > 0
    not_woman_15_50 = (pl.col("sex") != 2) | ~pl.col("age_years").is_between(15, 50)
    assert c.filter(female & not_woman_15_50).is_empty()
    assert c.filter(male & (pl.col("sex") != 1)).is_empty()
    bad_newborn = (
        (pl.col("age_years") != 0)
        | ~pl.col("age_days").is_between(0, 28)
        | ~pl.col("birth_weight_g").is_between(1500, 4500)
    )
    assert c.filter(newborn & bad_newborn).is_empty()
    assert c.filter(pl.col("age_days").is_not_null() & (pl.col("age_years") >= 1)).is_empty()
    assert c.filter(pl.col("age_days").is_null() & (pl.col("age_years") == 0)).is_empty()
    assert c.filter(pl.col("birth_weight_g").is_not_null() & (pl.col("age_years") > 0)).is_empty()
    assert set(c["sex"]) == {1, 2}
    assert c["age_years"].min() >= 0 and c["age_years"].max() <= 100
    assert set(c["discharge_disposition"]) <= {"1", "2", "3", "4", "5", "9"}
    assert (c["discharge_disposition"] == "1").mean() > 0.85
    assert 0 < (c["discharge_disposition"] == "5").mean() < 0.03


def test_patients_and_insurance(cases: pl.DataFrame) -> None:
    assert cases["patient_id"].str.len_chars().unique().to_list() == [18]
    per_patient = cases.group_by("patient_id").agg(pl.len(), pl.col("sex").n_unique())
    assert (per_patient["len"] >= 2).any()  # some patients come back
    assert (per_patient["sex"] == 1).all()  # … with the same sex
    assert set(cases["insurance_type"]) == {"employee", "resident"}
    assert 0.3 < (cases["insurance_type"] == "employee").mean() < 0.5


def test_costs_by_level_year_and_fund_share(
    cases: pl.DataFrame, settlements: pl.DataFrame, hospitals: pl.DataFrame
) -> None:
    j = cases.join(settlements, on="case_id").join(hospitals, on="hospital_id")
    for year in YEARS:
        by_level = (
            j.filter(pl.col("year") == year)
            .group_by("level")
            .agg(pl.col("total_cost_yuan").mean())
            .sort("level")["total_cost_yuan"]
            .to_list()
        )
        assert by_level[2] > by_level[1] > by_level[0], (year, by_level)
    by_year = (
        j.group_by("year").agg(pl.col("total_cost_yuan").log().mean()).sort("year")["total_cost_yuan"]
    )
    assert (by_year.diff().drop_nulls() > 0).all()
    assert by_year[-1] - by_year[0] > 0.08  # ~5 % a year

    share = j.group_by("insurance_type", "level").agg(
        (pl.col("fund_paid_yuan").sum() / pl.col("total_cost_yuan").sum()).alias("share")
    )
    emp = share.filter(pl.col("insurance_type") == "employee").sort("level")["share"].to_list()
    res = share.filter(pl.col("insurance_type") == "resident").sort("level")["share"].to_list()
    assert all(0.75 < x < 0.9 for x in emp), emp
    assert all(0.55 < x < 0.7 for x in res), res
    assert emp[0] > emp[2] and res[0] > res[2]  # level 1 reimburses more than level 3

    los_cost = j.select(
        pl.corr(pl.col("los_days").cast(pl.Float64).log(), pl.col("total_cost_yuan").log())
    ).item()
    assert los_cost > 0.4


def test_parquet_matches_csv(csv_dir: Path, tmp_path: Path) -> None:
    pq = tmp_path / "pq"
    generate(pq, years=(2019, 2020), cases_per_year=N_PER_YEAR, seed=SEED, file_format="parquet")
    assert pl.read_parquet(pq / "hospitals.parquet").columns == HOSPITAL_COLUMNS
    for y in (2019, 2020):
        c_pq = pl.read_parquet(pq / f"cases_{y}.parquet")
        c_csv = _read_csv(csv_dir / f"cases_{y}.csv")
        assert c_pq.columns == CASE_COLUMNS
        for col in ("case_id", "main_dx", "other_procs", "patient_id"):
            assert c_pq[col].to_list() == c_csv[col].to_list(), col
        assert c_pq["discharge_date"].dtype == pl.Date
        assert c_pq["discharge_date"].cast(pl.String).to_list() == c_csv["discharge_date"].to_list()
        s_pq = pl.read_parquet(pq / f"settlements_{y}.parquet")
        s_csv = _read_csv(csv_dir / f"settlements_{y}.csv")
        assert s_pq.columns == SETTLEMENT_COLUMNS
        assert s_pq["case_id"].to_list() == s_csv["case_id"].to_list()
        diff = (s_pq["total_cost_yuan"] - s_csv["total_cost_yuan"].cast(pl.Float64)).abs().max()
        assert diff < 1e-9
    again = tmp_path / "pq2"
    generate(again, years=(2019,), cases_per_year=N_PER_YEAR, seed=SEED, file_format="parquet")
    for name in ("cases_2019.parquet", "settlements_2019.parquet", "hospitals.parquet"):
        assert (again / name).read_bytes() == (pq / name).read_bytes(), name


def test_catalogue_codes_are_real() -> None:
    types = load_catalog()
    tables = load_code_tables()
    assert 2000 <= len(types) <= 10000
    assert types.dx_codes.is_in(list(tables.dx_names)).all()
    assert types.sib_codes.is_in(list(tables.dx_names)).all()
    procs = types.main_proc.drop_nulls()
    assert procs.is_in(list(tables.proc_names)).all()
    assert abs(types.weight.sum() - 1) < 1e-9
    assert (types.base_cost >= 2000).all() and (types.base_cost <= 80000).all()


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate(tmp_path, file_format="xlsx")
    with pytest.raises(ValueError):
        generate(tmp_path, cases_per_year=0)
