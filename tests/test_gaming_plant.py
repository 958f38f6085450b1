"""Planted gaming behaviours (docs/supervision.md): the truth matches the plan, and every planted case
loads clean, is grouped and shows its behaviour in the warehouse."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest
import yaml

from dip_sim.cli import main
from dip_sim.paths import DATA_DIR, POLICY_DIR
from dip_sim.synth import generate
from dip_sim.synth.gaming import (
    BEHAVIOURS,
    GAMING_TRUTH,
    SEVERITY_CODES,
    PlanError,
    check_plan,
    load_plan,
    plant_gaming,
)
from dip_sim.synth.hospitals import load_hospitals
from dip_sim.synth.plant import plant_problems
from pipelines.ingest import run_ingest
from pipelines.simulate import run_simulate

QUIET = lambda message: None  # noqa: E731
EXAMPLE_PLAN = DATA_DIR / "examples" / "gaming_plan.yaml"
# large hospitals, so that each behaviour plants tens of cases in a small city; the
# first hospital carries two behaviours (no case may be picked twice)
PLAN = {
    "split_admission": {"hospitals": ["H140302001", "H140321001"], "rate": 0.05, "years": [2020]},
    "low_standard_admission": {"hospitals": ["H140303001", "H140322004"], "rate": 0.05,
                               "years": [2020]},
    "upcoding_procedure": {"hospitals": ["H140302001"], "rate": 0.02, "years": [2020]},
    "upcoding_severity": {"hospitals": ["H140303001"], "rate": 0.05, "years": [2020]},
    "long_stay": {"hospitals": ["H140303001", "H140303002"], "rate": 0.05, "years": [2020]},
    "upcoding_added_procedure": {"hospitals": ["H140302001"], "rate": 0.02, "years": [2020]},
}
# the behaviours of the example plan (the demo city's): all but the added procedures, which
# have a detection test of their own over ten cities (test_detection_added_procedure.py)
EXAMPLE_BEHAVIOURS = set(BEHAVIOURS) - {"upcoding_added_procedure"}


def _warehouse(city, db):
    run_ingest(city, db, progress=QUIET)
    run_simulate(db, 2020, progress=QUIET)
    return duckdb.connect(str(db), read_only=True)


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    """A city of two years, loaded and simulated before and after planting ``PLAN`` in 2020."""
    root = tmp_path_factory.mktemp("gaming")
    src = root / "city"
    generate(src, years=(2019, 2020), cases_per_year=3000, seed=21)
    discharges = dict(pl.read_csv(src / "cases_2020.csv", infer_schema=False)
                      .group_by("hospital_id").len().iter_rows())
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DIP_SIM_PSEUDONYM_KEY", "k")
        before = _warehouse(src, root / "before.duckdb")
        truth = plant_gaming(src, PLAN, seed=5)
        after = _warehouse(src, root / "after.duckdb")
    for con in (before, after):
        con.register("truth", truth.to_arrow())
    yield {"dir": src, "truth": truth, "discharges": discharges, "before": before, "after": after}
    before.close()
    after.close()


def _frame(con, query):
    rows = con.execute(query).fetchall()
    return pl.DataFrame(rows, schema=[d[0] for d in con.description], orient="row")


def _planted(city, behaviour):
    return city["truth"].filter(pl.col("behaviour") == behaviour)


def test_truth_has_the_planned_counts_in_the_planned_hospitals(city):
    truth = city["truth"]
    assert truth.columns == ["case_id", "hospital_id", "year", "behaviour", "related_case_id",
                             "detail"]
    assert pl.read_csv(city["dir"] / GAMING_TRUTH, schema=truth.schema).equals(truth)
    assert set(truth["behaviour"]) == set(BEHAVIOURS)
    assert truth["case_id"].is_unique().all()  # no case picked for two behaviours
    assert set(truth["year"]) == {2020}
    for behaviour, entry in PLAN.items():
        rows = _planted(city, behaviour)
        assert set(rows["hospital_id"]) == set(entry["hospitals"]), behaviour
        for hospital in entry["hospitals"]:
            n = rows.filter(pl.col("hospital_id") == hospital).height
            if behaviour == "split_admission":
                n //= 2  # both stays of a pair are listed
            planned = entry["rate"] * city["discharges"][hospital]
            assert abs(n - planned) <= 1, (behaviour, hospital, n, planned)


def test_every_planted_case_loads_clean_and_is_grouped(city):
    rows = city["after"].execute("""
        SELECT t.case_id, c.case_id IS NOT NULL, f.severity, g.grouped
        FROM truth t
        LEFT JOIN (SELECT DISTINCT case_id FROM cases) c USING (case_id)
        LEFT JOIN case_features f USING (case_id)
        LEFT JOIN case_groups g ON g.case_id = t.case_id AND g.scenario = 'baseline'
    """).fetchall()
    assert len(rows) == city["truth"].height
    assert all(present for _, present, _, _ in rows)
    assert [r for r in rows if r[2] == "critical"] == []
    assert [r for r in rows if not r[3]] == []


def test_the_truth_file_is_not_ingested(city):
    con = city["after"]
    assert con.execute("SELECT count(*) FROM load_batches WHERE file_path LIKE '%gaming_truth%' "
                       "AND status = 'loaded'").fetchall() == [(0,)]
    for table in ("cases", "settlements"):
        assert con.execute(f"SELECT count(*) FROM {table} WHERE source_file LIKE "
                           f"'%gaming_truth%'").fetchall() == [(0,)]


def test_split_admissions_are_pairs_of_the_same_patient_days_apart(city):
    pairs = _frame(city["after"], """
        SELECT a.case_id, a.patient_id = b.patient_id AS same_patient,
               a.hospital_id = b.hospital_id AS same_hospital,
               date_diff('day', a.discharge_date, b.admit_date) AS gap,
               a.main_dx = b.main_dx AS same_dx, a.los_days + b.los_days AS los,
               sa.total_cost_yuan + sb.total_cost_yuan AS cost
        FROM truth t JOIN cases a USING (case_id) JOIN cases b ON b.case_id = t.related_case_id
        JOIN settlements sa ON sa.case_id = a.case_id JOIN settlements sb ON sb.case_id = b.case_id
        WHERE t.behaviour = 'split_admission' AND a.admit_date < b.admit_date
    """)
    assert pairs.height == _planted(city, "split_admission").height // 2
    assert pairs["same_patient"].all() and pairs["same_hospital"].all() and pairs["same_dx"].all()
    assert pairs["gap"].is_between(1, 7).all()
    # the two stays share the original stay's days and cost
    original = _frame(city["before"], """
        SELECT c.case_id, c.los_days AS los0, s.total_cost_yuan AS cost0
        FROM cases c JOIN settlements s USING (case_id)
        WHERE c.case_id IN (SELECT case_id FROM truth WHERE behaviour = 'split_admission')
    """)
    joined = pairs.join(original, on="case_id")
    assert joined.height == pairs.height
    assert (joined["los"] == joined["los0"]).all()
    assert ((joined["cost"] - joined["cost0"]).abs() < 0.005).all()


def test_low_standard_admissions_are_short_cheap_outpatient_conditions(city):
    prefixes = pl.read_csv(POLICY_DIR / "lists" / "outpatient_conditions.csv")["dx_prefix"].to_list()
    rows = _frame(city["after"], """
        SELECT c.case_id, c.main_dx, c.los_days, s.total_cost_yuan,
               (SELECT avg(s2.total_cost_yuan) FROM cases c2 JOIN settlements s2 USING (case_id)
                JOIN hospitals h2 ON h2.hospital_id = c2.hospital_id
                WHERE c2.main_dx = c.main_dx AND h2.level = h.level
                  AND c2.case_id NOT IN (SELECT case_id FROM truth)) AS mean_cost
        FROM truth t JOIN cases c USING (case_id) JOIN settlements s USING (case_id)
        JOIN hospitals h ON h.hospital_id = c.hospital_id
        WHERE t.behaviour = 'low_standard_admission'
    """)
    assert rows.height == _planted(city, "low_standard_admission").height
    assert rows["los_days"].is_between(1, 3).all()
    assert all(any(dx.startswith(p) for p in prefixes) for dx in rows["main_dx"])
    assert (rows["total_cost_yuan"] < 0.5 * rows["mean_cost"]).all()
    # new case ids, not in the city before
    before = city["before"].execute("SELECT count(*) FROM cases WHERE case_id IN "
                                    "(SELECT case_id FROM truth WHERE behaviour = "
                                    "'low_standard_admission')").fetchall()
    assert before == [(0,)]


def test_upcoded_procedures_move_cases_to_groups_of_more_points(city):
    query = """
        SELECT t.case_id, t.detail, c.main_proc, c.other_procs, sc.rw, s.total_cost_yuan
        FROM truth t JOIN cases c USING (case_id) JOIN settlements s USING (case_id)
        JOIN case_scores sc ON sc.case_id = t.case_id AND sc.scenario = 'baseline'
        WHERE t.behaviour = 'upcoding_procedure'"""
    after = _frame(city["after"], query)
    before = _frame(city["before"], query)
    assert after.height == before.height == _planted(city, "upcoding_procedure").height
    assert before["main_proc"].is_null().all() and before["other_procs"].is_null().all()
    joined = after.join(before, on="case_id", suffix="_before")
    for detail, main_proc, other_procs in joined.select("detail", "main_proc",
                                                        "other_procs").iter_rows():
        assert set(detail.split(";")) == {main_proc, *(other_procs or "").split(";")} - {""}
    assert (joined["rw"] > joined["rw_before"]).all()
    assert (joined["total_cost_yuan"] == joined["total_cost_yuan_before"]).all()


def test_upcoded_severity_adds_a_severe_secondary_diagnosis(city):
    rows = city["after"].execute("""
        SELECT t.detail, c.other_dx, c.main_dx FROM truth t JOIN cases c USING (case_id)
        WHERE t.behaviour = 'upcoding_severity'""").fetchall()
    assert len(rows) == _planted(city, "upcoding_severity").height
    for detail, other_dx, main_dx in rows:
        assert detail in SEVERITY_CODES and other_dx == detail and main_dx[:3] != detail[:3]
    # the codes are severe conditions of the auxiliary severity list
    severe = pl.read_csv(DATA_DIR / "reference" / "severity_dx.csv").filter(
        pl.col("kind") == "severe")["prefix"].to_list()
    assert all(any(code.startswith(p) for p in severe) for code in SEVERITY_CODES)


def test_long_stays_are_three_times_the_typical_stay(city):
    rows = _frame(city["after"], """
        WITH typical AS (
            SELECT substr(main_dx, 1, 5) AS dx5, avg(los_days) AS typical_los FROM cases
            WHERE case_id NOT IN (SELECT case_id FROM truth) GROUP BY 1)
        SELECT c.case_id, c.los_days, y.typical_los FROM truth t JOIN cases c USING (case_id)
        JOIN typical y ON y.dx5 = substr(c.main_dx, 1, 5)
        WHERE t.behaviour = 'long_stay'""")
    assert rows.height == _planted(city, "long_stay").height
    assert (rows["los_days"] >= 3 * rows["typical_los"]).all()


@pytest.mark.parametrize(("change", "message"), [
    ({"paid_twice": {"hospitals": ["H140302001"], "rate": 0.05, "years": [2020]}}, "unknown behaviour"),
    ({"long_stay": {"hospitals": ["H999999999"], "rate": 0.05, "years": [2020]}}, "H999999999"),
    ({"long_stay": {"hospitals": ["H140302001"], "rate": 0, "years": [2020]}}, "rate"),
    ({"long_stay": {"hospitals": ["H140302001"], "rate": 1.5, "years": [2020]}}, "rate"),
    ({"long_stay": {"hospitals": ["H140302001"], "rate": "5%", "years": [2020]}}, "rate"),
    ({"long_stay": {"hospitals": ["H140302001"], "rate": 0.05}}, "缺少 years"),
    ({"long_stay": {"hospitals": [], "rate": 0.05, "years": [2020]}}, "hospitals"),
    ({"long_stay": {"hospitals": ["H140302001"], "rate": 0.05, "years": ["2020"]}}, "years"),
    ({"long_stay": {"hospitals": ["H140302001"], "rate": 0.05, "years": [2020], "n": 3}}, "未知的键 n"),
])
def test_load_plan_names_what_is_wrong(tmp_path, change, message):
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(change), encoding="utf-8")
    with pytest.raises(PlanError, match=message):
        load_plan(path)


def test_load_plan_checks_hospitals_against_the_city(tmp_path):
    (tmp_path / "hospitals.csv").write_text("hospital_id,hospital_name,level,county\n"
                                            "H1,甲医院,3,城区\n", encoding="utf-8")
    with pytest.raises(PlanError, match="H140302002"):
        load_plan(EXAMPLE_PLAN, tmp_path)
    assert check_plan({"long_stay": {"hospitals": "H1", "rate": 1, "years": 2020}}, ["H1"]) == {
        "long_stay": {"hospitals": ["H1"], "rate": 1.0, "years": [2020]}}


def test_the_example_plan_puts_each_behaviour_in_hospitals_of_its_own():
    plan = load_plan(EXAMPLE_PLAN)
    assert set(plan) == EXAMPLE_BEHAVIOURS
    hospitals = [h for entry in plan.values() for h in entry["hospitals"]]
    assert len(hospitals) == len(set(hospitals)) == len(EXAMPLE_BEHAVIOURS) + 1
    assert len(plan["split_admission"]["hospitals"]) == 2
    assert all(e["rate"] == 0.05 and e["years"] == [2020] for e in plan.values())
    levels = dict(zip(load_hospitals().hospital_id, load_hospitals().level.tolist(), strict=True))
    assert {levels[h] for h in hospitals} == {1, 2, 3}


def test_the_command_plants_the_example_plan_and_refuses_a_second_time(tmp_path, capsys):
    first, second = tmp_path / "a", tmp_path / "b"
    for directory in (first, second):
        generate(directory, years=(2020,), cases_per_year=4000, seed=3)
    assert main(["plant-gaming", str(first), "--plan", str(EXAMPLE_PLAN), "--seed", "9"]) == 0
    out = capsys.readouterr().out
    for behaviour in EXAMPLE_BEHAVIOURS:
        assert f"{BEHAVIOURS[behaviour]} {behaviour}" in out
    assert "H140321004\t2020" in out  # the level-1 hospital of the split admissions
    # the same seed plants the same cases
    truth = plant_gaming(second, load_plan(EXAMPLE_PLAN), seed=9)
    assert set(truth["behaviour"]) == EXAMPLE_BEHAVIOURS
    assert pl.read_csv(first / GAMING_TRUTH, schema=truth.schema).equals(truth)
    assert (first / "cases_2020.csv").read_bytes() == (second / "cases_2020.csv").read_bytes()
    # a city planted before is refused (its truth would be lost)
    assert main(["plant-gaming", str(first), "--plan", str(EXAMPLE_PLAN)]) == 1
    assert "已存在" in capsys.readouterr().err


def test_cases_with_a_planted_record_problem_are_not_picked(tmp_path):
    """After ``plant_problems`` (its ``""`` for empty values, its spoilt cases), gaming picks
    only clean cases."""
    generate(tmp_path, years=(2020,), cases_per_year=20000, seed=4)
    spoilt = set(plant_problems(tmp_path, rate=0.002, seed=3)["case_id"])
    truth = plant_gaming(tmp_path, load_plan(EXAMPLE_PLAN, tmp_path), seed=1)
    assert set(truth["behaviour"]) == EXAMPLE_BEHAVIOURS
    assert not set(truth["case_id"]) & spoilt


def test_plant_gaming_is_in_the_help(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "plant-gaming" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["plant-gaming", "--help"])
    assert exit_info.value.code == 0


def test_added_procedures_give_a_richer_combination_at_the_same_cost(city):
    """Every stay planted with added procedures keeps the codes it had and gains at least one,
    keeps its cost, and is still grouped."""
    planted = _planted(city, "upcoding_added_procedure")
    assert planted.height > 0
    query = """
        SELECT c.case_id, c.main_proc, c.other_procs, s.total_cost_yuan, g.grouped
        FROM cases c JOIN settlements s USING (case_id)
        JOIN case_groups g ON g.case_id = c.case_id AND g.scenario = 'baseline'
        WHERE c.case_id IN (SELECT case_id FROM truth WHERE behaviour = 'upcoding_added_procedure')
        ORDER BY c.case_id"""
    before, after = (_frame(city[k], query) for k in ("before", "after"))

    def codes(row) -> set:
        return {c for c in [row["main_proc"], *(row["other_procs"] or "").split(";")] if c}

    for old, new in zip(before.iter_rows(named=True), after.iter_rows(named=True), strict=True):
        assert codes(old) < codes(new), (old, new)
        assert old["total_cost_yuan"] == new["total_cost_yuan"]
        assert new["grouped"]
