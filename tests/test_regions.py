"""Pooling regions (统筹区): each region is run on its own data, with its own parameters.

A two-city province (``dip-sim synth --regions 2``, small) is ingested and simulated; each
city's results must equal a run of that city's data alone, changing one city's data must
change only that city's results, a parameter set for one city must reach only that city, and
the data tests must hold (and fail) per region.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml

from dip_sim.pipeline.regions import RegionError
from dip_sim.policy import PolicyError, load_baseline, load_scenario
from dip_sim.synth import generate

YEARS = [2018, 2019, 2020]
CASES = 700
A, B = "140100", "140200"
# the stored tables compared region by region, with the columns that identify a row
TABLES = {"point_values": ["scenario"], "hospital_settlement": ["scenario", "hospital_id"],
          "case_scores": ["scenario", "case_id"], "catalog_groups": ["scenario", "group_code"],
          "hospital_budget_indicators": ["scenario", "hospital_id"]}
QUIET = lambda message: None  # noqa: E731


def _ingest_and_simulate(folder: Path, scenarios: list[Path] = ()) -> Path:
    from pipelines.ingest import run_ingest
    from pipelines.simulate import run_simulate

    db = folder / "w.duckdb"
    run_ingest(folder / "in", db, progress=QUIET)
    run_simulate(db, 2020, scenario_files=list(scenarios), progress=QUIET)
    return db


def _subset(source: Path, target: Path, keep, change=None) -> None:
    """Copy the province's CSV files, keeping the hospitals ``keep`` selects (and their
    cases and settlements); ``change`` may edit the kept cases' settlements."""
    target.mkdir(parents=True)
    hospitals = pl.read_csv(source / "hospitals.csv", infer_schema=False).filter(keep)
    hospitals.write_csv(target / "hospitals.csv")
    ids = hospitals["hospital_id"]
    for year in YEARS:
        cases = pl.read_csv(source / f"cases_{year}.csv", infer_schema=False)
        cases = cases.filter(pl.col("hospital_id").is_in(ids.implode()))
        cases.write_csv(target / f"cases_{year}.csv")
        settlements = pl.read_csv(source / f"settlements_{year}.csv", infer_schema=False)
        settlements = settlements.filter(pl.col("case_id").is_in(cases["case_id"].implode()))
        if change is not None:
            settlements = change(settlements, cases)
        settlements.write_csv(target / f"settlements_{year}.csv")


@pytest.fixture(scope="module")
def province(tmp_path_factory) -> dict:
    """The province simulated with a scenario raising the growth rate in city B only."""
    mp = pytest.MonkeyPatch()
    mp.setenv("DIP_SIM_PSEUDONYM_KEY", "k")
    mp.setenv("DIP_SIM_THREADS", "1")
    folder = tmp_path_factory.mktemp("province")
    generate(folder / "in", years=YEARS, cases_per_year=CASES, seed=5, regions=2)
    scenario = folder / "growth_b.yaml"
    scenario.write_text(yaml.safe_dump({
        "name": "growth_b", "description": "只提高 B 市的增长率",
        "regions": {B: {"budget.growth_rate": 0.2}}}, allow_unicode=True), encoding="utf-8")
    try:
        db = _ingest_and_simulate(folder, [scenario])
        yield {"folder": folder, "db": db, "scenario": scenario, "mp": mp}
    finally:
        mp.undo()


def _rows(db: Path, table: str, region: str, scenario: str = "baseline") -> list[tuple]:
    """The region's rows of ``table`` (without region and catalog_version), sorted."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        columns = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()
                   if r[0] not in ("region", "catalog_version")]
        return sorted(con.execute(
            f"SELECT {', '.join(columns)} FROM {table} WHERE region = ? AND scenario = ?",
            [region, scenario]).fetchall(), key=repr)
    finally:
        con.close()


def _same(left: list[tuple], right: list[tuple]) -> bool:
    if len(left) != len(right):
        return False
    for a, b in zip(left, right, strict=True):
        for x, y in zip(a, b, strict=True):
            if isinstance(x, float) and isinstance(y, float):
                if abs(x - y) > 1e-9 * max(1.0, abs(x), abs(y)):
                    return False
            elif x != y:
                return False
    return True


def test_the_province_has_two_regions_of_different_size_and_cost(province):
    con = duckdb.connect(str(province["db"]), read_only=True)
    try:
        found = con.execute("""
            SELECT h.region, any_value(h.region_name), count(*), avg(s.total_cost_yuan)
            FROM cases c JOIN hospitals h USING (hospital_id) JOIN settlements s USING (case_id)
            GROUP BY 1 ORDER BY 1""").fetchall()
        pv = con.execute("SELECT region, pv_budget_yuan FROM point_values "
                         "WHERE scenario = 'baseline' ORDER BY region").fetchall()
        runs = con.execute("SELECT region, count(*) FROM runs GROUP BY 1 ORDER BY 1").fetchall()
    finally:
        con.close()
    assert [r[:2] for r in found] == [(A, "太原市"), (B, "大同市")]
    assert found[0][2] != found[1][2] and found[0][3] != found[1][3]
    assert [r[0] for r in pv] == [A, B] and pv[0][1] != pv[1][1]
    assert runs == [(A, 2), (B, 2)]


def test_each_region_equals_a_run_of_its_data_alone_and_a_change_stays_in_its_region(
        province, tmp_path, monkeypatch):
    monkeypatch.setenv("DIP_SIM_PSEUDONYM_KEY", "k")  # the province's key and threads
    monkeypatch.setenv("DIP_SIM_THREADS", "1")
    source = province["folder"] / "in"
    alone = tmp_path / "alone"
    _subset(source, alone / "in", pl.col("region") == A)
    alone_db = _ingest_and_simulate(alone)
    for table in TABLES:
        assert _same(_rows(alone_db, table, A), _rows(province["db"], table, A)), table

    # city B's 2020 costs raised by 10%: A's results stay, B's change
    def dearer(settlements: pl.DataFrame, cases: pl.DataFrame) -> pl.DataFrame:
        del cases
        money = [c for c in settlements.columns if c.endswith("_yuan")]
        return settlements.with_columns(
            (pl.col(c).cast(pl.Float64) * 1.1).round(2) for c in money)

    changed = tmp_path / "changed"
    _subset(source, changed / "in", pl.col("region") == A)
    _subset(source, changed / "b", pl.col("region") == B, change=dearer)
    for path in (changed / "b").iterdir():  # the whole province again, B's costs raised
        a = pl.read_csv(changed / "in" / path.name, infer_schema=False)
        pl.concat([a, pl.read_csv(path, infer_schema=False)]).write_csv(changed / "in" / path.name)
    changed_db = _ingest_and_simulate(changed)
    for table in TABLES:
        assert _same(_rows(changed_db, table, A), _rows(province["db"], table, A)), table
    assert not _same(_rows(changed_db, "point_values", B), _rows(province["db"], "point_values", B))


def test_a_parameter_set_for_one_region_reaches_only_that_region(province):
    con = duckdb.connect(str(province["db"]), read_only=True)
    try:
        funds = dict(con.execute("""
            SELECT region || '/' || scenario, dip_fund_yuan FROM point_values""").fetchall())
        params = dict(con.execute("SELECT region, params_json FROM runs "
                                  "WHERE scenario = 'growth_b'").fetchall())
        # each region's run built on its own baseline rows: A recomputed nothing, B its budget
        stages = dict(con.execute("SELECT region, base || ':' || stages_run FROM runs "
                                  "WHERE scenario = 'growth_b'").fetchall())
    finally:
        con.close()
    assert stages[A] == "baseline:"
    assert stages[B].startswith("baseline:budget") and "catalog" not in stages[B]
    assert funds[f"{A}/growth_b"] == funds[f"{A}/baseline"]
    # growth rate 0.2 instead of 0.05: the fund is 1.2 / 1.05 of the baseline's
    assert funds[f"{B}/growth_b"] == pytest.approx(funds[f"{B}/baseline"] * 1.2 / 1.05, rel=1e-9)
    assert json.loads(params[A])["budget.growth_rate"] == 0.05
    assert json.loads(params[B])["budget.growth_rate"] == 0.2


def test_the_data_tests_hold_per_region_and_fail_in_one(province):
    from dip_sim.contract import run_data_tests

    con = duckdb.connect(str(province["db"]))
    try:
        assert run_data_tests(con, ["baseline", "growth_b"]) == []
        totals = con.execute("""
            SELECT p.region, p.dip_fund_yuan - p.budget_balance_yuan, sum(h.dip_amount_yuan)
            FROM point_values p JOIN hospital_settlement h USING (scenario, region)
            WHERE scenario = 'baseline' GROUP BY ALL ORDER BY 1""").fetchall()
        assert [r[0] for r in totals] == [A, B]
        assert all(abs(fund - paid) <= 0.01 for _, fund, paid in totals)
        statuses = con.execute("""
            SELECT count(*), count(DISTINCT case_id) FROM case_groups
            WHERE scenario = 'baseline'""").fetchall()[0]
        assert statuses[0] == statuses[1] == con.execute(
            "SELECT count(*) FROM case_status").fetchall()[0][0]
        con.execute("BEGIN TRANSACTION")
        # one hospital of B paid a yuan more: B's fund no longer adds up (A's still does)
        con.execute("""UPDATE stored.hospital_settlement SET dip_amount_yuan = dip_amount_yuan + 1
                       WHERE scenario = 'baseline' AND region = ? AND hospital_id = (
                           SELECT min(hospital_id) FROM stored.hospital_settlement
                           WHERE scenario = 'baseline' AND region = ?)""", [B, B])
        failures = run_data_tests(con, ["baseline"])
        con.execute("ROLLBACK")
    finally:
        con.close()
    assert any("point_values" in f and "fund_paid_out" in f and "1 行" in f for f in failures)


def test_region_changes_are_checked_with_the_parameter_and_region_named(province, tmp_path):
    params = load_baseline()
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"name": "bad", "regions": {B: {"budget.growth_rate": "x"}}}),
                   encoding="utf-8")
    with pytest.raises(PolicyError, match=f"统筹区 {B}.*budget.growth_rate"):
        load_scenario(bad, params)
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(yaml.safe_dump({"name": "elsewhere",
                                       "regions": {"999999": {"budget.growth_rate": 0.1}}}),
                       encoding="utf-8")
    from pipelines.simulate import run_simulate

    with pytest.raises(RegionError, match="999999.*budget.growth_rate"):
        run_simulate(province["db"], 2020, scenario_files=[unknown], progress=QUIET)


def test_a_policy_file_value_for_one_region(tmp_path):
    import shutil

    from dip_sim.paths import POLICY_DIR
    from dip_sim.policy import parameters_for_year

    policy = tmp_path / "policy"
    shutil.copytree(POLICY_DIR, policy)
    budget = yaml.safe_load((policy / "budget.yaml").read_text(encoding="utf-8"))
    budget["growth_rate"]["regions"] = {B: {"2019-01-01": 0.07}}
    (policy / "budget.yaml").write_text(yaml.safe_dump(budget, allow_unicode=True),
                                        encoding="utf-8")
    params = load_baseline(policy)
    assert parameters_for_year(params, 2020, B)["budget.growth_rate"] == 0.07
    assert parameters_for_year(params, 2018, B)["budget.growth_rate"] == 0.05
    assert parameters_for_year(params, 2020, A)["budget.growth_rate"] == 0.05
    budget["growth_rate"]["regions"] = {B: {"2019-01-01": "high"}}
    (policy / "budget.yaml").write_text(yaml.safe_dump(budget, allow_unicode=True),
                                        encoding="utf-8")
    with pytest.raises(PolicyError, match=f"统筹区 {B}.*budget.growth_rate"):
        load_baseline(policy)


def test_a_hospital_without_its_region_is_named_by_file_row_and_field(province, tmp_path):
    from pipelines.ingest import run_ingest
    from pipelines.simulate import run_simulate

    folder = tmp_path / "in"
    _subset(province["folder"] / "in", folder, pl.lit(True))
    hospitals = pl.read_csv(folder / "hospitals.csv", infer_schema=False)
    hospitals.with_columns(region=pl.when(pl.int_range(pl.len()) == 3).then(None)
                           .otherwise(pl.col("region"))).write_csv(folder / "hospitals.csv")
    db = tmp_path / "w.duckdb"
    run_ingest(folder, db, progress=QUIET)
    with pytest.raises(RegionError, match="hospitals.csv 第 5 行.*region|region.*hospitals.csv 第 5 行"):
        run_simulate(db, 2020, progress=QUIET)


def test_the_dashboard_shows_a_region_at_a_time_and_the_bureau_every_region(
        province, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from dip_sim.dashboard import data
    from dip_sim.dashboard import format as fmt

    monkeypatch.setenv(data.ENV_DB, str(province["db"]))
    monkeypatch.delenv(data.ENV_HOSPITAL, raising=False)
    con = duckdb.connect(str(province["db"]), read_only=True)
    try:
        pv = dict(con.execute("SELECT region, pv_budget_yuan FROM point_values "
                              "WHERE scenario = 'baseline'").fetchall())
        hospital_b = con.execute("SELECT min(hospital_id) FROM hospitals WHERE region = ?",
                                 [B]).fetchall()[0][0]
    finally:
        con.close()
    app = str(Path(__file__).resolve().parents[1] / "app.py")

    def run(user: dict, region: str | None = None) -> AppTest:
        at = AppTest.from_file(app, default_timeout=60)
        at.session_state["user"] = user
        if region is not None:
            at.session_state[data.REGION_KEY] = region
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    from dip_sim.dashboard import quality_data

    # outside a page the first region is shown: its hospitals only
    assert set(data.hospitals()["hospital_id"].str[:5]) == {"H1401"}
    assert set(quality_data.quality_by_hospital(2020)["hospital_id"].str[:5]) == {"H1401"}
    bureau = {"name": "bureau", "role": "bureau", "hospital_id": None}
    at = run(bureau)
    picker = [s for s in at.sidebar.selectbox if s.key == data.REGION_KEY]
    assert picker and picker[0].options == ["太原市（140100）", "大同市（140200）"]
    assert "各统筹区对比" in [h.value for h in at.subheader]
    shown = {m.label: m.value for m in at.metric}
    assert shown["预算点值"] == fmt.fmt_point_value(pv[A])
    at = run(bureau, B)
    assert {m.label: m.value for m in at.metric}["预算点值"] == fmt.fmt_point_value(pv[B])

    hospital = {"name": "h", "role": "hospital", "hospital_id": hospital_b}
    at = run(hospital, A)  # a hospital user stays in its own region, whatever is asked
    assert not [s for s in at.sidebar.selectbox if s.key == data.REGION_KEY]
    assert "统筹区：大同市（140200）" in [c.value for c in at.sidebar.caption]
    assert "各统筹区对比" not in [h.value for h in at.subheader]
    assert {m.label: m.value for m in at.metric}["预算点值"] == fmt.fmt_point_value(pv[B])


def test_reports_are_made_in_one_region_of_a_province(province, capsys, tmp_path):
    from dip_sim.cli import main
    from dip_sim.pipeline.regions import results_in_region
    from dip_sim.reports.compare import compare_tables

    assert main(["compare", "baseline", "growth_b", "--db", str(province["db"])]) == 1
    assert "--region" in capsys.readouterr().err
    assert main(["compare", "baseline", "growth_b", "--region", B,
                 "--db", str(province["db"])]) == 0
    # a hospital's statement is made in its own region, without naming it
    statement = tmp_path / "h.xlsx"
    with duckdb.connect(str(province["db"]), read_only=True) as con:
        hospital = con.execute("SELECT min(hospital_id) FROM hospital_settlement "
                               "WHERE region = ?", [B]).fetchall()[0][0]
    assert main(["report", "--scenario", "growth_b", "--hospital", hospital,
                 "--out", str(statement), "--db", str(province["db"])]) == 0
    assert statement.is_file()
    con = duckdb.connect(str(province["db"]), read_only=True)
    try:
        with results_in_region(con, B):
            in_b = compare_tables(con, ["baseline", "growth_b"])
        with results_in_region(con, A):
            in_a = compare_tables(con, ["baseline", "growth_b"])
    finally:
        con.close()
    assert list(in_b["参数变化"]["parameter"]) == ["budget.growth_rate"]
    assert in_a["参数变化"].empty
    assert set(in_b["医院年终结算额"]["hospital_id"].str[:5]) == {"H1402"}


def test_the_api_serves_one_region_and_only_its_hospitals(province, tmp_path):
    from fastapi.testclient import TestClient

    from dip_sim.api.app import create_app
    from dip_sim.api.grouper import GrouperError
    from dip_sim.api.keys import add_key

    db = province["db"]
    with pytest.raises(GrouperError, match="--region"):
        create_app(db)
    con = duckdb.connect(str(db), read_only=True)
    try:
        hospital_a, hospital_b = (con.execute(
            "SELECT min(hospital_id) FROM hospitals WHERE region = ?", [r]).fetchall()[0][0]
            for r in (A, B))
        case = con.execute("""
            SELECT c.case_id, g.group_code FROM case_groups g JOIN cases c USING (case_id)
            WHERE g.scenario = 'baseline' AND g.year = 2020 AND g.grouped AND c.hospital_id = ?
            ORDER BY c.case_id LIMIT 1""", [hospital_b]).fetchall()[0]
        row = con.execute("SELECT c.*, s.* EXCLUDE (case_id) FROM cases c JOIN settlements s "
                          "USING (case_id) WHERE case_id = ?", [case[0]]).df()
    finally:
        con.close()
    keys = tmp_path / "keys.json"
    key_a, key_b = (add_key(h, keys)[0] for h in (hospital_a, hospital_b))
    client = TestClient(create_app(db, region=B, keys_file=keys))
    assert client.get("/v1/health").json()["region"] == B
    fields = {k: (None if v != v else str(v)) for k, v in row.iloc[0].to_dict().items()
              if k in {"case_id", "hospital_id", "sex", "age_years", "admit_date",
                       "discharge_date", "main_dx", "other_dx", "main_proc", "other_procs",
                       "total_cost_yuan", "fund_paid_yuan", "insurance_type", "los_days"}}
    fields = {k: v for k, v in fields.items() if v is not None}
    answer = client.post("/v1/group", json=fields, headers={"X-API-Key": key_b})
    assert answer.status_code == 200, answer.text
    assert answer.json()["group_code"] == case[1]
    refused = client.post("/v1/group", json=fields, headers={"X-API-Key": key_a})
    assert refused.status_code == 403 and B in refused.json()["detail"]
