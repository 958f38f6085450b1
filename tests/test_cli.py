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
