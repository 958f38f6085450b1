"""The dashboard on a warehouse the real pipeline built (generated city, two scenarios)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from dip_sim.dashboard import catalog_data, quality_data
from dip_sim.paths import SCENARIO_DIR
from pipelines.simulate import run_simulate
from tests.inputs import ingest_generated_city

ROOT = Path(__file__).resolve().parents[1]
BUREAU = {"name": "bureau", "role": "bureau", "hospital_id": None}
PAGES = ["dip_sim/dashboard/pages/" + p for p in ("scenario.py", "compare.py", "forecast.py",
                                                    "monitor.py", "hospital.py", "catalog.py",
                                                    "quality.py")]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    db = ingest_generated_city(tmp_path_factory.mktemp("pipeline_app"), 1500, seed=11)
    run_simulate(db, 2020, scenario_files=[SCENARIO_DIR / "growth_8pct.yaml"],
                 progress=lambda m: None)
    return db


def test_every_page_renders_pipeline_output(warehouse, monkeypatch):
    from dip_sim.dashboard import data

    monkeypatch.setenv("DIP_SIM_DB", str(warehouse))
    monkeypatch.delenv("DIP_SIM_HOSPITAL_ID", raising=False)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["user"] = BUREAU
    at.run()
    assert not at.exception
    assert any("DIP" in m.label for m in at.metric)
    headers = [h.value for h in at.subheader]
    assert "点值历年变化" in headers and "获益与受损最多的医院" in headers
    # DIP against fee-for-service by insurance type: the cases' shares add up to the fund
    by_insurance = data.settlement_by("baseline", "insurance_type")
    assert set(by_insurance["insurance_type"]) == {"employee", "resident"}
    fund = data.point_values().set_index("scenario").loc["baseline", "dip_fund_yuan"]
    assert by_insurance["dip_amount_yuan"].sum() == pytest.approx(fund)
    assert data.settlement_by("baseline", "level")["level"].tolist() == [1, 2, 3]
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, page


def test_hospital_page_lists_cases_and_not_grouped_cases(warehouse, monkeypatch):
    from dip_sim.dashboard import data

    monkeypatch.setenv("DIP_SIM_DB", str(warehouse))
    monkeypatch.delenv("DIP_SIM_HOSPITAL_ID", raising=False)
    hospitals = data.hospital_settlement("baseline")["hospital_id"].tolist()
    rows = [data.hospital_not_grouped("baseline", h) for h in hospitals]
    listed = [r for r in rows if not r.empty]
    assert listed, "the generated city has cases that are not grouped"
    assert listed[0]["rule"].str.startswith("未入组").all()
    cases = data.hospital_cases("baseline", hospitals[0], "")
    assert len(cases) > 0
    code = cases["group_code"].iloc[0]
    assert (data.hospital_cases("baseline", hospitals[0], code)["group_code"] == code).all()

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["user"] = BUREAU
    at.run()
    at.switch_page("dip_sim/dashboard/pages/hospital.py").run()
    assert not at.exception
    labels = [t.label for t in at.tabs]
    assert labels[1] == "病例" and labels[3] == "未入组病例"
    at.text_input(key="hospital_case_search").input(code).run()
    assert not at.exception


def test_quality_page_shows_each_hospitals_quality_index(warehouse, monkeypatch):

    monkeypatch.setenv("DIP_SIM_DB", str(warehouse))
    monkeypatch.delenv("DIP_SIM_HOSPITAL_ID", raising=False)
    index = quality_data.quality_index(2020)
    assert len(index) > 10 and index["quality_index"].between(0, 100).all()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["user"] = BUREAU
    at.run()
    at.switch_page("dip_sim/dashboard/pages/quality.py").run()
    assert not at.exception
    assert any(h.value.startswith("病案质量指数") for h in at.subheader)
    # a hospital user sees only its own hospital
    monkeypatch.setenv("DIP_SIM_HOSPITAL_ID", index["hospital_id"].iloc[0])
    assert quality_data.quality_index(2020)["hospital_id"].unique().tolist() == [index["hospital_id"].iloc[0]]


def test_hospital_statement_download_is_scoped(warehouse, monkeypatch):
    from dip_sim.dashboard import data

    monkeypatch.setenv("DIP_SIM_DB", str(warehouse))
    monkeypatch.delenv("DIP_SIM_HOSPITAL_ID", raising=False)
    hospitals = data.hospital_settlement("baseline")["hospital_id"].tolist()
    xlsx = data.hospital_statement_xlsx("baseline", hospitals[0])
    assert xlsx[:2] == b"PK"  # an .xlsx is a zip
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["user"] = BUREAU
    at.run()
    at.switch_page("dip_sim/dashboard/pages/hospital.py").run()
    at.button(key="hospital_statement").click().run()
    assert not at.exception
    # a hospital user may download its own statement only, whatever it asks for
    monkeypatch.setenv("DIP_SIM_HOSPITAL_ID", hospitals[1])
    with pytest.raises(data.DataUnavailable, match="只能下载本院"):
        data.hospital_statement_xlsx("baseline", hospitals[0])
    assert data.hospital_statement_xlsx("baseline", hospitals[1])[:2] == b"PK"


def test_catalog_page_shows_a_groups_costs_by_level(warehouse, monkeypatch):

    monkeypatch.setenv("DIP_SIM_DB", str(warehouse))
    monkeypatch.delenv("DIP_SIM_HOSPITAL_ID", raising=False)
    code = catalog_data.catalog("baseline")["group_code"].iloc[0]  # the largest core group
    by_level = catalog_data.group_cost_by_level("baseline", code)
    assert by_level["n_cases"].sum() == catalog_data.catalog("baseline").set_index(
        "group_code").loc[code, "n_cases"]  # every history case of the group, by level
    assert (by_level["p25_cost_yuan"] <= by_level["median_cost_yuan"]).all()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["user"] = BUREAU
    at.run()
    at.switch_page("dip_sim/dashboard/pages/catalog.py").run()
    assert not at.exception
    assert any("按医院等级的分布" in c.value for c in at.caption)


def test_groups_searched_by_diagnosis_name(warehouse, monkeypatch):

    monkeypatch.setenv("DIP_SIM_DB", str(warehouse))
    groups = catalog_data.catalog("baseline")
    assert groups["dx_name"].notna().all()  # every group has its diagnosis's name
    name = groups["dx_name"].iloc[0]
    found = catalog_data.catalog("baseline", code_contains=name[:4])
    assert len(found) >= 1 and found["dx_name"].str.contains(name[:4], regex=False).all()


def test_catalogue_versions_compared_in_the_page(warehouse, monkeypatch):

    monkeypatch.setenv("DIP_SIM_DB", str(warehouse))
    monkeypatch.delenv("DIP_SIM_HOSPITAL_ID", raising=False)
    diff = catalog_data.catalogue_comparison("baseline", "growth_8pct")
    assert diff["病种变化"].empty  # the growth rate does not touch the catalogue
    assert list(diff["参数差异"]["parameter"]) == ["budget.growth_rate"]
    hospitals = diff["医院影响"]["hospital_id"].tolist()
    assert len(hospitals) > 1
    # a hospital user sees its own row of the hospitals' effect only
    monkeypatch.setenv("DIP_SIM_HOSPITAL_ID", hospitals[0])
    assert catalog_data.catalogue_comparison("baseline", "growth_8pct")["医院影响"][
        "hospital_id"].tolist() == [hospitals[0]]
    monkeypatch.delenv("DIP_SIM_HOSPITAL_ID")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["user"] = BUREAU
    at.run()
    at.switch_page("dip_sim/dashboard/pages/catalog.py").run()
    assert not at.exception
    assert "目录版本比较" in [h.value for h in at.subheader]
    assert {m.label: m.value for m in at.metric}["新增病种"] == "0"


def test_hospital_page_year_end_steps_add_up(warehouse, monkeypatch):
    from dip_sim.dashboard import data

    monkeypatch.setenv("DIP_SIM_DB", str(warehouse))
    monkeypatch.delenv("DIP_SIM_HOSPITAL_ID", raising=False)
    hospital = data.hospital_settlement("baseline")["hospital_id"].iloc[0]
    r = data.hospital_year_end("baseline", hospital).iloc[0]
    # the steps the page shows: year-end = assessed + kept − clawback + shared − deposit kept
    assert r["year_end_amount_yuan"] == pytest.approx(
        r["assessed_amount_yuan"] - r["clawback_yuan"] + r["overspend_shared_yuan"]
        - (r["withheld_yuan"] - r["withhold_released_yuan"]))
    assert r["clearing_yuan"] == pytest.approx(
        r["year_end_amount_yuan"] - r["prepaid_yuan"] - r["advance_yuan"])
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["user"] = BUREAU
    at.run()
    at.switch_page("dip_sim/dashboard/pages/hospital.py").run()
    assert not at.exception
    assert [t.label for t in at.tabs][-2:] == ["特例单议", "年终结算"]
    assert "年终清算额" in str(at.table[0].value)


def test_saved_scenarios_compared_with_the_baseline(warehouse, monkeypatch, tmp_path):
    from dip_sim.dashboard import data
    from dip_sim.policy import load_baseline, parameters_for_year

    monkeypatch.setenv("DIP_SIM_DB", str(warehouse))
    monkeypatch.delenv("DIP_SIM_HOSPITAL_ID", raising=False)
    monkeypatch.setenv("DIP_SIM_SCENARIO_DIR", str(tmp_path))
    (tmp_path / "growth_6pct.yaml").write_text(
        "name: growth_6pct\ndescription: 增长率 6%\nchanges:\n  budget.growth_rate: 0.06\n",
        encoding="utf-8")
    (tmp_path / "broken.yaml").write_text("name: [growth\nchanges: {", encoding="utf-8")
    (tmp_path / "unknown.yaml").write_text(
        "name: unknown\nchanges:\n  budget.no_such_parameter: 1\n", encoding="utf-8")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["user"] = BUREAU
    at.run()
    at.switch_page("dip_sim/dashboard/pages/scenario.py").run()
    assert "已保存情景比较" in [h.value for h in at.subheader]
    files = at.multiselect(key="saved_files")
    # the saved files and the shipped ones
    assert {"growth_6pct.yaml", "broken.yaml", "unknown.yaml", "growth_8pct.yaml",
            "panel_adjustments.yaml"} <= {o.split("（")[0] for o in files.options}
    for path in (SCENARIO_DIR / "growth_8pct.yaml", tmp_path / "growth_6pct.yaml",
                 tmp_path / "broken.yaml", tmp_path / "unknown.yaml"):
        files = files.select(str(path))
    files.run()
    at.button(key="saved_run").click().run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 2
    assert errors[0].startswith("情景文件 broken.yaml 无法试算") and "YAML" in errors[0]
    assert errors[1].startswith("情景文件 unknown.yaml") and "budget.no_such_parameter" in errors[1]
    table = at.dataframe[-1].value.set_index("情景")
    assert list(table.index) == ["baseline", "growth_8pct", "growth_6pct"]  # one row a file
    assert list(table["情景文件"]) == ["—", "growth_8pct.yaml", "growth_6pct.yaml"]
    # the what-if of the shipped file gives what the batch run of it wrote
    stored = data.point_values().set_index("scenario")
    for name in ("baseline", "growth_8pct"):
        assert table.loc[name, "DIP 基金总额（万元）"] == pytest.approx(
            round(stored.loc[name, "dip_fund_yuan"] / 1e4, 2))
        assert table.loc[name, "结算点值（元/分）"] == pytest.approx(
            round(stored.loc[name, "pv_settlement_yuan"], 4))
    # growth method: the fund is last year's payments × (1 + g) × (1 − reserve rate)
    g = parameters_for_year(load_baseline(), 2020)["budget.growth_rate"]
    fund_6 = stored.loc["baseline", "dip_fund_yuan"] * 1.06 / (1 + g)
    assert table.loc["growth_6pct", "DIP 基金总额（万元）"] == pytest.approx(fund_6 / 1e4, abs=0.006)
    year_end = data.fund_year_end("growth_8pct")["year_end_total_yuan"].iloc[0]
    assert table.loc["growth_8pct", "年终结算合计（万元）"] == pytest.approx(round(year_end / 1e4, 2))


def test_scenario_comparison_carries_the_year_end_amounts(warehouse, monkeypatch):
    from dip_sim.dashboard import data

    monkeypatch.setenv("DIP_SIM_DB", str(warehouse))
    monkeypatch.delenv("DIP_SIM_HOSPITAL_ID", raising=False)
    table = data.scenario_comparison("growth_8pct")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        totals = dict(con.execute("SELECT scenario, year_end_total_yuan FROM point_values"
                                  ).fetchall())
    # each hospital's year-end amounts add up to its scenario's year-end total
    assert table["year_end_scenario_yuan"].sum() == pytest.approx(totals["growth_8pct"])
    assert table["year_end_base_yuan"].sum() == pytest.approx(totals["baseline"])
    assert (table["year_end_change_yuan"]
            == table["year_end_scenario_yuan"] - table["year_end_base_yuan"]).all()


def test_hospital_groups_split_its_dip_amount_and_ffs_payment(warehouse, monkeypatch):
    from dip_sim.dashboard import data

    monkeypatch.setenv("DIP_SIM_DB", str(warehouse))
    monkeypatch.delenv("DIP_SIM_HOSPITAL_ID", raising=False)
    settlement = data.hospital_settlement("baseline").set_index("hospital_id")
    hospital_id = settlement.index[0]
    groups = data.hospital_groups("baseline", hospital_id)
    # the groups' shares add up to the hospital's DIP amount and its fee-for-service payment
    assert groups["dip_amount_yuan"].sum() == pytest.approx(
        settlement.loc[hospital_id, "dip_amount_yuan"])
    assert groups["ffs_fund_paid_yuan"].sum() == pytest.approx(
        settlement.loc[hospital_id, "ffs_fund_paid_yuan"])
    assert (groups["diff_yuan"] == groups["dip_amount_yuan"] - groups["ffs_fund_paid_yuan"]).all()


def test_point_value_comparison_includes_the_year_end_total(warehouse, monkeypatch):
    from dip_sim.dashboard import data

    monkeypatch.setenv("DIP_SIM_DB", str(warehouse))
    monkeypatch.delenv("DIP_SIM_HOSPITAL_ID", raising=False)
    rows = data.point_value_comparison("growth_8pct").set_index("metric")
    # floating point values pay out the whole fund: year-end total = DIP fund, both scenarios
    for column in ("base_value", "scenario_value"):
        assert rows.loc["year_end_total_yuan", column] == pytest.approx(
            rows.loc["dip_fund_yuan", column])


def test_forecast_page_shows_each_scenarios_point_values_and_risk(warehouse, monkeypatch):
    """The 预测 page: a line per scenario, a risk sentence each, the hospitals' growth, and
    the workbook of the same figures as dip-sim project."""
    import io

    import polars as pl

    from dip_sim.dashboard import data

    at = _bureau_page(warehouse, monkeypatch, "forecast")
    assert at.title[0].value == "点值预测"
    sentences = [str(e.value) for e in [*at.warning, *at.success]]
    assert [s.split("：")[0] for s in sentences] == ["baseline", "growth_8pct"]
    years = data.projection_years(["baseline", "growth_8pct"])
    assert len(years) == 2 * 4  # the simulation year and projection.years = 3
    now = years[years["years_ahead"] == 0].set_index("scenario")["pv_settlement_yuan"]
    stored = data.point_values().set_index("scenario")["pv_settlement_yuan"]
    assert now.to_dict() == pytest.approx(stored.loc[now.index].to_dict(), rel=1e-9)
    tables = [d.value for d in at.dataframe]
    assert any("占全市分值增长（%）" in t.columns and len(t) > 1 for t in tables), \
        [list(t.columns) for t in tables]
    book = pl.read_excel(io.BytesIO(data.projection_xlsx(["baseline"])), sheet_id=0)
    assert set(book) == {"点值预测", "风险线", "医院预测"}


def test_monitor_page_shows_the_estimate_and_reruns_another_month(warehouse, monkeypatch):
    """The 运行监测 page: as stored (the last month loaded: December), then through June,
    computed on the baseline without writing; its estimate equals dip-sim monitor's."""
    from dip_sim.reports.monitoring import monitoring_tables

    at = _bureau_page(warehouse, monkeypatch, "monitor")
    assert at.selectbox(key="monitor_month").value == 12
    shown = {m.label: m.value for m in at.metric}
    june = monitoring_tables(warehouse, 2020, 6)["点值估计"].iloc[0]
    at.selectbox(key="monitor_month").select(6).run()
    assert not at.exception and not at.error
    assert {m.label: m.value for m in at.metric}["结算点值估计"] == (
        f"{june['pv_estimate_yuan']:.4f} 元/分")
    assert shown["结算点值估计"] != f"{june['pv_estimate_yuan']:.4f} 元/分"


def _bureau_page(warehouse, monkeypatch, name: str) -> AppTest:
    """The page ``name`` run for the bureau on the pipeline's warehouse, without error."""
    monkeypatch.setenv("DIP_SIM_DB", str(warehouse))
    monkeypatch.delenv("DIP_SIM_HOSPITAL_ID", raising=False)
    at = AppTest.from_file(str(ROOT / f"dip_sim/dashboard/pages/{name}.py"), default_timeout=60)
    at.session_state["user"] = BUREAU
    at.run()
    assert not at.exception and not at.error
    return at
