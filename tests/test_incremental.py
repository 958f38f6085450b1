"""A scenario reruns only what its changes reach, and its results equal a full run's.

One small city (6,000 discharges a year, one DuckDB thread so that float sums add in the same
order) is simulated for the baseline; each test works on a copy of that warehouse.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pytest

from dip_sim.pipeline.scenario_tables import LAYERED, SCHEMA
from dip_sim.policy import load_baseline, load_scenario
from dip_sim.policy.parameters import parameters_for_year
from dip_sim.simulation import simulate
from pipelines.simulate import run_simulate, with_bases
from pipelines.warehouse import connect
from tests.inputs import ingest_generated_city


def quiet(message: str) -> None:
    del message


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    """The baseline of a small city, simulated for 2020 (a warehouse file to copy)."""
    previous = os.environ.get("DIP_SIM_THREADS")
    os.environ["DIP_SIM_THREADS"] = "1"
    folder = tmp_path_factory.mktemp("incremental")
    db = ingest_generated_city(folder, 6_000, seed=11)
    run_simulate(db, 2020, progress=quiet)
    yield db
    if previous is None:
        os.environ.pop("DIP_SIM_THREADS")
    else:
        os.environ["DIP_SIM_THREADS"] = previous


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    monkeypatch.setenv("DIP_SIM_THREADS", "1")


def _copy(city: Path, tmp_path: Path, name: str) -> Path:
    target = tmp_path / f"{name}.duckdb"
    shutil.copy(city, target)
    return target


def _scenario(folder: Path, name: str, changes: dict, base: str | None = None) -> Path:
    lines = [f"name: {name}", "description: 测试情景"] + ([f"base: {base}"] if base else [])
    lines.append("changes:")
    lines += [f"  {k}: {v}" for k, v in changes.items()]
    path = folder / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _full_run(db: Path, files: list[Path]) -> None:
    """The scenarios run with every model (no base reused)."""
    params = load_baseline()
    scenarios = with_bases([load_scenario(f, params) for f in files], {}, params)
    con = connect(db)
    try:
        simulate(con, 2020, None, scenarios, params, quiet, incremental_run=False)
    finally:
        con.close()


def _tables(db: Path, scenario: str) -> dict[str, list[tuple]]:
    """Every result table's rows of ``scenario``, sorted, as a reader sees them."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: con.execute(f"SELECT * FROM {t} WHERE scenario = ? ORDER BY ALL",
                               [scenario]).fetchall() for t in LAYERED}
    finally:
        con.close()


def _run(db: Path, scenario: str) -> dict:
    con = duckdb.connect(str(db), read_only=True)
    try:
        cur = con.execute("SELECT * FROM runs WHERE scenario = ?", [scenario])
        names = [d[0] for d in cur.description]
        return dict(zip(names, cur.fetchall()[0], strict=True))
    finally:
        con.close()


def _same(a: dict[str, list[tuple]], b: dict[str, list[tuple]]) -> None:
    """The same rows in every table, to the last digit (the differing tables are named)."""
    assert sorted(a) == sorted(b)
    differing = [t for t in a if a[t] != b[t]]
    assert not differing, f"differing: {differing}"


def test_budget_only_scenario_equals_a_full_run(city, tmp_path):
    path = _scenario(tmp_path, "budget_only", {"budget.growth_rate": 0.08})
    fast, full = _copy(city, tmp_path, "fast"), _copy(city, tmp_path, "full")
    run_simulate(fast, 2020, scenario_files=[path], progress=quiet)
    _full_run(full, [path])
    _same(_tables(fast, "budget_only"), _tables(full, "budget_only"))
    run = _run(fast, "budget_only")
    assert run["base"] == "baseline"
    assert "catalog" not in run["stages_run"].split(",")
    assert "budget" in run["stages_run"].split(",")
    assert _run(full, "budget_only")["base"] is None
    # only what its stages made is stored; the grouping is the baseline's rows
    con = duckdb.connect(str(fast), read_only=True)
    try:
        own = con.execute(f"SELECT count(*) FROM {SCHEMA}.case_groups "
                          "WHERE scenario = 'budget_only'").fetchall()[0][0]
        seen = con.execute("SELECT count(*) FROM case_groups "
                           "WHERE scenario = 'budget_only'").fetchall()[0][0]
        base = con.execute("SELECT count(*) FROM case_groups "
                           "WHERE scenario = 'baseline'").fetchall()[0][0]
        pv = con.execute("SELECT scenario, pv_settlement_yuan FROM point_values "
                         "ORDER BY scenario").fetchall()
    finally:
        con.close()
    assert own == 0 and seen == base > 0
    assert pv[0][1] != pv[1][1]  # a different fund: a different point value


def test_grouping_scenario_equals_a_full_run(city, tmp_path):
    params = load_baseline()
    threshold = parameters_for_year(params, 2020)["catalog.core_min_cases"]
    path = _scenario(tmp_path, "grouping", {"catalog.core_min_cases": threshold + 5})
    fast, full = _copy(city, tmp_path, "fast"), _copy(city, tmp_path, "full")
    run_simulate(fast, 2020, scenario_files=[path], progress=quiet)
    _full_run(full, [path])
    _same(_tables(fast, "grouping"), _tables(full, "grouping"))
    assert "catalog" in _run(fast, "grouping")["stages_run"].split(",")


def test_chained_scenario_equals_a_full_run(city, tmp_path):
    params = load_baseline()
    threshold = parameters_for_year(params, 2020)["catalog.core_min_cases"]
    grouping = _scenario(tmp_path, "grouping", {"catalog.core_min_cases": threshold + 5})
    chained = _scenario(tmp_path, "chained", {"budget.growth_rate": 0.02}, base="grouping")
    fast, full = _copy(city, tmp_path, "fast"), _copy(city, tmp_path, "full")
    run_simulate(fast, 2020, scenario_files=[chained, grouping], progress=quiet)
    _full_run(full, [grouping, chained])
    for name in ("grouping", "chained"):
        _same(_tables(fast, name), _tables(full, name))
    run = _run(fast, "chained")
    assert run["base"] == "grouping" and "catalog" not in run["stages_run"]
    # the chained scenario's parameters are its base's with its own changes
    assert '"catalog.core_min_cases": ' + str(threshold + 5) in run["params_json"]


def test_the_baseline_is_not_rerun_when_unchanged(city, tmp_path):
    db = _copy(city, tmp_path, "again")
    before = _run(db, "baseline")["run_at"]
    said: list[str] = []
    run_simulate(db, 2020, progress=said.append)
    assert any("沿用其结果" in m for m in said)
    assert _run(db, "baseline")["run_at"] == before
    run_simulate(db, 2020, progress=quiet, force=True)
    assert _run(db, "baseline")["run_at"] > before
    # another year: the baseline runs again
    said.clear()
    run_simulate(db, 2019, progress=said.append)
    assert not any("沿用其结果" in m for m in said)


def test_scenarios_on_a_resimulated_base_are_stale_until_rerun(city, tmp_path):
    db = _copy(city, tmp_path, "stale")
    budget = _scenario(tmp_path, "budget_only", {"budget.growth_rate": 0.08})
    chained = _scenario(tmp_path, "chained", {"budget.reserve_rate": 0.01}, base="budget_only")
    run_simulate(db, 2020, scenario_files=[budget, chained], progress=quiet)
    assert not _run(db, "budget_only")["stale"] and not _run(db, "chained")["stale"]
    run_simulate(db, 2020, progress=quiet, force=True)  # the base's results are replaced
    assert _run(db, "budget_only")["stale"] and _run(db, "chained")["stale"]
    said: list[str] = []
    run_simulate(db, 2020, progress=said.append, stale=True)
    assert any("过期情景：budget_only, chained" in m for m in said)
    assert not _run(db, "budget_only")["stale"] and not _run(db, "chained")["stale"]
    fresh = _copy(city, tmp_path, "fresh")
    run_simulate(fresh, 2020, scenario_files=[budget, chained], progress=quiet)
    _same(_tables(db, "chained"), _tables(fresh, "chained"))


def test_the_dashboard_says_a_scenario_is_stale(city, tmp_path, monkeypatch):
    from dip_sim.dashboard import data
    from tests.test_app import PAGES, run_app

    db = _copy(city, tmp_path, "shown")
    budget = _scenario(tmp_path, "budget_only", {"budget.growth_rate": 0.08})
    run_simulate(db, 2020, scenario_files=[budget], progress=quiet)
    monkeypatch.setenv(data.ENV_DB, str(db))
    monkeypatch.delenv(data.ENV_HOSPITAL, raising=False)
    at = run_app(f"{PAGES}/overview.py")
    at.selectbox(key="overview_scenario").set_value("budget_only").run()
    captions = " ".join(str(c.value) for c in at.caption)
    assert "沿用情景 baseline 的结果" in captions
    assert not any("已过期" in str(w.value) for w in at.warning)
    run_simulate(db, 2020, progress=quiet, force=True)
    at = run_app(f"{PAGES}/overview.py")
    at.selectbox(key="overview_scenario").set_value("budget_only").run()
    warned = " ".join(str(w.value) for w in at.warning)
    assert "本情景的结果已过期" in warned and "dip-sim simulate --year 2020 --stale" in warned


def test_a_scenario_whose_base_has_no_results_runs_in_full(city, tmp_path):
    db = _copy(city, tmp_path, "nobase")
    _scenario(tmp_path, "other", {"budget.growth_rate": 0.03})
    chained = _scenario(tmp_path, "chained", {"budget.reserve_rate": 0.01}, base="other")
    params = load_baseline()
    scenarios = with_bases([load_scenario(chained, params)], {}, params)
    said: list[str] = []
    con = connect(db)
    try:
        simulate(con, 2020, None, scenarios, params, said.append)
    finally:
        con.close()
    assert any("基础情景 other 没有模拟结果，本情景完整运行全部阶段" in m for m in said)
    run = _run(db, "chained")
    assert run["base"] is None and run["stages_run"].startswith("catalog")
    # its parameters are still its base's with its own changes
    assert '"budget.growth_rate": 0.03' in run["params_json"]


def test_what_ifs_in_a_row_equal_each_alone(city, tmp_path):
    """The 预算情景 page's what-ifs keep the unchanged models' tables for the next one: a
    sequence gives what each what-if gives alone, and a budget-only what-if equals the stored
    full run of the same scenario."""
    from dip_sim.dashboard import whatif

    db = _copy(city, tmp_path, "whatif")
    steps = [{"budget.growth_rate": 0.07}, {"catalog.core_min_cases": 12},
             {"budget.growth_rate": 0.02}, {"point_value.mode": "elastic"},
             {"budget.growth_rate": 0.07}]

    def one(changes: dict) -> tuple:
        row, hospitals = whatif.run_what_if(db, changes, 2020)
        return row["pv_settlement_yuan"], sorted(map(tuple, hospitals.to_numpy().tolist()))

    whatif._SESSIONS.clear()
    in_a_row = [one(c) for c in steps]
    alone = []
    for changes in steps:
        whatif._SESSIONS.clear()
        alone.append(one(changes))
    assert in_a_row == alone
    assert in_a_row[0] == in_a_row[-1]
    path = _scenario(tmp_path, "g7", {"budget.growth_rate": 0.07})
    _full_run(db, [path])
    con = duckdb.connect(str(db), read_only=True)
    try:
        stored = con.execute("SELECT pv_settlement_yuan FROM point_values WHERE scenario = 'g7'"
                             ).fetchall()[0][0]
    finally:
        con.close()
    assert in_a_row[0][0] == stored


def test_carries_names_what_a_stored_model_passes_on(city):
    """What a stored model passes to later models beyond its stored columns is declared
    (``carries``); a model that carries nothing is stood in for by its base's stored rows,
    which give back the model's columns."""
    from collections import Counter

    from dip_sim.catalog.adjustments import load_adjustments
    from dip_sim.pipeline import incremental
    from dip_sim.pipeline.graph import SIMULATE_STAGES, graph
    from dip_sim.pipeline.params import run_facts, set_run_params
    from dip_sim.pipeline.run import Run, run_models
    from dip_sim.policy import Scenario, resolve
    from dip_sim.simulation import catalog_version

    con = duckdb.connect()
    con.execute(f"ATTACH '{city}' AS wh (READ_ONLY)")
    con.execute("USE wh")
    params = load_baseline()
    from dip_sim.pipeline.regions import default_region

    values = resolve(params, Scenario("baseline"), 2020)
    adjustments = load_adjustments(values["catalog.adjustments_file"])
    history = [2017, 2018, 2019]
    set_run_params(con, params, values, run_facts("baseline", 2020, history,
                                                  catalog_version(con, values, adjustments)))
    run = Run("baseline", 2020, history, values,
              adjustment_actions=Counter(a.action for a in adjustments.items))
    models = graph().select(SIMULATE_STAGES)
    run_models(con, run, models, progress=quiet)
    stood_in = {}
    for m in models:
        if m.stores not in LAYERED:
            continue
        made = con.execute(f"DESCRIBE {m.name}").fetchall()
        stored = {r[0] for r in con.execute(f"DESCRIBE {m.stores}").fetchall()}
        assert tuple(r[0] for r in made if r[0] not in stored) == m.carries, m.name
        if not m.carries:
            chosen = incremental.Plan("baseline", (), (), (), (m,))
            kind, sql = incremental.stand_ins(con, chosen, default_region().code)[m.name]
            restored = con.execute(f"DESCRIBE {sql}").fetchall()
            assert kind == "VIEW"
            assert sorted(r[0] for r in restored) == sorted(r[0] for r in made), m.name
            stood_in[m.name] = ([r[:2] for r in restored], [r[:2] for r in made])
    # the case groups, which the models after grouping read the case attributes from, come
    # back exactly: the model's columns, in its order, with its types
    restored, made = stood_in["mart_case_groups"]
    assert restored == made
    con.close()


def test_the_plan_of_a_budget_change_leaves_the_grouping_and_the_scores_alone():
    """Read from the stage graph: a growth rate reaches the fund, the settlement and what reads
    them, not the grouping or the case points (they read the budget point value, which the
    fund does not change); the grouping and the case points come from the base's stored rows,
    and no model of one row per case runs again (a case's DIP amount is computed on read)."""
    from dip_sim.pipeline import incremental
    from dip_sim.pipeline.graph import SIMULATE_STAGES, graph
    from dip_sim.pipeline.run import Run
    from dip_sim.policy import Scenario, resolve

    values = resolve(load_baseline(), Scenario("x"), 2020)
    facts = Run("x", 2020, [2017, 2018, 2019], values).facts()
    chosen = incremental.plan(graph().select(SIMULATE_STAGES), {"budget.growth_rate"},
                              "baseline", facts, ("int_budget", "mart_point_values"))
    rerun = {m.name for m in chosen.rerun}
    ran = rerun | {m.name for m in chosen.replay}
    assert {"int_budget", "int_point_values", "mart_hospital_settlement"} <= rerun
    assert not ran & {"mart_case_groups", "int_keyed", "int_year_cases", "int_case_scores",
                      "mart_case_scores"}
    assert "int_budget_point_value" not in rerun
    # the case points are read summed by hospital, month and pool (case_score_cells)
    assert {m.name for m in chosen.from_base} >= {"mart_case_groups", "mart_case_score_cells",
                                                  "mart_catalog_groups"}
    # the hospital indices read the case points, not their amounts: not rerun
    assert set(chosen.stages(facts)) == {"budget", "settle", "project", "monitor"}
    # the monitoring's counts by hospital and month do not depend on the budget
    assert "mart_monitor_cells" in {m.name for m in chosen.from_base}
    # a what-if storing nothing reruns only what its point values need
    lean = incremental.plan(graph().select(SIMULATE_STAGES), {"budget.growth_rate"},
                            "baseline", facts, ("int_budget", "mart_point_values"),
                            only_wanted=True)
    assert "mart_hospital_indices" not in {m.name for m in lean.rerun}
    assert {m.name for m in lean.rerun} < rerun


def test_a_projection_change_reruns_only_the_projection():
    """Read from the stage graph: a coding-intensity assumption reaches the projection's
    models and nothing before them; the year's results come from the base."""
    from dip_sim.pipeline import incremental
    from dip_sim.pipeline.graph import SIMULATE_STAGES, graph
    from dip_sim.pipeline.run import Run
    from dip_sim.policy import Scenario, resolve

    values = resolve(load_baseline(), Scenario("x"), 2020)
    facts = Run("x", 2020, [2017, 2018, 2019], values).facts()
    chosen = incremental.plan(graph().select(SIMULATE_STAGES), {"projection.coding_intensity"},
                              "baseline", facts, ("int_budget", "mart_point_values"))
    assert chosen.stages(facts) == ["project"]
    assert {m.stage for m in chosen.rerun} == {"project"}
    assert {"mart_point_values", "mart_projection_cells"} <= {m.name for m in chosen.from_base}
    assert not {m.name for m in chosen.replay} & {"mart_case_scores", "int_case_scores"}


def test_a_stand_in_view_and_the_model_table_replace_each_other():
    """A what-if reusing its connection makes a model as a stand-in view (its base's rows), and
    in a later what-if as its own table, and back: each replaces the other."""
    from dip_sim.pipeline.run import _create

    con = duckdb.connect()
    con.execute("CREATE TABLE stored_rows AS SELECT 1 AS x")
    _create(con, "VIEW", "m", "SELECT x FROM stored_rows")
    _create(con, "TABLE", "m", "SELECT 2 AS x")
    assert con.execute("SELECT x FROM m").fetchall() == [(2,)]
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'm' "
                       "AND temporary").fetchall() == [(1,)]
    _create(con, "VIEW", "m", "SELECT x FROM stored_rows")
    assert con.execute("SELECT x FROM m").fetchall() == [(1,)]
    with pytest.raises(duckdb.CatalogException):  # any other catalog error is raised
        _create(con, "TABLE", "m2", "SELECT y FROM no_such_table")


def test_a_model_written_in_place_replaces_only_its_runs_rows_and_is_read_there():
    """A persisting run writes an ``in_place`` model's rows straight into its stored table
    (its scenario and region only), its name is then a view of them, and storing skips it; a
    model whose columns differ from the stored table's is refused before anything is written."""
    from dip_sim.pipeline.graph import Model
    from dip_sim.pipeline.run import Run, execute, store

    con = duckdb.connect()
    con.execute("CREATE SCHEMA stored")
    con.execute("CREATE TABLE stored.case_groups (scenario VARCHAR, region VARCHAR, "
                "case_id VARCHAR, n INTEGER)")
    con.execute("INSERT INTO stored.case_groups VALUES ('s', 'r', 'old', 1), "
                "('s', 'other', 'kept', 2), ('t', 'r', 'kept too', 3)")
    model = Model("mart_case_groups", "catalog", "病例入组", "case", reads=(), params=(),
                  sql="catalog/mart_case_groups.sql", stores="case_groups", in_place=True)
    run = Run("s", 2020, [2019], {}, region="r", persist=True)

    class Select(Model):  # the model's SELECT, given here instead of read from its file
        def sql_text(self) -> str:
            return "SELECT 's' AS scenario, 'new' AS case_id, 10 AS n " \
                   "UNION ALL SELECT 's', 'newer', 20"

    written = Select(**{f: getattr(model, f) for f in model.__dataclass_fields__})
    execute(con, written, run)
    assert run.written == {"mart_case_groups"}
    assert con.execute("SELECT * FROM mart_case_groups").fetchall() == [
        ("s", "new", 10), ("s", "newer", 20)]
    assert con.execute("SELECT table_type FROM information_schema.tables "
                       "WHERE table_name = 'mart_case_groups'").fetchall() == [("VIEW",)]
    store(con, run, [written])  # stored already: not written twice
    assert sorted(con.execute("SELECT region, case_id FROM stored.case_groups").fetchall()) == [
        ("other", "kept"), ("r", "kept too"), ("r", "new"), ("r", "newer")]

    class Reordered(Select):
        def sql_text(self) -> str:
            return "SELECT 's' AS scenario, 30 AS n, 'x' AS case_id"

    wrong = Reordered(**{f: getattr(model, f) for f in model.__dataclass_fields__})
    with pytest.raises(RuntimeError, match="顺序"):
        execute(con, wrong, Run("s", 2020, [2019], {}, region="r", persist=True))
    assert con.execute("SELECT count(*) FROM stored.case_groups").fetchall() == [(4,)]
    # a run that does not persist (a what-if) makes the model's own table
    execute(con, written, Run("s", 2020, [2019], {}, region="r"))
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = "
                       "'mart_case_groups' AND temporary").fetchall() == [(1,)]
