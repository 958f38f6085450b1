"""The stage graph as data: the manifest agrees with the SQL and with the parameter registry,
and each check fails when either is broken on purpose."""

from __future__ import annotations

import dataclasses

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from dip_sim.pipeline.graph import Graph, ManifestError, Model, graph, order
from dip_sim.pipeline.lineage import lineage_problems, parameter_problems
from dip_sim.pipeline.params import run_facts, set_run_params
from dip_sim.policy import PolicyError, load_baseline, parameters_for_year
from dip_sim.policy.expressions import evaluate, names
from dip_sim.policy.parameters import Parameter
from dip_sim.policy.rules import check_rules


def test_every_sql_file_reads_what_the_manifest_declares():
    assert lineage_problems(graph()) == []


def test_every_parameter_is_read_and_every_read_parameter_exists():
    assert parameter_problems(graph(), load_baseline()) == []


def test_every_model_file_is_one_select():
    for model in graph().models:
        if model.sql:
            statements = sqlglot.parse(model.sql_text(), read="duckdb")
            assert len(statements) == 1, model.sql
            assert isinstance(statements[0], exp.Query), f"{model.sql} is no SELECT"


def test_the_lineage_check_names_an_undeclared_read():
    def text_of(model: Model) -> str:
        if model.name == "int_all_mean":
            return "SELECT * FROM int_history_grouped JOIN stray_table USING (year)"
        return model.sql_text()

    problems = lineage_problems(graph(), text_of)
    assert problems == ["catalog/int_all_mean.sql 读取 stray_table，清单 manifest.yaml 未声明"]


def test_the_lineage_check_names_a_declared_read_the_file_does_not_make():
    g = graph()
    models = tuple(dataclasses.replace(m, reads=(*m.reads, "int_keyed"))
                   if m.name == "int_all_mean" else m for m in g.models)
    problems = lineage_problems(Graph(models, g.sources))
    assert problems == ["manifest.yaml 声明 int_all_mean 读取 int_keyed，"
                        "catalog/int_all_mean.sql 并未读取"]


def test_the_parameter_check_names_a_parameter_no_model_reads():
    params = dict(load_baseline())
    params["budget.unused_rate"] = dataclasses.replace(params["budget.growth_rate"],
                                                       name="budget.unused_rate")
    assert parameter_problems(graph(), params) == ["参数 budget.unused_rate 没有任何模型读取"]


def test_the_parameter_check_names_a_parameter_that_does_not_exist():
    def text_of(model: Model) -> str:
        text = model.sql_text()
        if model.name == "int_threshold":
            text = text.replace("p.catalog.core_coverage", "p.catalog.core_coverage_share")
        return text

    problems = parameter_problems(graph(), load_baseline(), text_of)
    assert "模型 int_threshold 读取参数 catalog.core_coverage_share，清单未声明" in problems
    assert ("模型 int_threshold 读取的参数 catalog.core_coverage_share 不存在（data/policy/ 中没有）"
            in problems)
    assert "清单声明模型 int_threshold 读取参数 catalog.core_coverage，其代码并未读取" in problems


def test_each_model_runs_after_every_model_it_reads():
    g = graph()
    maker, seen = g.maker(), set()
    for model in g.models:
        for read in model.reads:
            if read in maker and maker[read].name != model.name:
                assert maker[read].name in seen, f"{model.name} runs before {read}"
        seen.add(model.name)


def test_a_cycle_is_refused():
    a = Model("a", "catalog", "甲", "one row", reads=("b",), params=(), sql="catalog/a.sql")
    b = Model("b", "catalog", "乙", "one row", reads=("a",), params=(), sql="catalog/b.sql")
    with pytest.raises(ManifestError, match="循环依赖"):
        order([a, b], {})


def test_a_read_of_nothing_known_is_refused():
    a = Model("a", "catalog", "甲", "one row", reads=("nowhere",), params=(), sql="catalog/a.sql")
    with pytest.raises(ManifestError, match="nowhere"):
        order([a], {})


def test_the_graph_draws_as_graphviz():
    dot = graph().dot()
    assert dot.startswith("digraph dip_sim {")
    assert '"int_keyed" -> "mart_case_groups";' in dot


def test_run_params_carries_every_scalar_parameter_by_its_own_name():
    params = load_baseline()
    values = parameters_for_year(params, 2020)
    values["budget.growth_rate"] = 0.08
    con = duckdb.connect()
    set_run_params(con, params, values, run_facts("s1", 2020, [2019, 2017, 2018], "v1"))
    row = con.execute("""SELECT p.budget.growth_rate, p.point_value.mode, p.run.scenario,
                                p.run.sim_year, p.run.history_years, p.budget.fixed_fund_yuan
                         FROM run_params p""").fetchall()[0]
    assert row == (0.08, "floating", "s1", 2020, [2017, 2018, 2019], None)
    assert con.execute("SELECT getvariable('point_value.trim_low')").fetchall() == [(0.025,)]
    assert con.execute("SELECT position, value FROM param_catalog_history_weights "
                       "ORDER BY position").fetchall() == [(1, 1.0), (2, 2.0), (3, 7.0)]
    assert con.execute("SELECT key, value FROM param_coefficients_hospital_level "
                       "ORDER BY key").fetchall() == [(1, 0.7), (2, 0.85), (3, 1.0)]


def test_conditions_read_parameters_and_refuse_code():
    values = {"budget.method": "fixed", "budget.fixed_fund_yuan": None}
    assert evaluate("budget.method == 'fixed' and budget.fixed_fund_yuan is None", values)
    assert names("budget.method in ('items', 'proportion')") == {"budget.method"}
    with pytest.raises(PolicyError):
        evaluate("__import__('os').getcwd()", values)
    with pytest.raises(PolicyError, match="budget.nothing"):
        evaluate("budget.nothing == 1", values)


@pytest.mark.parametrize(("change", "message"), [
    ({"budget.method": "fixed"}, "budget.fixed_fund_yuan"),
    ({"budget.method": "items"}, "budget.inpatient_fund_yuan"),
    ({"budget.split_by_insurance": True, "point_value.mode": "elastic"}, "elastic"),
    ({"settlement.assessment_source": "scheme", "settlement.assessment_file": "a.csv"},
     "assessment_file"),
    ({"point_value.trim_low": 0.9, "point_value.trim_high": 0.1}, "trim_low"),
    ({"catalog.history_weights": [1.0, 1.0]}, "2 个权重，3 个历史年度"),
])
def test_the_rules_between_parameters_refuse_a_bad_combination(change, message):
    values = {**parameters_for_year(load_baseline(), 2020), **change}
    with pytest.raises(PolicyError, match=message):
        check_rules(values, {"run.n_history_years": 3})


def test_the_baseline_breaks_no_rule():
    check_rules(parameters_for_year(load_baseline(), 2020), {"run.n_history_years": 3})


def test_every_parameter_type_has_a_column_type():
    from dip_sim.pipeline.params import LIST_COLUMNS, SCALAR_TYPES

    kinds = {p.type for p in load_baseline().values()}
    assert kinds <= set(SCALAR_TYPES) | set(LIST_COLUMNS)
    assert isinstance(next(iter(load_baseline().values())), Parameter)


def test_each_stored_table_has_its_contract_beside_the_model_that_makes_it():
    from dip_sim.contract import CONTRACTS

    stored = graph().stored()
    for table, contract in CONTRACTS.items():
        if table == "runs":  # the runner's own record of each run
            assert contract.path.parent.name == "pipeline"
            continue
        assert table in stored, f"{table}: no model stores it"
        model = stored[table]
        assert contract.path.parent.name == model.stage, (table, model.name)
    assert set(stored) <= set(CONTRACTS)


@pytest.mark.parametrize("spec", [
    {"in_place": True},  # nothing stored
    {"in_place": True, "stores": "case_groups", "carries": ["x"]},
    {"in_place": True, "stores": "case_groups", "materialized": "view"},
])
def test_a_model_written_in_place_must_be_a_stored_sql_table(spec):
    from dip_sim.pipeline.graph import _model

    base = {"stage": "catalog", "label": "病例入组", "grain": "case", "reads": [], "params": [],
            "sql": "catalog/mart_case_groups.sql"}
    with pytest.raises(ManifestError, match="in_place"):
        _model("mart_case_groups", {**base, **spec})
    assert _model("mart_case_groups", {**base, "stores": "case_groups", "in_place": True}).in_place
