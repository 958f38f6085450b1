"""Grouping and scoring request rows with the pipeline's own SQL, against a stored scenario.

At start, :class:`Grouper` opens the warehouse read-only (attached to an in-memory DuckDB),
runs the scenario's catalogue, budget and score models exactly as ``dip-sim simulate`` ran them
(same parameters, same history years, same inputs), keeps the catalogue-level tables those
models made (core keys, comprehensive codes, merges, related procedures, auxiliary choices,
level coefficients, the budget point value …) and the reference tables, and detaches the
warehouse: a batch ``simulate`` may then take the file. In a warehouse of several pooling
regions (统筹区) a grouper serves one region (``region``): its models run on that region's data
(:func:`dip_sim.pipeline.regions.scoped`), with its parameters, catalogue and point value, and
only that region's hospitals are served.

For each request, the rows go through ingest's own steps (headers recognised, values typed,
codes standardised: :func:`dip_sim.ingest.readers.recognise_frame` and ``stage_recognised``,
:mod:`dip_sim.ingest.standardise`),
the quality rules (:mod:`dip_sim.quality.status`), and then the per-case models of the stage
graph (:data:`PER_CASE_MODELS`, their SQL files as they are) inlined as CTEs over the request's
case features: the answer is what ``simulate`` gives the same discharge. No rule is written
twice.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import queue
import threading
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from dip_sim.catalog.adjustments import load_adjustments
from dip_sim.contract import column_codes
from dip_sim.ingest.errors import IngestError
from dip_sim.ingest.headers import header_map, map_headers
from dip_sim.ingest.parsing import record_parse_errors
from dip_sim.ingest.readers import Recognised, recognise_frame, stage_recognised
from dip_sim.ingest.standardise import code_lists_sql, insert_cases_sql, insert_rows_sql
from dip_sim.paths import SCENARIO_DIR
from dip_sim.pipeline.graph import graph
from dip_sim.pipeline.params import run_facts, set_run_params
from dip_sim.pipeline.regions import RegionError, regions, scoped
from dip_sim.pipeline.run import Run, run_models
from dip_sim.policy import Scenario, load_baseline, load_scenario, resolve
from dip_sim.policy.scenarios import params_fingerprint
from dip_sim.quality.status import (
    features_select_sql,
    findings_sql,
    unmatched_keys_sql,
    verdicts_sql,
    worst_sql,
)
from dip_sim.schema import INPUT_TABLES
from dip_sim.simulation import catalog_version

BASELINE = "baseline"
# the models that place and score one case: run again on the request rows (as CTEs named like
# them, in run order); every other table they read is catalogue-level state from the start
# how a caller places a field: the contract's names or the 结算清单's (docs/api.md)
FIELD_HINT = "字段名用合同字段名或结算清单项目名，见 /docs 与 docs/input_fields.md"
PER_CASE_MODELS = ("int_adjusted_lists", "int_case_procs", "int_combo_keys", "int_keyed",
                   "int_subset_choice", "mart_case_groups", "int_year_cases", "int_aux_cases",
                   "int_aux_codes", "int_aux_values", "int_case_aux", "int_case_scores")
# the warehouse tables the request's steps read (ingest, quality, grouping), copied at start
_COPIED = ("hospitals", "quality_rules")
_TEMPLATES = ("cases", "settlements", "load_errors")  # empty copies, filled per request
REQUEST_LABEL = "API 请求"
# the fields of a discharge under the contract's own names
_FIELDS = frozenset(c.name for kind in ("cases", "settlements") for c in INPUT_TABLES[kind])


class GrouperError(ValueError):
    """The warehouse cannot back the API (no such scenario, parameters changed …)."""


class RequestError(ValueError):
    """The request's rows cannot be read: the message (Chinese) names the field or column."""


@dataclass(frozen=True)
class PointValue:
    """The point value an expected payment is computed at, and which one it is."""

    kind: str  # 'budget' during the simulation year, 'settlement' once it is cleared
    kind_zh: str
    yuan: float


def _scenario(name: str, recorded: str | None, params: dict) -> Scenario:
    """The scenario as simulated: the file ``runs`` recorded, else ``data/scenarios/<name>.yaml``."""
    if name == BASELINE:
        return Scenario(BASELINE, "基线：data/policy 中的默认参数")
    path = Path(recorded) if recorded else SCENARIO_DIR / f"{name}.yaml"
    if not path.is_file():
        raise GrouperError(f"找不到情景 {name} 的文件 {path}")
    return load_scenario(path, params)


class Grouper:
    """The scenario's catalogue, ready to group and score request rows (one at a time: a
    lock guards the connection)."""

    def __init__(self, db: Path, scenario: str = BASELINE, today: dt.date | None = None,
                 region: str | None = None) -> None:
        self.db = Path(db)
        self.scenario = scenario
        self.region = region  # the pooling region served (None: the warehouse's only one)
        self.hospitals: frozenset[str] | None = None  # its hospitals, when the warehouse has several
        self.lock = threading.Lock()
        self.con = duckdb.connect(config={"python_enable_replacements": False})
        self.con.execute("SET enable_progress_bar = false")
        try:
            self.con.execute(f"ATTACH '{self.db.as_posix()}' AS wh (READ_ONLY)")
        except (duckdb.IOException, duckdb.ConnectionException) as exc:
            raise GrouperError(f"无法只读打开仓库 {self.db}（可能正被写入，请稍后重试）：{exc}") from None
        self.con.execute("USE wh")
        try:
            self._prepare(today or dt.date.today())
        finally:
            self.con.execute("USE memory")
            self.con.execute("DETACH wh")
        # a request's rows (at most access.api_batch_max) fit in one row group, which DuckDB
        # reads with one thread: a second one only adds scheduling (measured: a single request
        # and a batch of 10,000 both a little faster with one); requests sent at the same time
        # run side by side on the groupers of a GrouperPool instead
        self.con.execute("SET threads = 1")

    def _prepare(self, today: dt.date) -> None:
        try:
            every = regions(self.con)
        except RegionError as exc:
            raise GrouperError(str(exc)) from None
        if self.region is None and len(every) > 1:
            raise GrouperError(f"仓库中有多个统筹区（{', '.join(r.code for r in every)}）：预分组接口"
                               "每次服务一个统筹区，请用 --region 指定")
        chosen = [r for r in every if self.region is None or r.code == self.region]
        if not chosen:
            raise GrouperError(f"仓库中没有统筹区 {self.region}（现有：{', '.join(r.code for r in every)}）")
        self.region = chosen[0].code
        # the region the stored rows are read in: none to filter on in a city of one region
        self._stored_region = self.region if len(every) > 1 else None
        if len(every) > 1:
            self.hospitals = frozenset(r[0] for r in self.con.execute(
                "SELECT hospital_id FROM hospitals WHERE trim(region) = ?",
                [self.region]).fetchall())
        with scoped(self.con, chosen[0], every):
            self._prepare_region(today)

    def _prepare_region(self, today: dt.date) -> None:
        """:meth:`_prepare` with the input tables scoped to the region served."""
        con = self.con
        found = con.execute("SELECT year, history_years, params_sha256, scenario_file FROM runs "
                            "WHERE scenario = ? AND (?::VARCHAR IS NULL OR region = ?)",
                            [self.scenario, self._stored_region, self._stored_region]).fetchall()
        if not found:
            raise GrouperError(f"仓库中没有情景 {self.scenario} 的模拟结果：请先运行 dip-sim simulate")
        year, history_text, stored_sha, recorded = found[0]
        history = [int(y) for y in history_text.split(",")]
        params = load_baseline()
        values = resolve(params, _scenario(self.scenario, recorded, params), year, self.region)
        if params_fingerprint(values)[1] != stored_sha:
            raise GrouperError(f"情景 {self.scenario} 的参数与仓库中模拟时的参数不同：请先重新运行 "
                               f"dip-sim simulate，预分组结果才与模拟结果一致")
        adjustments = load_adjustments(values["catalog.adjustments_file"])
        set_run_params(con, params, values, run_facts(
            self.scenario, year, history,
            catalog_version(con, values, adjustments, self.region or "")))
        run = Run(self.scenario, year, history, values, region=self.region or "",
                  adjustment_actions=Counter(a.action for a in adjustments.items))
        models = graph().select(("catalog", "budget", "score"))
        run_models(con, run, models, progress=lambda message: None)
        self.year = year
        self.skipped = set(run.skipped)
        self.point_value = self._point_value(year, today)
        # the Chinese labels of the coded values an answer carries (the output contract's)
        con.execute("CREATE TABLE memory.main.api_labels (name VARCHAR, code VARCHAR, "
                    "label VARCHAR)")
        con.executemany("INSERT INTO memory.main.api_labels VALUES (?, ?, ?)", [
            [name, code, label] for name, table in (("group_type", "case_groups"),
                                                     ("outlier", "case_scores"),
                                                     ("proc_class", "catalog_groups"))
            for code, label in column_codes(name, table).items()])
        # the catalogue with its published fields and a Chinese name: the diagnosis (its own
        # name, else that of its first code in the code table) and the procedures' names
        con.execute("""
            CREATE OR REPLACE TEMP TABLE api_catalog AS
            SELECT c.group_code, c.group_type, c.dx_key, c.proc_key, c.proc_class, c.rw,
                   c.primary_group, c.tcm_group, c.aux_dimension,
                   coalesce(d.name, (SELECT min_by(x.name, (length(x.code), x.code)) FROM ref_dx x
                                     WHERE starts_with(x.code, c.dx_key)), c.dx_key)
                   || CASE WHEN c.group_type = 'comprehensive'
                           THEN '（' || coalesce(l.label, c.proc_class) || '）'
                           WHEN c.proc_key = '' THEN '（保守治疗）'
                           ELSE '：' || (SELECT string_agg(coalesce(r.name, x.code), '+'
                                                          ORDER BY x.i)
                                        FROM (SELECT unnest(string_split(c.proc_key, '+')) AS code,
                                                     generate_subscripts(
                                                         string_split(c.proc_key, '+'), 1) AS i) x
                                        LEFT JOIN ref_proc r USING (code)) END AS name_zh
            FROM mart_catalog_groups c
            LEFT JOIN ref_dx d ON d.code = c.dx_key
            LEFT JOIN memory.main.api_labels l
                   ON l.name = 'proc_class' AND l.code = c.proc_class""")
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'wh'").fetchall()}
        for table in sorted(t for t in tables if t.startswith("ref_") or t in _COPIED):
            con.execute(f"CREATE TABLE memory.main.{table} AS FROM wh.main.{table}")
        for table in _TEMPLATES:
            con.execute(f"CREATE TABLE memory.main.api_tpl_{table} AS FROM wh.main.{table} LIMIT 0")
        self._drop_case_tables()
        self.class_zh = column_codes("proc_class", "catalog_groups")
        self.mapping = header_map()
        self.cte_sql = self._per_case_sql()

    def _point_value(self, year: int, today: dt.date) -> PointValue:
        row = self.con.execute("SELECT pv_budget_yuan, pv_settlement_yuan FROM point_values "
                               "WHERE scenario = ? AND (?::VARCHAR IS NULL OR region = ?)",
                               [self.scenario, self._stored_region, self._stored_region]
                               ).fetchall()
        budget, settlement = row[0] if row else (None, None)
        # the settlement point value exists once the year is cleared (after its last day)
        if today > dt.date(year, 12, 31) and settlement is not None:
            return PointValue("settlement", "结算点值（年度清算后）", float(settlement))
        if budget is None:
            budget = self.con.execute("SELECT pv_budget_yuan FROM int_budget").fetchall()[0][0]
        return PointValue("budget", "预算点值（年度内预付）", float(budget))

    def _drop_case_tables(self) -> None:
        """Drop the temp tables and views the request's models do not read: the cases of every
        year (what the per-case models made at start is made again per request, as CTEs)."""
        models = {m.name: m for m in graph().models}
        read = {t for name in PER_CASE_MODELS for r in models[name].reads
                for t in (models[r].outputs if r in models else (r,))}
        rerun = {name for name in PER_CASE_MODELS if name not in self.skipped}
        kept = (read - rerun) | {"api_catalog", "run_params"}
        temp = self.con.execute(
            "SELECT table_name, 'TABLE' FROM duckdb_tables() WHERE temporary "
            "UNION ALL SELECT view_name, 'VIEW' FROM duckdb_views() WHERE temporary AND NOT internal"
        ).fetchall()
        for name, kind in sorted(temp, key=lambda t: t[1] != "VIEW"):  # views first
            if name not in kept and not name.startswith("param_"):
                self.con.execute(f"DROP {kind} {name}")

    def _per_case_sql(self) -> str:
        """The per-case models, in run order, as CTEs over the request's case features."""
        ctes = ["case_features AS (SELECT * REPLACE (getvariable('run.sim_year') AS year) "
                "FROM api_features)"]
        for model in graph().models:
            if model.name in PER_CASE_MODELS and model.name not in self.skipped:
                ctes.append(f"{model.name} AS (\n{model.sql_text()}\n)")
        return "WITH " + ",\n".join(ctes)

    # -- per request -------------------------------------------------------------------------

    def _recognise(self, frame: pl.DataFrame) -> Recognised:
        """The request rows with their headers recognised as ingest recognises a file's.

        A body in the contract's own field names (a HIS's JSON, as docs/api.md shows it) has its
        header recognised alone: each column is its field, and the rows are taken as they are
        (looking for a file's spacer and totals rows among them would cost a batch more than a
        tenth of its time).
        """
        rows = frame.with_row_index("source_row", offset=1)
        plain = set(frame.columns) <= _FIELDS
        try:
            table = recognise_frame(rows.head(0) if plain else rows, REQUEST_LABEL, "api",
                                    self.mapping, allow_unmapped=True)
        except IngestError as exc:  # the problem, with the API's fix instead of a file's
            raise RequestError(f"{exc.problem}；{FIELD_HINT}") from None
        if not {"cases", "settlements"} <= set(table.kinds):  # name what a discharge lacks
            present = set(table.mapped.fields)
            missing = dict.fromkeys(f"{c.name}（{c.label_zh}）"
                                    for kind in ("cases", "settlements")
                                    for c in INPUT_TABLES[kind]
                                    if c.required and c.name not in present)
            raise RequestError(f"请求缺少必需字段 {', '.join(missing)}（一个出院病例须同时给出"
                               f"病案首页与结算字段）；{FIELD_HINT}")
        if plain:  # each field under its staged name (a field read in a form of its own: part 0)
            table = dataclasses.replace(table, frame=rows.rename(
                {n: f"{n}__p0" for n, src in table.mapped.fields.items() if src.combined()}))
        return table

    def _load(self, frame: pl.DataFrame) -> None:
        """The request rows → temp tables ``cases``, ``settlements``, ``load_errors`` (as
        ingest makes them), then ``api_findings`` and ``api_features`` (as quality does)."""
        con = self.con
        by_kind = {s.kind: s for s in stage_recognised(con, self._recognise(frame), "api_rows",
                                                        REQUEST_LABEL)}
        for table in _TEMPLATES:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS FROM api_tpl_{table}")
        con.execute("CREATE OR REPLACE TEMP TABLE present "
                    "(case_id VARCHAR, row_hash UBIGINT, key_hash UBIGINT)")
        con.execute("SET VARIABLE source_file = ?", [REQUEST_LABEL])
        con.execute("SET VARIABLE batch_id = 'api'")
        for kind in ("cases", "settlements"):
            src = by_kind[kind]
            record_parse_errors(con, kind, src.relation, src.sources, src.raw, src.file_expr)
            if kind == "cases":
                con.execute(code_lists_sql(src))
                con.execute(insert_cases_sql(src))
            else:
                con.execute(insert_rows_sql(kind, src))
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE dup_cases AS
            SELECT case_id FROM cases GROUP BY case_id HAVING count(*) > 1;
            CREATE OR REPLACE TEMP TABLE dup_settlements AS
            SELECT case_id FROM settlements GROUP BY case_id HAVING count(*) > 1;
            {unmatched_keys_sql()};
            CREATE OR REPLACE TEMP TABLE api_findings AS {findings_sql()};
            CREATE OR REPLACE TEMP TABLE api_features AS
            {verdicts_sql(f"({features_select_sql()})", f"({worst_sql('api_findings')})")};""")
        errors = con.execute(
            "SELECT row_number, field, value, reason FROM load_errors ORDER BY row_number, field"
        ).fetchall()
        if errors:  # a value that cannot be read: refused, naming the row and field
            raise RequestError("；".join(
                f"第 {r} 个病例 字段 {f}" + (f" 的值 '{v}'" if v is not None else "") + f"：{why}"
                for r, f, v, why in errors[:20]))

    def complete(self, frame: pl.DataFrame, hospital_id: str) -> pl.DataFrame:
        """The request rows with ``hospital_id`` (the key's hospital) and ``case_id`` (the row
        number) where no column gives them."""
        fields = map_headers(frame.columns, self.mapping).fields
        if "hospital_id" not in fields:
            frame = frame.with_columns(pl.lit(hospital_id).alias("hospital_id"))
        if "case_id" not in fields:
            frame = frame.with_columns(
                pl.int_range(1, frame.height + 1).cast(pl.String).alias("case_id"))
        return frame

    def group(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Group and score the request rows (text cells under contract or 结算清单 headers);
        one answer per case (the columns of :class:`dip_sim.api.schemas.GroupAnswer`), in the
        order of the rows."""
        pv = self.point_value
        with self.lock:
            self._load(frame)
            result = self.con.execute(f"""
                {self.cte_sql},
                found AS (
                    SELECT q.case_id, list(struct_pack(rule := q.rule, severity := q.severity,
                                                       field := q.field, label := q.label_zh,
                                                       detail := q.detail)
                                           ORDER BY t.severity_rank, t.priority) AS findings
                    FROM api_findings q JOIN quality_rules t USING (rule) GROUP BY q.case_id
                ), row_order AS (
                    SELECT case_id, min(source_row) AS source_row FROM cases GROUP BY case_id
                )
                SELECT f.case_id, f.hospital_id, f.level,
                       coalesce(g.grouped, false) AS grouped, g.rule, g.group_code, g.group_type,
                       tz.label AS group_type_zh, c.name_zh AS group_name, g.trace,
                       s.rw, s.level_coefficient, s.aux_type, s.aux_coefficient, s.primary_group,
                       s.tcm_factor, s.cost_ratio, s.outlier, oz.label AS outlier_zh,
                       s.case_points, CAST(f.total_cost_yuan AS DOUBLE) AS total_cost_yuan,
                       ? AS point_value_kind, ? AS point_value_kind_zh,
                       ?::DOUBLE AS point_value_yuan,
                       round(s.case_points * ?::DOUBLE, 2) AS expected_payment_yuan,
                       coalesce(f.status, 'ok') AS quality_status,
                       coalesce(f.severity, 'ok') AS quality_severity,
                       coalesce(q.findings, []) AS findings
                FROM case_features f
                LEFT JOIN mart_case_groups g USING (case_id)
                LEFT JOIN int_case_scores s USING (case_id)
                LEFT JOIN api_catalog c ON c.group_code = g.group_code
                LEFT JOIN api_labels tz ON tz.name = 'group_type' AND tz.code = g.group_type
                LEFT JOIN api_labels oz ON oz.name = 'outlier' AND oz.code = s.outlier
                LEFT JOIN found q USING (case_id)
                LEFT JOIN row_order o USING (case_id)
                ORDER BY o.source_row NULLS LAST, f.case_id""",
                [pv.kind, pv.kind_zh, pv.yuan, pv.yuan])
            with warnings.catch_warnings():
                # an extra copy of the answer rows, which con.sql would spare, costs less than
                # con.sql's reading of this long query
                warnings.simplefilter("ignore", UserWarning)
                return pl.from_arrow(result.to_arrow_table())

    def group_points(self, group_code: str, hospital_id: str) -> dict[str, Any] | None:
        """A group's published fields and its points at ``hospital_id``'s level (the scoring
        model's coefficient rules, on a case of that group and hospital with no cost)."""
        with self.lock:
            found = self.con.execute("SELECT level FROM hospitals WHERE hospital_id = ?",
                                     [hospital_id]).fetchall()
            level = found[0][0] if found else None
            sql = graph()["int_case_scores"].sql_text()
            rows = self.con.execute(f"""
                WITH int_year_cases AS (
                    SELECT ?::VARCHAR AS case_id, ?::VARCHAR AS hospital_id, ?::INTEGER AS level,
                           NULL::INTEGER AS month, NULL::INTEGER AS los_days,
                           NULL::INTEGER AS icu_days, NULL::DECIMAL(18, 2) AS total_cost_yuan,
                           NULL::DECIMAL(18, 2) AS fund_paid_yuan, c.group_code, c.group_type,
                           'all' AS pool
                    FROM api_catalog c WHERE c.group_code = ?),
                int_case_aux AS (SELECT * FROM int_case_aux WHERE false),
                scores AS ({sql})
                SELECT c.group_code, c.group_type, c.name_zh AS group_name, c.dx_key, c.proc_key,
                       c.proc_class, c.rw, c.primary_group, c.tcm_group, c.aux_dimension,
                       s.level_coefficient, s.case_points AS points_at_level
                FROM api_catalog c LEFT JOIN scores s USING (group_code)
                WHERE c.group_code = ?""",
                ["catalogue", hospital_id, level, group_code, group_code]).fetchall()
            names = [d[0] for d in self.con.description]
        if not rows:
            return None
        out = dict(zip(names, rows[0], strict=True))
        out["level"] = level
        out["group_type_zh"] = column_codes("group_type", "case_groups").get(out["group_type"])
        out["proc_class_zh"] = self.class_zh.get(out["proc_class"])
        return out

    def search(self, text: str, limit: int) -> list[dict[str, Any]]:
        """Catalogue groups whose code or Chinese name holds ``text`` (case-insensitive)."""
        with self.lock:
            rows = self.con.execute("""
                SELECT group_code, group_type, name_zh AS group_name, rw
                FROM api_catalog
                WHERE ? = '' OR group_code ILIKE '%' || ? || '%' OR name_zh ILIKE '%' || ? || '%'
                ORDER BY group_code LIMIT ?""", [text, text, text, limit]).fetchall()
        return [{"group_code": c, "group_type": t,
                 "group_type_zh": column_codes("group_type", "case_groups").get(t),
                 "group_name": n, "rw": rw} for c, t, n, rw in rows]

    def hospital_level(self, hospital_id: str) -> int | None:
        """The level of a hospital of the warehouse, or None."""
        with self.lock:
            found = self.con.execute("SELECT level FROM hospitals WHERE hospital_id = ?",
                                     [hospital_id]).fetchall()
        return found[0][0] if found else None

    def health(self) -> dict[str, Any]:
        """The scenario, year and point value served, and the catalogue's size."""
        with self.lock:
            n = self.con.execute("SELECT count(*) FROM api_catalog").fetchall()[0][0]
        return {"status": "ok", "scenario": self.scenario, "region": self.region,
                "year": self.year,
                "point_value_kind": self.point_value.kind,
                "point_value_yuan": self.point_value.yuan, "n_groups": n}

    def close(self) -> None:
        """Close the in-memory database."""
        self.con.close()


class GrouperPool:
    """Several groupers of the same scenario, each with its own in-memory database: a request
    runs on whichever is free, so that requests sent at the same time (two hospitals' batches)
    use the machine's cores side by side instead of waiting for one connection."""

    def __init__(self, db: Path, scenario: str = BASELINE, size: int = 1,
                 groupers: list[Grouper] | None = None, region: str | None = None) -> None:
        self.groupers = groupers or [Grouper(db, scenario, region=region)
                                     for _ in range(max(1, size))]
        # the grouper used last is taken first: one request after another stays on one
        # database, whose memory is warm (alternating cost a single request a fifth more)
        self.free: queue.LifoQueue[Grouper] = queue.LifoQueue()
        for grouper in self.groupers:
            self.free.put(grouper)
        first = self.groupers[0]
        self.scenario, self.year, self.point_value = first.scenario, first.year, first.point_value
        self.region, self.hospitals = first.region, first.hospitals

    def _call(self, method: str, *args: Any) -> Any:
        grouper = self.free.get()
        try:
            return getattr(grouper, method)(*args)
        finally:
            self.free.put(grouper)

    def complete(self, frame: pl.DataFrame, hospital_id: str) -> pl.DataFrame:
        """:meth:`Grouper.complete` (needs no connection)."""
        return self.groupers[0].complete(frame, hospital_id)

    def group(self, frame: pl.DataFrame) -> pl.DataFrame:
        """:meth:`Grouper.group` on a free grouper."""
        return self._call("group", frame)

    def group_points(self, group_code: str, hospital_id: str) -> dict[str, Any] | None:
        """:meth:`Grouper.group_points` on a free grouper."""
        return self._call("group_points", group_code, hospital_id)

    def search(self, text: str, limit: int) -> list[dict[str, Any]]:
        """:meth:`Grouper.search` on a free grouper."""
        return self._call("search", text, limit)

    def health(self) -> dict[str, Any]:
        """:meth:`Grouper.health`, with how many requests can run at once."""
        return self._call("health") | {"workers": len(self.groupers)}

    def close(self) -> None:
        """Close every grouper's database."""
        for grouper in self.groupers:
            grouper.close()
