"""Small-cell suppression in the dashboard's data layer (access.suppression_min_hospitals = 3),
the relative CMI, ranks of all-zero indices and the display helpers.

The hand-made warehouse of ``test_app`` gets four more hospitals and history cases (2019) of
two groups: J18.9| at H001, H004 (level 3) and H002, H005, H006, H007 (level 2); I21.9|00.6600
at H001 and H004 only. A hospital user of H001 (level 3) has one other level-3 hospital, so
no level-3 figure may reach it; four other level-2 hospitals are enough.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dip_sim.access import access_settings
from dip_sim.dashboard import catalog_data, data
from dip_sim.dashboard import format as fmt
from dip_sim.dashboard import supervision_data as sv
from tests.test_app import PAGES, add_case_details, build_warehouse, run_app

# case_id, hospital, level, group, cost
HISTORY = [
    ("Y01", "H001", 3, "J18.9|", 6000.0), ("Y02", "H004", 3, "J18.9|", 8000.0),
    ("Y03", "H002", 2, "J18.9|", 4000.0), ("Y04", "H005", 2, "J18.9|", 4200.0),
    ("Y05", "H006", 2, "J18.9|", 3800.0), ("Y06", "H007", 2, "J18.9|", 4400.0),
    ("Y07", "H001", 3, "I21.9|00.6600", 20000.0), ("Y08", "H004", 3, "I21.9|00.6600", 24000.0),
]


@pytest.fixture()
def city(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = add_case_details(build_warehouse(tmp_path / "w.duckdb"))
    with duckdb.connect(str(path)) as con:
        con.executemany("INSERT INTO hospitals (hospital_id, hospital_name, level, county) "
                        "VALUES (?, ?, ?, '城区')",
                        [("H004", "丁医院", 3), ("H005", "戊医院", 2), ("H006", "己医院", 2),
                         ("H007", "庚医院", 2)])
        con.execute("UPDATE runs SET history_years = '2019'")
        con.executemany("INSERT INTO case_groups (scenario, year, case_id, hospital_id, "
                        "group_code, grouped) VALUES ('baseline', 2019, ?, ?, ?, TRUE)",
                        [(c, h, g) for c, h, _, g, _ in HISTORY])
        con.executemany("INSERT INTO case_features VALUES (?, 2019, ?, ?, 'employee', ?, ?, TRUE)",
                        [(c, h, lv, cost, cost * 0.8) for c, h, lv, _, cost in HISTORY])
        con.execute("INSERT INTO catalog_group_years VALUES "
                    "('baseline', NULL, 'J18.9|', 2019, 6, 5066.67)")
    monkeypatch.setenv(data.ENV_DB, str(path))
    monkeypatch.delenv(data.ENV_HOSPITAL, raising=False)
    return path


def as_hospital(monkeypatch: pytest.MonkeyPatch, hospital_id: str = "H001") -> None:
    monkeypatch.setenv(data.ENV_HOSPITAL, hospital_id)


def test_the_floor_is_the_access_parameter(city: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert access_settings().suppression_min_hospitals == 3
    assert data.suppression_floor() == (None, 0)
    as_hospital(monkeypatch)
    assert data.suppression_floor() == ("H001", 3)


def test_a_two_hospital_level_shows_a_hospital_user_no_figure(
        city: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bureau = catalog_data.group_cost_by_level("baseline", "J18.9|").set_index("level")
    assert bureau.loc[3, "n_cases"] == 2 and bureau.loc[3, "mean_cost_yuan"] == 7000.0
    assert not bureau["suppressed"].any()
    as_hospital(monkeypatch)
    own = catalog_data.group_cost_by_level("baseline", "J18.9|").set_index("level")
    assert own.loc[3, "suppressed"] and own.loc[3, "n_other"] == 1
    figures = ["n_cases", "mean_cost_yuan", "p5_cost_yuan", "p25_cost_yuan",
               "median_cost_yuan", "p75_cost_yuan", "p95_cost_yuan"]
    assert own.loc[3, figures].isna().all()  # H004's 8,000 cannot be read back
    assert not own.loc[2, "suppressed"] and own.loc[2, "n_other"] == 4
    assert own.loc[2, "n_cases"] == 4 and own.loc[2, "mean_cost_yuan"] == pytest.approx(4100.0)


def test_catalogue_statistics_are_suppressed_but_points_stay(
        city: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    as_hospital(monkeypatch)
    groups = catalog_data.catalog("baseline").set_index("group_code")
    few = groups.loc["I21.9|00.6600"]  # H004 is the only other hospital
    assert few["suppressed"] and pd.isna(few["n_cases"]) and pd.isna(few["mean_cost_yuan"])
    assert few["rw"] == 200.0 and few["group_type"] == "core"  # the published standard
    many = groups.loc["J18.9|"]  # five other hospitals
    assert not many["suppressed"] and many["n_cases"] == 120
    # a group without history cases in case_groups has no contributor: blank too
    assert groups.loc["K35.8|47.0900", "suppressed"]
    # another hospital (H002: level 2) has the same view of the catalogue
    as_hospital(monkeypatch, "H004")
    assert catalog_data.catalog("baseline").set_index("group_code").loc[
        "I21.9|00.6600", "suppressed"]


def test_group_years_summary_and_bands_are_counted_too(
        city: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    as_hospital(monkeypatch)
    years = catalog_data.catalog_group_years("baseline", "J18.9|").set_index("year")
    assert not years.loc[2019, "suppressed"] and years.loc[2019, "n_cases"] == 6
    years = catalog_data.catalog_group_years("baseline", "I21.9|00.6600").set_index("year")
    assert years["suppressed"].all() and years["n_cases"].isna().all()
    summary = catalog_data.catalog_summary("baseline").set_index("group_type")
    assert not summary.loc["core", "suppressed"]  # core: H002, H004..H007 besides H001
    assert summary.loc["comprehensive", "suppressed"]  # no history case at all
    assert summary.loc["comprehensive", "n_groups"] == 2  # the catalogue's own count stays
    bureau_free = catalog_data.catalog_cv_bands("baseline")
    assert set(bureau_free.columns) >= {"cv_band", "n_groups", "n_cases", "suppressed"}


def test_bureau_and_expert_see_everything(city: Path) -> None:
    for frame in (catalog_data.catalog("baseline"), catalog_data.catalog_summary("baseline"),
                  catalog_data.catalog_cv_bands("baseline")):
        assert not frame["suppressed"].any()


def test_without_the_case_table_a_hospital_user_sees_no_statistics(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = build_warehouse(tmp_path / "results_only.duckdb")
    monkeypatch.setenv(data.ENV_DB, str(path))
    as_hospital(monkeypatch)
    groups = catalog_data.catalog("baseline")
    assert groups["suppressed"].all() and groups["n_cases"].isna().all()
    assert groups["rw"].notna().all()


def test_relative_cmi_and_the_regions_cmi(city: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # H001: 4 cases at CMI 212.5, H002: 2 at 65 → region (850 + 130) / 6 = 163.333…
    rows = data.hospital_indices("baseline").set_index("hospital_id")
    assert rows.loc["H001", "region_cmi"] == pytest.approx(980 / 6)
    assert rows.loc["H001", "cmi_relative"] == pytest.approx(212.5 / (980 / 6))
    assert rows.loc["H002", "cmi_relative"] == pytest.approx(65 / (980 / 6))
    # the case-weighted mean of the relative CMI is 1.00, the region's average case
    weights = rows["n_cases"] / rows["n_cases"].sum()
    assert (rows["cmi_relative"] * weights).sum() == pytest.approx(1.0)
    as_hospital(monkeypatch)  # one other hospital with indices: the region's CMI is H002's too
    own = data.hospital_indices("baseline", "H001").iloc[0]
    assert own["suppressed"] and pd.isna(own["region_cmi"]) and pd.isna(own["cmi_relative"])
    assert own["cmi"] == 212.5


def _supervision(path: Path, values: dict[str, float]) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE IF NOT EXISTS supervision_hospitals (scenario VARCHAR, "
                    "year INTEGER, hospital_id VARCHAR, index_code VARCHAR, n_base INTEGER, "
                    "n_flagged INTEGER, value DOUBLE, region_value DOUBLE, ratio_to_region DOUBLE, "
                    "z_score DOUBLE, prev_value DOUBLE, rank INTEGER)")
        con.execute("DELETE FROM supervision_hospitals")
        con.executemany(
            "INSERT INTO supervision_hospitals (scenario, year, hospital_id, index_code, value, "
            "region_value, rank) VALUES ('baseline', 2020, ?, 'long_stay', ?, 0.5, ?)",
            [(h, v, i + 1) for i, (h, v) in enumerate(values.items())])


def test_all_zero_indices_have_no_rank(city: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _supervision(city, {h: 0.0 for h in ("H001", "H002", "H003", "H004", "H005", "H006")})
    table = sv.index_by_hospital("baseline", 2020, "long_stay")
    assert table["rank"].isna().all() and (table["n_ranked"] == 6).all()
    as_hospital(monkeypatch)
    own = sv.hospital_indices("baseline", 2020, "H001").iloc[0]
    assert pd.isna(own["rank"]) and not own["suppressed"]
    assert fmt.fmt_rank(own["rank"], own["n_ranked"]) == "—"


def test_a_hospital_user_sees_no_rank_among_too_few(
        city: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _supervision(city, {"H001": 0.2, "H002": 0.1, "H003": 0.0})
    assert sv.index_by_hospital("baseline", 2020, "long_stay")["rank"].tolist() == [1, 2, 3]
    as_hospital(monkeypatch)
    own = sv.hospital_indices("baseline", 2020, "H001").iloc[0]
    assert own["suppressed"] and pd.isna(own["region_value"]) and pd.isna(own["rank"])
    assert own["index_value"] == 0.2  # its own value stays
    _supervision(city, {"H001": 0.2, "H002": 0.1, "H003": 0.0, "H004": 0.3})
    own = sv.hospital_indices("baseline", 2020, "H001").iloc[0]
    assert not own["suppressed"] and own["rank"] == 1 and own["n_ranked"] == 4
    assert fmt.fmt_rank(own["rank"], own["n_ranked"]) == "1 / 4"


def test_tables_print_missing_values_as_a_dash(city: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    as_hospital(monkeypatch)
    at = run_app(f"{PAGES}/catalog.py", {"name": "h", "role": "hospital", "hospital_id": "H001"})
    assert at.dataframe and all(d.proto.placeholder == "—" for d in at.dataframe)
    groups = next(d.value for d in at.dataframe if "病种编码" in d.value.columns
                  and "病例数" in d.value.columns)
    few = groups[groups["病种编码"] == "I21.9|00.6600"].iloc[0]
    assert pd.isna(few["病例数"]) and few["病种分值"] == 200.0
    assert any("参与该汇总的其他医院少于 3 家" in c.value for c in at.caption)


def test_catalogue_comparison_counts_are_suppressed(city: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # growth_8pct re-points both groups and moves H001's and H004's I21.9 cases to C34.9
    with duckdb.connect(str(city)) as con:
        con.execute("UPDATE catalog_groups SET rw = rw * 1.1 WHERE scenario = 'growth_8pct' "
                    "AND group_code IN ('J18.9|', 'I21.9|00.6600')")
        con.execute("INSERT INTO case_groups (scenario, year, case_id, hospital_id, group_code, "
                    "grouped) SELECT 'growth_8pct', year, case_id, hospital_id, CASE WHEN "
                    "group_code = 'I21.9|00.6600' THEN 'C34.9|32.4100' ELSE group_code END, "
                    "grouped FROM case_groups WHERE scenario = 'baseline'")
    bureau = catalog_data.catalogue_comparison("baseline", "growth_8pct")
    assert bureau["病例流向"]["n_cases"].tolist() == [2]
    as_hospital(monkeypatch)
    tables = catalog_data.catalogue_comparison("baseline", "growth_8pct")
    groups = tables["病种变化"].set_index("group_code")
    assert groups.loc["J18.9|", "n_cases_a"] == 120 and not groups.loc["J18.9|", "suppressed"]
    assert pd.isna(groups.loc["I21.9|00.6600", "n_cases_a"])  # H004 the only other one
    assert groups.loc["I21.9|00.6600", "rw_b"] == pytest.approx(220.0)  # points stay
    flows = tables["病例流向"]
    assert flows["suppressed"].tolist() == [True] and flows["n_cases"].isna().all()


def test_display_helpers_say_when_there_is_nothing_to_show() -> None:
    from dip_sim.dashboard.pages import common

    assert common.nothing_to_draw(pd.Series([0.0, None]), pd.Series([0]))
    assert not common.nothing_to_draw(pd.Series([0.0, 0.5]))
    assert fmt.fmt_rank(None, 6) == "—" and fmt.fmt_rank(2.0, 6) == "2 / 6"
    assert fmt.fmt_number(float("nan"), 3) == "—"
