"""The Spark engine gives DuckDB's numbers: the same models, transpiled, on ``local[2]``.

A small province of two pooling regions (two cities of about 600 discharges a year each,
2017–2020) is simulated by DuckDB for the baseline and one scenario whose values differ by
region: one city takes the golden record's first scenario and the other its second, which
between them switch on most optional paths (auxiliary typing, insurance pools, related
procedures, quantile and optimal-interval budget point values, floating and elastic point
values, growth and fixed funds, primary and TCM groups, new technology, ungrouped cases,
sharing, the panel's adjustments, the assessment scheme with the supervision models it runs).
``dip-sim simulate --engine spark``'s pipeline then runs that scenario on a copy of the
warehouse (the baseline is current: not run again), from the inputs it exports as Parquet
(partitioned by region), both regions side by side, in one Spark session for the module,
started with ``small_inputs`` (expressions interpreted, the JVM's quick compiler only). One
Spark scenario over the two regions covers the paths of two (each scenario costs Spark about
a minute of planning and small jobs here, whatever the city's size). Every stored table of
the scenario and of each region must match: row counts exactly, amounts to 0.01 yuan, points
and point values to 1e-9 relative (:mod:`dip_sim.spark.same_numbers`).
"""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import yaml

from dip_sim.contract import CONTRACTS
from tests.golden import SCENARIOS

try:
    import pyspark  # noqa: F401
except ImportError:
    pytest.fail("pyspark 未安装：运行 make test（或 pip install -e '.[test]'）", pytrace=False)
if shutil.which("java") is None:
    pytest.fail("java 未安装：运行 sh scripts/ensure_java.sh（make test 会自动运行）",
                pytrace=False)

YEAR = 2020
HISTORY = [2017, 2018, 2019]
REGIONS = ("140100", "140200")  # the province's two cities (dip_sim.synth.province)
# the scenario: the golden record's two scenarios, one per region (every value is a region's)
SCENARIO = "wide"
REGION_CHANGES = dict(zip(REGIONS, SCENARIOS.values(), strict=True))


@pytest.fixture(scope="module")
def spark():
    from dip_sim.spark.engine import start_session

    session = start_session("local[2]", app="dip-sim-tests", parallel=len(REGIONS),
                            small_inputs=True)
    yield session
    session.stop()


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> dict:
    """The DuckDB run (warehouse) and the scenario files."""
    from pipelines.simulate import run_simulate
    from tests.inputs import ingest_generated_city

    folder = tmp_path_factory.mktemp("spark_city")
    db = ingest_generated_city(folder, 600, seed=11, regions=len(REGIONS))
    path = folder / f"{SCENARIO}.yaml"
    spec = {"name": SCENARIO, "description": "每个统筹区一组参数", "changes": {},
            "regions": REGION_CHANGES}
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    files = [path]
    run_simulate(db, YEAR, scenario_files=files, progress=lambda m: None)
    return {"db": db, "files": files, "folder": folder}


@pytest.fixture(scope="module")
def spark_run(city, spark) -> dict:
    """``dip-sim simulate --engine spark`` on a copy of the warehouse for the same scenarios
    (its baseline is current: not run again): inputs exported, Parquet written, loaded."""
    from pipelines.spark_simulate import run_spark_simulate

    db = city["folder"] / "spark.duckdb"
    shutil.copy(city["db"], db)
    out = city["folder"] / "spark_out"
    run_spark_simulate(db, YEAR, HISTORY, city["files"], out=out, spark=spark,
                       progress=lambda m: None)
    return {"db": db, "out": out}


@pytest.fixture(scope="module")
def spark_out(spark_run) -> Path:
    return spark_run["out"]


def test_every_stored_table_has_duckdbs_numbers(city, spark_out):
    from dip_sim.spark.same_numbers import differences

    con = duckdb.connect(str(city["db"]), read_only=True)
    try:
        # the tables the DuckDB run stored for the scenario (supervision: only under the
        # assessment scheme)
        tables = [t for t in CONTRACTS if t != "runs" and con.execute(
            f"SELECT count(*) FROM {t} WHERE scenario = ?", [SCENARIO]).fetchall()[0][0]]
        assert "case_scores" in tables and "point_values" in tables
        found = differences(con, spark_out, SCENARIO, tables)
        spark_regions = sorted(p.name for p in (spark_out / "case_scores" /
                                                f"scenario={SCENARIO}").iterdir())
    finally:
        con.close()
    assert not found, "\n".join(found)
    assert spark_regions == [f"region={r}" for r in REGIONS]


def test_each_region_runs_with_its_own_values(spark_run):
    """The scenario's values are each region's own: the run Spark recorded for a region holds
    that region's values and not the other's (the budget point value refined by quantiles in
    one city, by the optimal interval in the other; a fixed fund only in the second)."""
    con = duckdb.connect(str(spark_run["db"]), read_only=True)
    try:
        runs = {region: json.loads(params) for region, params in con.execute(
            "SELECT region, params_json FROM runs WHERE scenario = ?", [SCENARIO]).fetchall()}
    finally:
        con.close()
    assert sorted(runs) == list(REGIONS)
    for region, changes in REGION_CHANGES.items():
        for name, value in changes.items():
            assert runs[region][name] == value, (region, name)
    refinement = "point_value.budget_refinement"
    assert {runs[r][refinement] for r in REGIONS} == {"quantile", "optimal_interval"}
    assert runs[REGIONS[0]]["budget.method"] != "fixed" == runs[REGIONS[1]]["budget.method"]


def test_export_is_partitioned_by_region(city, spark_run, tmp_path):
    """Each region's rows of a region-bound table sit in its folder, nothing twice; a
    reference table is whole in each region's folder."""
    out = spark_run["out"] / "inputs"
    con = duckdb.connect(str(city["db"]), read_only=True)
    try:
        counts = dict(con.execute("SELECT trim(h.region), count(*) FROM case_features f "
                                  "JOIN hospitals h USING (hospital_id) GROUP BY 1").fetchall())
        exported = {r: con.execute(f"SELECT count(*) FROM read_parquet('"
                                   f"{out / 'case_features' / f'region={r}' / '*.parquet'}')"
                                   ).fetchall()[0][0] for r in REGIONS}
    finally:
        con.close()
    assert exported == counts
    assert sorted(p.name for p in (out / "ref_dx").iterdir()) == [f"region={r}" for r in REGIONS]


def _edited_copy(spark_out: Path, copy: Path, replace: str) -> None:
    """A copy of the Spark run's case_scores of the first region with its first case (by
    ``case_id``) edited: ``replace`` is a ``* REPLACE`` list given ``first``, true on it."""
    shutil.copytree(spark_out / "case_scores", copy / "case_scores")
    files = sorted((copy / "case_scores" / f"scenario={SCENARIO}" / f"region={REGIONS[0]}"
                    ).glob("*.parquet"))
    edit = duckdb.connect()
    edit.execute(f"CREATE TABLE changed AS SELECT * REPLACE ({replace}) FROM (SELECT *, "
                 f"row_number() OVER (ORDER BY case_id) = 1 AS first "
                 f"FROM read_parquet({[str(f) for f in files]}))")
    for f in files:
        f.unlink()
    edit.execute(f"COPY (SELECT * EXCLUDE (first) FROM changed) TO "
                 f"'{files[0].parent / 'changed.parquet'}' (FORMAT parquet)")
    edit.close()


def test_a_different_number_is_found(city, spark_out, tmp_path):
    """The comparison can fail: one case's points changed by 1e-6 relative in a copy; one
    case's number changed in another (a row of each engine without its match)."""
    from dip_sim.spark.same_numbers import table_differences

    _edited_copy(spark_out, tmp_path / "points", "CASE WHEN first THEN case_points * (1 + 1e-6) "
                                                 "ELSE case_points END AS case_points")
    _edited_copy(spark_out, tmp_path / "key", "CASE WHEN first THEN case_id || '-x' "
                                              "ELSE case_id END AS case_id")
    con = duckdb.connect(str(city["db"]), read_only=True)
    try:
        points = table_differences(con, tmp_path / "points", "case_scores", SCENARIO)
        key = table_differences(con, tmp_path / "key", "case_scores", SCENARIO)
    finally:
        con.close()
    assert len(points) == 1 and "case_points" in points[0]
    assert sorted(k.split("}: ")[1] for k in key) == [
        "DuckDB 'missing'，Spark 'present'", "DuckDB 'present'，Spark 'missing'"], key


def test_results_load_into_the_warehouse_and_compare_reads_them(city, spark_run):
    """The Parquet results replaced the copy's rows (its data tests passed), each scenario's
    run is recorded, and ``compare`` reads them as any run's."""
    from dip_sim.pipeline.regions import results_in_region
    from dip_sim.reports.compare import compare_tables

    con = duckdb.connect(str(spark_run["db"]), read_only=True)
    duck = duckdb.connect(str(city["db"]), read_only=True)
    try:
        query = "SELECT scenario, region, dip_fund_yuan FROM point_values ORDER BY region, scenario"
        loaded, original = con.execute(query).fetchall(), duck.execute(query).fetchall()
        runs = con.execute("SELECT scenario, base, stages_run FROM runs ORDER BY region, scenario"
                           ).fetchall()
        sources = con.execute("SELECT count(*) FROM scenario_sources WHERE scenario <> source"
                              ).fetchall()[0][0]
        with results_in_region(con, REGIONS[1]):
            tables = compare_tables(con, ["baseline", SCENARIO])
    finally:
        con.close()
        duck.close()
    assert loaded == original and len(loaded) == 2 * len(REGIONS)
    assert [r[0] for r in runs] == ["baseline", SCENARIO] * len(REGIONS)
    assert runs[1][1] is None and "settle" in runs[1][2]  # a full run on Spark
    assert sources == 0  # every scenario's rows are its own
    assert tables["医院年终结算额"].columns[-1] == f"{SCENARIO} − baseline"


def test_the_sql_is_translated_not_copied():
    """getvariable becomes the value's literal; DuckDB's exact quantile becomes Spark's exact
    percentile; a union by name is put in column order."""
    from dip_sim.spark.transpile import literal, spark_sql

    sql = ("SELECT quantile_cont(x, getvariable('point_value.trim_low')) AS q FROM t "
           "UNION ALL BY NAME SELECT 1 AS q")
    out = spark_sql(sql, "m", {"point_value.trim_low": literal(0.025, "DOUBLE")},
                    {"t": {"x": "DOUBLE"}})
    assert "PERCENTILE(T.X, CAST(0.025 AS DOUBLE))" in out.upper()
    assert "GETVARIABLE" not in out.upper() and "BY NAME" not in out.upper()


# doubles where Spark's own cast to a DECIMAL or an integer and DuckDB's disagree: a tie in
# the digit after the scale, written in decimal (1.66347592685) but stored just below it in
# binary; doubles beyond 2^53 at the scale (10^7 points at 10 decimals, 10^10 yuan at 6);
# halves and fractions cast to a whole number
CAST_VALUES = (1.66347592685, -1.66347592685, 0.285, 2.675, 334001415.405, 9876543.21098765,
               -9876543.21098765, 2.0 ** 60 / 1e10, 12345678901.234567, 5e-11, -5e-11, 0.0,
               2.5, 3.5, -2.5, 2.7, -2.7, None)


def test_a_double_rounded_or_cast_has_duckdbs_digits(spark):
    """An exact sum is a sum of casts to DECIMAL, and the data tests recompute it on the
    warehouse from the Spark run's doubles: the translated cast gives DuckDB's digits for a
    DOUBLE operand, at each scale and precision, inside another cast, and for a DECIMAL or an
    integer operand (cast as it is). A cast to an integer gives DuckDB's whole number too, of a
    DOUBLE and of a DECIMAL; a DECIMAL rounds alike on both."""
    from dip_sim.spark.transpile import spark_sql

    values = [*CAST_VALUES, *(float(f"{k}5e-11") for k in range(166347592680, 166347592880))]
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT i, x, CAST(x AS DECIMAL(38, 4)) AS d, "
                "CAST(x AS BIGINT) AS n FROM (SELECT unnest(?::DOUBLE[]) AS x, "
                "generate_subscripts(?::DOUBLE[], 1) AS i)", [values, values])
    spark.createDataFrame(con.execute("SELECT i, x, CAST(d AS VARCHAR) AS d, n FROM t").df()
                          ).createOrReplaceTempView("cast_values_text")
    spark.sql("SELECT i, x, CAST(d AS DECIMAL(38, 4)) AS d, n FROM cast_values_text"
              ).createOrReplaceTempView("t")
    sql = ("SELECT i, CAST(x AS DECIMAL(38, 10)) AS a, CAST(x AS DECIMAL(38, 6)) AS b, "
           "CAST(x AS DECIMAL(18, 2)) AS c, "
           "CAST(round(CAST(x AS DECIMAL(38, 6)), 2) AS DECIMAL(18, 2)) AS e, "
           "CAST(d AS DECIMAL(18, 2)) AS f, CAST(n AS DECIMAL(38, 10)) AS g, "
           "CAST(x * 3 AS DECIMAL(38, 10)) AS h, CAST(x AS BIGINT) AS k, "
           "CAST(d AS BIGINT) AS l, CAST(n / 1000 AS INTEGER) AS m, "
           "CAST(round(CAST(x AS DECIMAL(38, 6)), 2) AS DOUBLE) AS o, round(d, 2) AS q, "
           "round(x) AS r FROM t ORDER BY i")
    duck = con.execute(sql).fetchall()
    ours = [tuple(r) for r in spark.sql(spark_sql(sql, "casts", {}, {})).collect()]
    assert ours == duck
    # by hand: 1.66347592685 and 0.285 lie just below their ties in binary; a DOUBLE's half
    # goes to the even whole number, a DECIMAL's away from zero, 2.7 up
    assert ours[0][1] == Decimal("1.6634759268") and ours[2][3] == Decimal("0.28")
    assert [ours[i][8] for i in (12, 13, 14, 15, 16)] == [2, 4, -2, 3, -3]
    assert [ours[i][9] for i in (12, 13, 14, 15, 16)] == [3, 4, -3, 3, -3]
    theirs = [tuple(r) for r in spark.sql(sql).collect()]
    for column in (1, 8, 9, 10):  # Spark's own casts to a DECIMAL and to integers
        assert [r[column] for r in theirs] != [r[column] for r in duck]


def test_spark_options_are_checked_before_spark_starts(tmp_path, capsys):
    """An empty warehouse is refused with what to run; a Spark option without the engine is
    refused, both in one line."""
    from dip_sim.cli import main

    db = str(tmp_path / "w.duckdb")
    assert main(["simulate", "--year", "2020", "--engine", "spark", "--db", db]) == 1
    assert "dip-sim ingest" in capsys.readouterr().err
    assert main(["simulate", "--year", "2020", "--master", "local[1]", "--db", db]) == 1
    assert "--engine spark" in capsys.readouterr().err


def test_export_names_what_is_missing(tmp_path):
    from dip_sim.spark.engine import SparkEngineError
    from dip_sim.spark.export import export_parquet

    con = duckdb.connect()
    try:
        with pytest.raises(SparkEngineError, match="dip-sim ingest"):
            export_parquet(con, tmp_path / "inputs")
    finally:
        con.close()


def test_a_missing_java_is_named_with_the_package(monkeypatch):
    from dip_sim.spark import engine

    monkeypatch.setattr(engine.shutil, "which", lambda name: None)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(engine.SparkEngineError, match="default-jre-headless"):
        engine.start_session("local[1]")


def test_inputs_and_results_at_a_uri(city, spark_run, spark):
    """Inputs and results at a URI (``file://`` here, as ``hdfs://`` or ``s3a://`` would be):
    the side connection's input tables come through Spark, a region's own rows only, and the
    results are read through Spark for loading."""
    from dip_sim.pipeline.regions import Region
    from dip_sim.spark.engine import SparkRunner
    from pipelines.spark_simulate import written_rows

    inputs = (spark_run["out"] / "inputs").resolve().as_uri()
    runner = SparkRunner(spark, inputs, "file:///nowhere", Region(REGIONS[0], "太原市"),
                         lambda message: None)
    try:
        side = runner.side.execute("SELECT count(*) FROM case_status").fetchall()[0][0]
    finally:
        runner.close()
    con = duckdb.connect(str(city["db"]), read_only=True)
    try:
        own = con.execute("SELECT count(*) FROM case_status JOIN hospitals h USING (hospital_id) "
                          "WHERE trim(h.region) = ?", [REGIONS[0]]).fetchall()[0][0]
    finally:
        con.close()
    con = duckdb.connect()
    try:
        out = spark_run["out"].resolve().as_uri()
        rows = written_rows(con, out, "point_values", SCENARIO, REGIONS[1], spark)
        got = con.execute(f"SELECT scenario, region, count(*) FROM ({rows}) GROUP BY ALL"
                          ).fetchall()
        none = written_rows(con, out, "point_values", "no_such_scenario", REGIONS[1], spark)
    finally:
        con.close()
    assert side == own > 0
    assert got == [(SCENARIO, REGIONS[1], 1)] and none is None


def test_rows_of_no_region_are_counted_not_exported(city, tmp_path):
    """A hospital missing from the hospital table: its cases belong to no region, are in no
    region's folder (as no region's DuckDB run reads them) and are counted for the report."""
    from dip_sim.spark.export import UNATTACHED, export_parquet

    db = tmp_path / "w.duckdb"
    shutil.copy(city["db"], db)
    con = duckdb.connect(str(db))
    try:
        gone = con.execute("SELECT hospital_id FROM hospitals ORDER BY hospital_id LIMIT 1"
                           ).fetchall()[0][0]
        n = con.execute("SELECT count(*) FROM case_features WHERE hospital_id = ?", [gone]
                        ).fetchall()[0][0]
        con.execute("DELETE FROM hospitals WHERE hospital_id = ?", [gone])
        rows = export_parquet(con, tmp_path / "in")
        total = con.execute("SELECT count(*) FROM case_features").fetchall()[0][0]
        exported = con.execute(f"SELECT count(*) FROM read_parquet('"
                               f"{tmp_path / 'in' / 'case_features' / '*' / '*.parquet'}')"
                               ).fetchall()[0][0]
    finally:
        con.close()
    assert rows[UNATTACHED] == n > 0
    assert exported == rows["case_features"] == total - n


def test_a_tied_rank_may_take_any_place_its_tie_spans():
    """Three hospitals tied within 1e-9 at 1.0: DuckDB ranks them all 1st, another engine 1st
    to 3rd; the 4th (0.5) is not tied with them."""
    from dip_sim.spark.same_numbers import TIED_RANKS, _tied

    columns = ["rank", "year", "index_code", "value", "ratio_to_region", "z_score"]
    duck = [(1, 2018, "x", 1.0, 1.0, 0.0), (1, 2018, "x", 1.0000000000000002, 1.0, 0.0),
            (1, 2018, "x", 1.0, 1.0, 0.0), (4, 2018, "x", 0.5, 0.5, -1.0)]
    tied = TIED_RANKS["supervision_hospitals"]
    assert all(_tied(duck, columns, duck[0], rank, tied) for rank in (1, 2, 3))
    assert not _tied(duck, columns, duck[0], 4, tied)
    assert _tied(duck, columns, duck[3], 4, tied) and not _tied(duck, columns, duck[3], 3, tied)


def test_the_per_region_cost_fit_and_the_local_cores():
    """Least squares through (1M, 100 s), (2M, 190 s), (3M, 280 s): 10 s + 90 s per million;
    local[2] has 2 cores, local 1."""
    from benchmarks.spark_bench import fit
    from dip_sim.spark.engine import local_cores

    a, b = fit([(1_000_000, 100.0), (2_000_000, 190.0), (3_000_000, 280.0)])
    assert a == pytest.approx(10.0) and b * 1e6 == pytest.approx(90.0)
    assert [local_cores(m) for m in ("local[2]", "local", "local[4,2]")] == [2, 1, 4]
