"""The models of the stage graph run on Apache Spark, from Parquet inputs to Parquet outputs.

The same models, in the same order, as ``dip-sim simulate`` runs on DuckDB
(:mod:`dip_sim.simulation`); only where each runs differs:

- a SQL model's file is translated to Spark SQL at run time (:mod:`dip_sim.spark.transpile`)
  and made a temporary view of the session; a model made as a table is materialised
  (``localCheckpoint``), so each later model reads its rows, not its plan;
- the run's parameters are made by the code DuckDB uses (:func:`set_run_params`) on a small
  in-memory DuckDB connection beside the session, and handed to Spark through Arrow
  (``run_params``, one row of STRUCT columns, and the ``param_*`` tables); ``getvariable``
  becomes the value's literal;
- a Python model (the panel's files, the lists read from YAML, the supervision lists, the
  anomaly screen) runs on that DuckDB connection as on a warehouse run: the small tables it
  reads are brought from Spark through Arrow, and the tables it writes are handed back the same
  way. Inputs it reads (reference tables, the quality verdicts) are read by DuckDB straight from
  the input Parquet;
- each stored table is written as Parquet, one folder per table, partitioned by
  :data:`PARTITIONS`, with the columns and types of its contract.

The unit of work is the pooling region (统筹区): a :class:`SparkRunner` runs one region, in a
session of its own (``newSession``: its own temporary views, the Spark context shared), from
that region's input files (``DIR/<table>/region=<code>/``, :mod:`dip_sim.spark.export`), with
that region's parameters, into that region's output partitions. Regions do not read each
other's rows, so several runners run side by side (:func:`dip_sim.spark.regions.run_regions`),
their jobs spread over the cluster's executors.

A scenario is a full run of its stages here (no reuse of its base's rows): each scenario and
region is its own partition, so they are independent writes.

Inputs and outputs are local folders or URIs Spark reads and writes (``hdfs://…``,
``s3a://…``, ``file://…``). From a URI, the few input tables the Python models read come to
the side connection through Spark and Arrow instead of being read by DuckDB.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb

from dip_sim.catalog.adjustments import load_adjustments
from dip_sim.contract import CONTRACTS, create_sql
from dip_sim.pipeline import incremental
from dip_sim.pipeline.graph import SIMULATE_STAGES, Model, graph, is_parameter_table
from dip_sim.pipeline.params import RUN_FIELDS, SCALAR_TYPES, is_list, run_facts, set_run_params
from dip_sim.pipeline.regions import Region
from dip_sim.pipeline.run import Run, create_empty
from dip_sim.policy import Scenario, resolve
from dip_sim.policy.parameters import Parameter
from dip_sim.policy.rules import check_rules
from dip_sim.policy.scenarios import params_fingerprint
from dip_sim.simulation import SimulationError, catalog_version
from dip_sim.spark.transpile import literal, needs_schema, spark_sql

Progress = Callable[[str], None]

# the partition columns of every stored table, outermost first (the models make the scenario's;
# the region is the run's, as DuckDB's store adds it)
PARTITIONS: tuple[str, ...] = ("scenario", "region")
# the table that records each scenario's run, written beside the results
RUNS = "runs"
# the folder of the output where a table bound for a Python model is handed to DuckDB
SIDE_FOLDER = "_side"
# Spark's own log configuration for the sessions dip-sim starts (errors only)
LOG_CONFIG = Path(__file__).with_name("log4j2.properties")


class SparkEngineError(SimulationError):
    """The Spark run cannot go on; the message (Chinese) says what is wrong and what to do."""


def input_tables() -> list[str]:
    """The tables the simulated stages read but do not make: the outputs of ingest and
    quality and the reference sources (what ``dip-sim export-parquet`` writes), plus
    ``warehouse_meta`` (the batches loaded and checked, which name the catalogue version)."""
    g = graph()
    made = {t for m in g.select(SIMULATE_STAGES) for t in m.outputs}
    wanted = {r for m in g.select(SIMULATE_STAGES) for r in m.reads
              if r not in made and not is_parameter_table(r)}
    for m in g.models:  # what ingest and quality make: read whole by the later stages
        if m.runs_in:
            wanted |= {t for t in m.outputs if t not in ("load_batches", "load_errors")}
    return sorted(wanted | {"warehouse_meta"})


def side_inputs() -> list[str]:
    """The input tables the side connection reads: those the simulated Python models read,
    ``warehouse_meta`` (the catalogue version, the run record) and ``case_status`` (the run
    record's count of the year's cases)."""
    inputs = set(input_tables())
    read = {r for m in graph().select(SIMULATE_STAGES) if m.python and not m.runs_in
            for r in m.reads if r in inputs}
    return sorted(read | {"warehouse_meta", "case_status"})


def is_uri(location: str | Path) -> bool:
    """Whether a location is a URI (``hdfs://``, ``s3a://``, ``file://`` …), not a local
    path."""
    return "://" in str(location)


def at(root: str | Path, *parts: str) -> str:
    """``root`` joined with ``parts``: a local path, or a URI joined with ``/``."""
    if is_uri(root):
        return "/".join([str(root).rstrip("/"), *parts])
    return str(Path(root, *parts))


def input_location(inputs: str | Path, table: str, region: Region) -> str:
    """Where ``region``'s rows of an input table are: the table's folder for the region
    (:mod:`dip_sim.spark.export`)."""
    return at(inputs, table, f"region={region.code}")


def parquet_glob(folder: Path | str) -> str:
    """The files of a table's Parquet folder (partition folders included) as DuckDB reads
    them."""
    return str(Path(folder) / "**" / "*.parquet")


def has_rows(folder: Path) -> bool:
    """Whether a table's Parquet folder holds a file (Spark writes none for a table no
    scenario has rows of)."""
    return Path(folder).is_dir() and any(Path(folder).rglob("*.parquet"))


def side_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the stored tables, empty, as their contracts
    declare them (a skipped Python model takes its columns from its stored table)."""
    con = duckdb.connect()
    for table in CONTRACTS:
        con.execute(create_sql(table))
    return con


def _variables(params: dict[str, Parameter], values: dict[str, Any],
               facts: dict[str, Any]) -> dict[str, Any]:
    """Each DuckDB variable a run sets (:func:`set_run_params`) → its typed literal."""
    out = {name: literal(values[name], SCALAR_TYPES[p.type])
           for name, p in params.items() if not is_list(p)}
    for key, kind in RUN_FIELDS.items():
        out[f"run.{key}"] = literal(facts[key], None if kind.endswith("[]") else kind)
    return out


class SparkRunner:
    """One pooling region's runs: scenarios from the Parquet inputs in ``inputs`` (that
    region's files) into ``out`` (that region's partitions), in a session of its own made
    from ``spark``."""

    def __init__(self, spark: Any, inputs: Path | str, out: Path | str, region: Region,
                 progress: Progress = print):
        self.spark = spark.newSession()
        self.inputs = inputs
        self.out = out
        self.region = region
        self.progress = progress
        self.schema: dict[str, dict[str, str]] = {}  # temp view → column → type
        self.structs: dict[str, Any] = {}  # temp view → its Spark schema
        for table in input_tables():
            self._register(table, self.spark.read.parquet(input_location(inputs, table, region)))
        self.side = side_connection()
        for table in side_inputs():
            if is_uri(inputs):  # DuckDB reads local files only: through Spark
                self.to_side(table)
                continue
            found = Path(input_location(inputs, table, region))
            if not found.is_dir():
                raise SparkEngineError(f"输入目录 {inputs} 中缺少表 {table} 的 Parquet 文件：请先运行 "
                                       "dip-sim export-parquet --db 仓库 --out 该目录")
            self.side.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet("
                              f"'{parquet_glob(found)}')")

    # Spark ↔ DuckDB, for the small tables the Python models and parameters are
    def to_spark(self, table: str) -> None:
        """Hand the side connection's ``table`` to Spark (Arrow), as a temp view."""
        arrow = self.side.sql(f"SELECT * FROM {table}").to_arrow_table()
        self._register(table, self.spark.createDataFrame(arrow))

    def to_side(self, table: str) -> None:
        """Bring Spark's ``table`` to the side connection, as a temp table. With a local
        output folder the executors write it as Parquet there (``_side/``) and DuckDB reads
        the files: a per-case table (the anomaly screen's input) does not pass through the
        driver's memory. With a URI, its rows are collected through Arrow."""
        if is_uri(self.out):
            arrow = self.spark.table(table).toArrow()
            self.side.register("spark_arrow", arrow)
            self.side.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS "
                              "SELECT * FROM spark_arrow")
            self.side.unregister("spark_arrow")
            return
        folder = Path(self.out, SIDE_FOLDER, f"region={self.region.code}", table)
        self.spark.table(table).write.mode("overwrite").parquet(str(folder))
        self.side.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM read_parquet("
                          f"'{parquet_glob(folder)}')")
        shutil.rmtree(folder, ignore_errors=True)

    def _register(self, name: str, df: Any) -> None:
        """Make ``df`` the session's temp view ``name`` and remember its columns."""
        df.createOrReplaceTempView(name)
        self.schema[name] = {f.name: f.dataType.simpleString() for f in df.schema.fields}
        self.structs[name] = df.schema

    def _sql_model(self, model: Model, sql: str, variables: dict[str, Any],
                   empty: bool = False) -> None:
        """Make a SQL model's temp view: materialised when it is a table with rows to keep,
        an empty table of its columns when it is skipped (``empty``)."""
        text = spark_sql(sql, model.name, variables, self.schema if needs_schema(sql) else {})
        try:
            df = self.spark.sql(text)
            if empty:
                # no rows and no plan: a later join of this table with one it was made from
                # would otherwise meet the same columns on both sides, which Spark's analyser
                # cannot always tell apart (int_keyed's lateral join with int_combo_keys)
                df = self.spark.createDataFrame([], df.schema)
            elif model.materialized != "view":
                # its rows, not its plan; columns under new ids (a later join of this table
                # with one it was made from must tell their columns apart)
                df = df.localCheckpoint(eager=False)
                df = df.toDF(*df.columns)
        except Exception as exc:  # Spark's analysis and execution errors carry their text
            raise SparkEngineError(f"模型 {model.name}（{model.sql}）在 Spark 上运行失败："
                                   f"{_first_line(exc)}") from exc
        self._register(model.name, df)

    def _python_model(self, model: Model, run: Run, skipped: bool) -> None:
        if skipped:  # its tables empty, with their columns: nothing to read
            create_empty(self.side, model)
        else:
            maker = graph().maker()
            for read in model.reads:  # what the SQL models made lives in Spark
                if read in maker and maker[read].sql:
                    self.to_side(read)
            model.function()(self.side, run)
        for table in model.outputs:
            self.to_spark(table)

    def run_scenario(self, scenario: Scenario, params: dict[str, Parameter], year: int,
                     history: Sequence[int]) -> dict[str, Any]:
        """Run one scenario's models in the runner's region and write its stored tables; its
        point values."""
        region = self.region
        values = resolve(params, scenario, year, region.code)
        check_rules(values, {"run.n_history_years": len(history)})
        adjustments = load_adjustments(values["catalog.adjustments_file"])
        facts = run_facts(scenario.name, year, history,
                          catalog_version(self.side, values, adjustments, region.code))
        set_run_params(self.side, params, values, facts)
        for table in ["run_params", *(t for t in self._side_temp() if t.startswith("param_"))]:
            self.to_spark(table)
        variables = _variables(params, values, facts)
        run = Run(scenario.name, year, list(history), values, region=region.code,
                  adjustment_actions=Counter(a.action for a in adjustments.items))
        run_facts_now = run.facts()
        spent: Counter = Counter()
        models = [m for m in graph().select(SIMULATE_STAGES) if not m.runs_in]
        for model in models:
            started = time.perf_counter()
            skipped = model.skipped(run_facts_now)
            if skipped:
                run.skipped.add(model.name)
            if model.python:
                self._python_model(model, run, skipped)
            elif skipped and model.name in self.structs:  # its columns known: no query
                self._register(model.name, self.spark.createDataFrame([], self.structs[model.name]))
            elif skipped:
                self._sql_model(model, f"SELECT * FROM (\n{model.sql_text()}\n) LIMIT 0",
                                variables, empty=True)
            else:
                self._sql_model(model, model.sql_text(), variables)
            spent[model.stage] += time.perf_counter() - started
        self.progress(f"  [{scenario.name} {region.code}] Spark：" + "，".join(
            f"{stage} {spent[stage]:.1f} 秒" for stage in SIMULATE_STAGES if stage in spent))
        self._store(run, models)
        self._write_runs(scenario, run, params, values, models, region)
        row = self.spark.table("mart_point_values").toPandas().iloc[0].to_dict()
        return {**row, "region": region.code, "region_name": region.name}

    def _side_temp(self) -> list[str]:
        return [r[0] for r in self.side.execute(
            "SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()]

    def _store(self, run: Run, models: Sequence[Model]) -> None:
        """Write each stored table's rows of the scenario (its contract's stored columns and
        types; a column computed on read is computed by the warehouse's view)."""
        for model in models:
            if not model.stores or (model.stage == "supervise" and model.name in run.skipped):
                continue
            contract = CONTRACTS[model.stores]
            columns = ", ".join(f"CAST({c.name} AS {c.type}) AS {c.name}"
                                for c in contract.stored_columns if c.name not in PARTITIONS)
            select = spark_sql(f"SELECT {columns} FROM {model.name}", model.name, {}, {})
            self._write(self.spark.sql(select), model.stores, run.scenario)

    def _write(self, df: Any, table: str, scenario: str) -> None:
        """Replace the scenario's and region's partition of ``out/<table>`` by ``df``'s rows
        (the partition columns are its folder names, as a partitioned write leaves them)."""
        target = at(self.out, table, f"scenario={scenario}", f"region={self.region.code}")
        if not is_uri(target):
            shutil.rmtree(target, ignore_errors=True)
        df.drop(*PARTITIONS).write.mode("overwrite").parquet(target)

    def _write_runs(self, scenario: Scenario, run: Run, params: dict[str, Parameter],
                    values: dict[str, Any], models: Sequence[Model], region: Region) -> None:
        """The scenario's run record (the columns of ``runs``), written as its partition."""
        params_json, params_sha = params_fingerprint(values)
        n_scored = self.spark.table("mart_case_scores").count()
        self.side.execute("""
            CREATE OR REPLACE TEMP TABLE spark_run AS
            SELECT ?::VARCHAR AS scenario, ?::VARCHAR AS description, ?::INTEGER AS year,
                   ?::VARCHAR AS history_years, ?::TIMESTAMP AS run_at,
                   ?::VARCHAR AS params_json, ?::VARCHAR AS params_sha256,
                   (SELECT count(*) FROM case_status WHERE year = ?) AS n_cases_year,
                   ?::BIGINT AS n_grouped_year, ?::VARCHAR AS scenario_file,
                   NULL::VARCHAR AS base, ?::VARCHAR AS stages_run, ?::VARCHAR AS inputs_sha256,
                   false AS stale, ?::VARCHAR AS region, ?::VARCHAR AS region_name""",
            [scenario.name, scenario.description, run.year, ",".join(map(str, run.history)),
             dt.datetime.now(), params_json, params_sha, run.year, n_scored,
             str(Path(scenario.source).resolve()) if scenario.source else None,
             ",".join(dict.fromkeys(m.stage for m in models if m.name not in run.skipped)),
             incremental.inputs_fingerprint(self.side, params, values), region.code,
             region.name])
        contract = CONTRACTS[RUNS]
        columns = ", ".join(f"CAST({c.name} AS {c.type}) AS {c.name}" for c in contract.columns
                            if c.name not in PARTITIONS)
        self.side.execute(f"CREATE OR REPLACE TEMP TABLE spark_run AS SELECT {columns} "
                          "FROM spark_run")
        self.to_spark("spark_run")
        self._write(self.spark.table("spark_run"), RUNS, scenario.name)

    def close(self) -> None:
        """Close the side connection (the session is the caller's)."""
        self.side.close()


def local_cores(master: str) -> int:
    """The cores of a local master: ``local`` 1, ``local[N]`` N, ``local[*]`` the machine's."""
    found = re.fullmatch(r"local(?:\[(\d+|\*)(?:,\s*\d+)?\])?", master.strip())
    if found is None or found.group(1) is None:
        return 1
    return os.cpu_count() or 1 if found.group(1) == "*" else int(found.group(1))


def start_session(master: str = "local[2]", app: str = "dip-sim", parallel: int = 1,
                  small_inputs: bool = False) -> Any:
    """A Spark session on ``master``, configured as DuckDB computes: NULL (not an error) on a
    division by zero, UTC; on a local master, a region's shuffles split over the cores left to
    each of the ``parallel`` regions running at once. A missing ``java`` or ``pyspark`` is
    named with how to install it.

    ``small_inputs`` (a local master only; the tests' cities of a few thousand cases) trades
    speed per row for a quicker start of each query: expressions are evaluated rather than
    compiled to Java classes, and the driver's JVM compiles its own code with its quick
    compiler only. On such inputs a model's time is planning and compiling, not rows.
    """
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise SparkEngineError("未找到 Java：Spark 需要 Java 17 或更高版本。Debian/Ubuntu 上运行 "
                               "sudo apt-get install -y default-jre-headless（或 sh scripts/ensure_java.sh）")
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SparkEngineError("未安装 pyspark：请运行 pip install -e .（pyspark 是 dip-sim 的依赖）"
                               ) from exc
    _quiet_pyspark()
    local = master.startswith("local")
    java_options = f"-Dlog4j2.configurationFile={LOG_CONFIG.as_uri()}"
    if local and small_inputs:  # C1 only: the JIT's C2 threads otherwise take a core
        java_options += " -XX:TieredStopAtLevel=1"
    builder = (SparkSession.builder.master(master).appName(app)
               .config("spark.sql.ansi.enabled", "false")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.driver.memory", os.environ.get("DIP_SIM_SPARK_DRIVER_MEMORY", "2g"))
               .config("spark.sql.sources.partitionOverwriteMode", "dynamic")
               .config("spark.driver.extraJavaOptions", java_options))
    if local:  # one machine: a partition per core of each region running, no re-planning
        # between stages, no code generation to wait for (each model is a small query)
        partitions = max(1, local_cores(master) // max(1, parallel))
        builder = (builder.config("spark.sql.shuffle.partitions", str(partitions))
                   .config("spark.sql.adaptive.enabled", "false")
                   .config("spark.sql.codegen.wholeStage", "false"))
        if small_inputs:  # expressions interpreted: no Janino compile of each projection
            builder = builder.config("spark.sql.codegen.factoryMode", "NO_CODEGEN")
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # py4j / JVM start-up errors carry their own text
        raise SparkEngineError(f"无法连接 Spark（master {master}）：{str(exc).splitlines()[0]}。"
                               "请检查 --master 地址与集群是否在运行") from exc
    spark.sparkContext.setLogLevel("OFF")
    return spark


def _quiet_pyspark() -> None:
    """Keep PySpark's own notices off the terminal: its warning that it has not been tested with
    this pandas (the results are checked against DuckDB's, table by table, in the test suite)
    and its log of each failed query (the failure reaches dip-sim as an exception, which says
    what went wrong in Chinese)."""
    import logging
    import warnings

    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas",
                            category=FutureWarning)
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)


def _first_line(exc: BaseException) -> str:
    """The first non-empty line of an error's text (Spark's messages run to many lines)."""
    return next((line.strip() for line in str(exc).splitlines() if line.strip()), repr(exc))
