"""The command line: every subcommand has --help; errors are one clear line, not a traceback."""

from __future__ import annotations

import pytest

from dip_sim.cli import main


def _commands() -> list[str]:
    import argparse

    from dip_sim.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(sub.choices)


@pytest.mark.parametrize("command", _commands())
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: dip-sim" in capsys.readouterr().out


def test_simulate_on_an_empty_warehouse_says_what_to_do(tmp_path, capsys):
    assert main(["simulate", "--year", "2020", "--db", str(tmp_path / "w.duckdb")]) == 1
    assert "dip-sim ingest" in capsys.readouterr().err


def test_unknown_scenario_parameter_is_named(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nchanges:\n  outliers.low: 0.3\n", encoding="utf-8")
    assert main(["simulate", "--year", "2020", "--db", str(tmp_path / "w.duckdb"),
                 "--scenario", str(bad)]) == 1
    assert "outliers.low" in capsys.readouterr().err


def test_missing_input_directory(tmp_path, capsys):
    assert main(["ingest", str(tmp_path / "nowhere"), "--db", str(tmp_path / "w.duckdb")]) == 1
    assert "nowhere" in capsys.readouterr().err


def test_simulate_refuses_quality_older_than_the_last_load(tmp_path, capsys):
    src, db = tmp_path / "in", str(tmp_path / "w.duckdb")
    assert main(["synth", "--out", str(src), "--cases-per-year", "400", "--seed", "3"]) == 0
    assert main(["ingest", str(src), "--db", db, "--skip-quality"]) == 0
    capsys.readouterr()
    assert main(["simulate", "--year", "2020", "--db", db]) == 1
    assert "dip-sim quality" in capsys.readouterr().err
    assert main(["quality", "--db", db]) == 0
    assert main(["simulate", "--year", "2020", "--db", db]) == 0
    # reading the same files again loads nothing: the quality tables stay current
    assert main(["ingest", str(src), "--db", db, "--skip-quality"]) == 0
    assert main(["simulate", "--year", "2020", "--db", db]) == 0


def test_catalog_report_on_an_empty_warehouse_says_what_to_do(tmp_path, capsys):
    assert main(["catalog-report", "--db", str(tmp_path / "w.duckdb"),
                 "--out", str(tmp_path / "c.xlsx")]) == 1
    assert "dip-sim ingest" in capsys.readouterr().err


def test_supervise_before_simulate_says_what_to_do(tmp_path, capsys):
    import duckdb

    db = tmp_path / "w.duckdb"
    duckdb.connect(str(db)).execute("CREATE TABLE runs (scenario VARCHAR, year INTEGER, "
                                    "run_at TIMESTAMP, params_json VARCHAR)").close()
    assert main(["supervise", "--db", str(db)]) == 1
    assert "dip-sim simulate" in capsys.readouterr().err


def test_supervision_report_of_a_hospital(planted_city, tmp_path, capsys):
    import polars as pl

    out = tmp_path / "sv.xlsx"
    assert main(["supervision-report", "--year", "2020", "--hospital", "H140302002",
                 "--out", str(out), "--db", str(planted_city["db"])]) == 0
    sheets = pl.read_excel(out, sheet_id=0)
    assert {"监管指数", "绩效考核", "考核指标得分", "标记病例", "编码高套分类目", "异常筛查"} <= set(sheets)
    # the hospital that planted split admissions: its flagged cases are there, its own only
    cases = sheets["标记病例"]
    assert "分解住院" in set(cases["指数"]) and set(cases["医疗机构代码"]) == {"H140302002"}


def test_stages_prints_the_graph_in_run_order(capsys):
    from dip_sim.pipeline.graph import graph

    assert main(["stages"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(graph().models)
    names = [line.split()[2] for line in lines]
    assert names.index("int_keyed") < names.index("mart_case_groups") < names.index("int_budget")
    budget = [line for line in lines if " int_pv_refined " in line][0]
    assert "跳过条件: point_value.budget_refinement == 'none'" in budget
    assert main(["stages", "--stage", "budget"]) == 0
    assert {line.split()[1] for line in capsys.readouterr().out.splitlines()} == {"budget"}
    assert main(["stages", "--dot"]) == 0
    assert capsys.readouterr().out.startswith("digraph dip_sim {")


@pytest.fixture
def regional_policy(monkeypatch):
    """The baseline with one region's own growth rate from 2019 and another's from 2021."""
    import dataclasses
    import datetime as dt

    import dip_sim.policy as policy

    params = dict(policy.load_baseline())
    growth = params["budget.growth_rate"]
    params["budget.growth_rate"] = dataclasses.replace(growth, regional={
        "140100": {dt.date(2019, 1, 1): 0.031}, "140200": {dt.date(2021, 1, 1): 0.045}})
    monkeypatch.setattr(policy, "load_baseline", lambda: params)
    return growth.value_on(dt.date(2020, 1, 1))


def _line(out: str, name: str) -> tuple[str, list[str]]:
    """The parameter's line and the indented lines under it."""
    lines = out.splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith(f"{name} = "))
    under = []
    for line in lines[i + 1:]:
        if not line.startswith("    "):
            break
        under.append(line.strip())
    return lines[i], under


def test_params_lists_each_regions_own_value_in_force(regional_policy, capsys):
    assert main(["params", "--year", "2020"]) == 0
    line, under = _line(capsys.readouterr().out, "budget.growth_rate")
    assert line.startswith(f"budget.growth_rate = {regional_policy!r}  [")
    assert under == ["统筹区 140100: 0.031"]  # 140200's own value starts in 2021
    assert main(["params", "--year", "2021"]) == 0
    assert _line(capsys.readouterr().out, "budget.growth_rate")[1] == [
        "统筹区 140100: 0.031", "统筹区 140200: 0.045"]


def test_params_of_a_region_marks_its_own_values(regional_policy, capsys):
    assert main(["params", "--year", "2020", "--region", "140100"]) == 0
    out = capsys.readouterr().out
    line, under = _line(out, "budget.growth_rate")
    assert line.startswith("budget.growth_rate = 0.031  （统筹区 140100 自定）  [")
    assert under == []
    assert "自定" not in _line(out, "budget.method")[0]  # the city's value, not marked
    assert main(["params", "--year", "2020", "--region", "140200"]) == 0
    assert _line(capsys.readouterr().out, "budget.growth_rate")[0].startswith(
        f"budget.growth_rate = {regional_policy!r}  [")


def test_params_of_a_region_no_policy_names_says_so(regional_policy, capsys):
    assert main(["params", "--region", "999999"]) == 0
    captured = capsys.readouterr()
    assert "统筹区 999999 在政策参数中没有自己的取值" in captured.err
    assert "自定" not in captured.out
