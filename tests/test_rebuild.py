"""A warehouse of another schema version is refused with one message, then rebuilt from the
directories it recorded: the same point values, the old file kept aside."""

from __future__ import annotations

import duckdb
import pytest

from dip_sim.cli import main
from dip_sim.paths import SCENARIO_DIR
from dip_sim.warehouse_version import SCHEMA_VERSION

POINT_VALUES = "SELECT * FROM point_values ORDER BY scenario, year"


@pytest.fixture()
def city(tmp_path, monkeypatch, capsys):
    """A small city ingested, simulated (baseline and growth_8pct) and supervised."""
    monkeypatch.setenv("DIP_SIM_THREADS", "1")  # float sums in a fixed order: equal to the digit
    src, db = tmp_path / "in", tmp_path / "w.duckdb"
    assert main(["synth", "--out", str(src), "--cases-per-year", "400", "--seed", "3"]) == 0
    assert main(["ingest", str(src), "--db", str(db)]) == 0
    assert main(["simulate", "--year", "2020", "--db", str(db),
                 "--scenario", str(SCENARIO_DIR / "growth_8pct.yaml")]) == 0
    assert main(["supervise", "--db", str(db)]) == 0
    capsys.readouterr()
    return {"src": src, "db": db}


def _point_values(db) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(POINT_VALUES).fetchall()


def _set_version(db, version: int) -> None:
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE warehouse_meta SET value = ? WHERE name = 'schema_version'",
                    [str(version)])


def test_older_warehouse_refused_then_rebuilt_with_the_same_point_values(city, capsys):
    db = city["db"]
    original = _point_values(db)
    assert original
    _set_version(db, SCHEMA_VERSION - 1)

    assert main(["simulate", "--year", "2020", "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert f"数据结构版本 {SCHEMA_VERSION - 1} 创建" in err
    assert f"需要版本 {SCHEMA_VERSION}" in err
    assert f"dip-sim rebuild --db {db}" in err
    assert "Traceback" not in err
    for command in (["supervise"], ["quality"], ["ingest", str(city["src"])],
                    ["report", "--out", str(db.parent / "r.xlsx")]):
        assert main([*command, "--db", str(db)]) == 2, command
        assert "dip-sim rebuild" in capsys.readouterr().err

    assert main(["rebuild", "--db", str(db)]) == 0
    err = capsys.readouterr().err
    old = list(db.parent.glob("w.duckdb.old-*"))
    assert len(old) == 1 and f"旧仓库已移至 {old[0]}" in err
    # the scenario's file is recorded: simulated again with the baseline
    assert "未重新模拟" not in err
    assert not list(db.parent.glob("*.rebuild-*"))

    assert _point_values(db) == original
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT value FROM warehouse_meta WHERE name = 'schema_version'"
                           ).fetchall() == [(str(SCHEMA_VERSION),)]
        assert con.execute("SELECT DISTINCT scenario FROM supervision_hospitals").fetchall() \
            == [("baseline",)]
    assert main(["simulate", "--year", "2020", "--db", str(db)]) == 0
    assert _point_values(db) == original
    # the old file is the old warehouse, as it was
    assert _point_values(old[0]) == original


def test_a_scenario_whose_file_is_gone_is_named_with_the_command(city, capsys, tmp_path):
    import shutil

    db = city["db"]
    moved = tmp_path / "elsewhere.yaml"
    shutil.copy(SCENARIO_DIR / "growth_8pct.yaml", moved)
    assert main(["simulate", "--year", "2020", "--db", str(db), "--scenario", str(moved)]) == 0
    moved.unlink()
    capsys.readouterr()
    assert main(["rebuild", "--db", str(db)]) == 0
    err = capsys.readouterr().err
    assert "growth_8pct（2020 年）" in err and "dip-sim simulate" in err


def test_newer_warehouse_refused_in_the_dashboard(city, monkeypatch):
    from dip_sim.dashboard import data

    _set_version(city["db"], SCHEMA_VERSION + 1)
    monkeypatch.setenv(data.ENV_DB, str(city["db"]))
    with pytest.raises(data.DataUnavailable, match=f"数据结构版本 {SCHEMA_VERSION + 1} 创建"):
        data.scenarios()


def test_missing_inputs_named_and_the_warehouse_left_alone(city, capsys):
    db, src = city["db"], city["src"]
    before = db.read_bytes()
    (src / "cases_2018.csv").rename(src.parent / "moved.csv")
    assert main(["rebuild", "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert str(src / "cases_2018.csv") in err and "旧仓库未改动" in err
    src.rename(src.parent / "gone")
    assert main(["rebuild", "--db", str(db)]) == 2
    assert f"目录 {src}" in capsys.readouterr().err
    assert db.read_bytes() == before
    assert sorted(p.name for p in db.parent.glob("w.duckdb*")) == ["w.duckdb"]


def test_a_failed_rebuild_leaves_the_old_warehouse(city, monkeypatch, capsys):
    import pipelines.rebuild

    def fail(*_args, **_kwargs):
        raise KeyboardInterrupt  # as a Ctrl-C reaching the quality stage

    db = city["db"]
    before = db.read_bytes()
    monkeypatch.setattr(pipelines.rebuild, "run_quality_stage", fail)
    with pytest.raises(KeyboardInterrupt):
        pipelines.rebuild.run_rebuild(db, progress=lambda _m: None)
    assert db.read_bytes() == before
    assert sorted(p.name for p in db.parent.glob("w.duckdb*")) == ["w.duckdb"]


def test_rebuild_has_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["rebuild", "--help"])
    assert exit_info.value.code == 0
    assert "usage: dip-sim rebuild" in capsys.readouterr().out
