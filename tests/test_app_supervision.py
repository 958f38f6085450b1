"""The 监管与考核 page (docs/dashboard.md) on the planted city: what each role sees.

The bureau sees every hospital, with the hospital that planted split admissions first on that
index; a hospital user sees its own rows only, on the page and in the data layer; a
warehouse without supervision results says what to run.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from dip_sim.dashboard import data
from dip_sim.dashboard import supervision_data as sv

ROOT = Path(__file__).resolve().parents[1]
PAGE = "dip_sim/dashboard/pages/supervision.py"
BUREAU = {"name": "bureau", "role": "bureau", "hospital_id": None}
EXPERT = {"name": "expert", "role": "expert", "hospital_id": None}
OWN = "H140302001"  # 阳泉市第一人民医院 (planted upcoding by severity codes)
SPLITTER = "H140302002"  # 阳泉市第二人民医院 (planted split admissions)


@pytest.fixture
def city(planted_city, monkeypatch):
    monkeypatch.setenv(data.ENV_DB, str(planted_city["db"]))
    monkeypatch.delenv(data.ENV_HOSPITAL, raising=False)
    return planted_city


def open_page(user: dict) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["user"] = user
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_bureau_sees_every_hospital_with_the_planter_first(city):
    at = open_page(BUREAU)
    assert at.title[0].value == "监管与考核"
    assert at.selectbox(key="sv_index").value == "split_admission"
    table = at.dataframe[0].value
    assert len(table) > 30
    assert table["医院名称"].iloc[0] == "阳泉市第二人民医院"
    # the other tabs: the scores of every hospital, flagged cases, anomalies, categories
    assert len(at.dataframe[1].value) == len(table)
    at.selectbox(key="sv_case_index").set_value("split_admission").run()
    assert not at.exception
    at.selectbox(key="sv_case_hospital").set_value(SPLITTER).run()
    cases = at.dataframe[3].value
    assert len(cases) > 0 and set(cases["医疗机构代码"]) == {SPLITTER}


def test_expert_opens_the_page(city):
    at = open_page(EXPERT)
    assert len(at.dataframe[0].value) > 30


def test_hospital_user_sees_its_own_rows_only(city, monkeypatch):
    at = open_page({"name": "h", "role": "hospital", "hospital_id": OWN})
    own = at.dataframe[0].value  # every index of its own hospital, with its rank
    assert "分解住院" in set(own["指数"])
    ranks = own["排名 / 医院数"]  # "—": an index every hospital has at 0 is not ranked
    assert all("/" in r or r == "—" for r in ranks) and any("/" in r for r in ranks)
    shown = "\n".join(str(df.value.to_dict()) for df in at.dataframe)
    with duckdb.connect(str(city["db"]), read_only=True) as con:
        others = [r[0] for r in con.execute(
            "SELECT DISTINCT hospital_id FROM supervision_hospitals WHERE hospital_id <> ?",
            [OWN]).fetchall()]
    assert others and not any(h in shown for h in others)
    # the data layer refuses other hospitals whatever the page asks for
    monkeypatch.setenv(data.ENV_HOSPITAL, OWN)
    assert sv.flagged_cases("baseline", 2020, "split_admission", SPLITTER).empty
    assert set(sv.flagged_cases("baseline", 2020, "long_stay", None)["hospital_id"]) <= {OWN}
    assert sv.assessment_breakdown("baseline", 2020, SPLITTER).empty
    assert sv.upcoding_categories("baseline", 2020, SPLITTER).empty
    assert set(sv.assessment_scores("baseline", 2020)["hospital_id"]) == {OWN}
    assert set(sv.anomalies("baseline", 2020)["hospital_id"]) <= {OWN}
    by_hospital = sv.index_by_hospital("baseline", 2020, "split_admission")
    assert list(by_hospital["hospital_id"]) == [OWN]
    assert by_hospital["n_ranked"].iloc[0] > 30  # its rank among all hospitals, not their rows


def test_without_supervision_results_the_page_says_what_to_run(tmp_path, monkeypatch):
    db = tmp_path / "empty.duckdb"
    duckdb.connect(str(db)).close()
    monkeypatch.setenv(data.ENV_DB, str(db))
    at = open_page(BUREAU)
    assert any("尚无模拟结果" in str(i.value) or "dip-sim supervise" in str(i.value)
               for i in at.info)


def test_a_hospitals_report_names_no_other_hospital(city):
    from dip_sim.reports.supervision import supervision_tables

    with duckdb.connect(str(city["db"]), read_only=True) as con:
        tables = supervision_tables(con, "baseline", 2020, OWN)
        others = [r[0] for r in con.execute(
            "SELECT DISTINCT hospital_id FROM hospitals WHERE hospital_id <> ?", [OWN]).fetchall()]
    text = "\n".join(frame.to_string() for frame in tables.values())
    assert len(tables["标记病例"]) > 0
    assert not [h for h in others if h in text]


def test_the_report_download_is_the_own_hospitals_for_a_hospital_user(city, monkeypatch):
    import io

    import polars as pl

    at = open_page({"name": "h", "role": "hospital", "hospital_id": OWN})
    at.button(key="sv_report").click().run()
    assert not at.exception
    assert at.get("download_button")  # offered once made
    monkeypatch.setenv(data.ENV_HOSPITAL, OWN)
    sheets = pl.read_excel(io.BytesIO(sv.supervision_report_xlsx("baseline", 2020, OWN)),
                           sheet_id=0)
    assert set(sheets["绩效考核"]["医疗机构代码"]) == {OWN}
    with pytest.raises(data.DataUnavailable):
        sv.supervision_report_xlsx("baseline", 2020, SPLITTER)
    with pytest.raises(data.DataUnavailable):
        sv.supervision_report_xlsx("baseline", 2020, None)  # the city's: not for a hospital


def test_a_hospitals_report_suppresses_region_figures_of_too_few_hospitals(city, monkeypatch):
    import dataclasses

    from dip_sim.reports import supervision as report

    with duckdb.connect(str(city["db"]), read_only=True) as con:
        n = con.execute("SELECT count(DISTINCT hospital_id) FROM supervision_hospitals").fetchone()[0]
        shown = report.supervision_tables(con, "baseline", 2020, OWN)
        assert shown["监管指数"]["region_value"].notna().any()  # n − 1 others ≥ 3
        # a floor above the other hospitals' number blanks every region figure, not the own
        settings = dataclasses.replace(report.access_settings(), suppression_min_hospitals=n)
        monkeypatch.setattr(report, "access_settings", lambda: settings)
        blank = report.supervision_tables(con, "baseline", 2020, OWN)
        city_wide = report.supervision_tables(con, "baseline", 2020)
    indices = blank["监管指数"]
    for column in ("region_value", "ratio_to_region", "expected", "z_score", "rank"):
        assert indices[column].isna().all(), column
    assert indices["value"].equals(shown["监管指数"]["value"])
    assert blank["编码高套分类目"]["region_proc_rate"].isna().all()
    assert blank["编码高套分类目"]["proc_rate"].notna().all()
    assert city_wide["监管指数"]["region_value"].notna().any()  # the bureau's report
