"""The ``dip-sim`` command line: synth, ingest, quality, simulate, rebuild, params.

Every subcommand has ``--help``; errors are printed as one clear line (in Chinese, naming the
file, field or parameter) with a non-zero exit code, not as a traceback. A command opening
an existing warehouse made by another schema version exits with 2 and the one line saying to
run ``dip-sim rebuild`` (:mod:`dip_sim.warehouse_version`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from dip_sim.paths import default_db


def _years(text: str) -> list[int]:
    """Parse ``2017-2019`` or ``2017,2018,2019`` into a list of years."""
    try:
        if "-" in text:
            start, end = (int(x) for x in text.split("-", 1))
            years = list(range(start, end + 1))
        else:
            years = [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"年度应写作 2017-2019 或 2017,2018，收到 {text!r}") \
            from None
    if not years:
        raise argparse.ArgumentTypeError(f"年度范围为空: {text!r}")
    return years


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_synth(args: argparse.Namespace) -> int:
    """Generate the synthetic demo city."""
    from dip_sim.synth import generate

    counts = generate(args.out, years=args.years, cases_per_year=args.cases_per_year,
                      seed=args.seed, file_format=args.format, progress=_progress,
                      plant_rate=args.plant_rate, regions=args.regions)
    _progress(f"已写入 {args.out}: " + "，".join(f"{k} {v:,}" for k, v in counts.items()))
    if args.plant_rate:
        import polars as pl

        from dip_sim.synth.plant import GROUND_TRUTH, plant_problems

        if args.format == "csv":  # planted in the text: every rule, unreadable values too
            truth = plant_problems(args.out, args.plant_rate, args.seed)
        else:
            truth = pl.read_csv(args.out / GROUND_TRUTH)
        _progress(f"已植入 {truth.height:,} 个已知问题（{truth['rule'].n_unique()} 条规则），"
                  f"答案见 {args.out / GROUND_TRUTH}")
    return 0


def cmd_plant_gaming(args: argparse.Namespace) -> int:
    """Plant the gaming behaviours of a plan in a synthetic CSV city; print what was planted."""
    import polars as pl

    from dip_sim.synth.gaming import BEHAVIOURS, GAMING_TRUTH, load_plan, plant_gaming

    truth = plant_gaming(args.dir, load_plan(args.plan, args.dir), args.seed)
    counts = truth.group_by("behaviour", "hospital_id", "year").agg(cases=pl.len())
    for behaviour in BEHAVIOURS:
        for _, hospital, year, cases in counts.filter(
                pl.col("behaviour") == behaviour).sort("hospital_id", "year").iter_rows():
            pairs = f"（{cases // 2:,} 对 pairs）" if behaviour == "split_admission" else ""
            print(f"{BEHAVIOURS[behaviour]} {behaviour}\t{hospital}\t{year}\t"
                  f"{cases:,} 例 cases{pairs}")
    _progress(f"已植入 {truth.height:,} 个违规病例 planted cases，答案见 {args.dir / GAMING_TRUTH}")
    return 0


# exit codes of ``dip-sim ingest``: a table refused (the others loaded), and a batch whose share
# of critical cases is above quality.batch_critical_alert_share (scripts must notice both)
EXIT_REFUSED, EXIT_CRITICAL = 2, 3


def cmd_ingest(args: argparse.Namespace) -> int:
    """Load a directory of extracts and (unless ``--skip-quality``) run the quality stage.

    With ``--check``, read every file and report what loading would do, writing nothing.
    """
    from pipelines.ingest import check_directory, run_ingest

    if args.check:
        summary = check_directory(args.dir, args.mapping or None, args.sheet or None,
                                  args.allow_unmapped, out=print, progress=_progress)
    else:
        summary = run_ingest(args.dir, args.db, force=args.force, progress=_progress,
                             quality=not args.skip_quality, mapping=args.mapping or None,
                             sheets=args.sheet or None, allow_unmapped=args.allow_unmapped)
    if summary.refused:
        return EXIT_REFUSED
    return EXIT_CRITICAL if summary.alert else 0


def cmd_quality(args: argparse.Namespace) -> int:
    """Rerun the quality stage on what is loaded.

    The batches loaded since the last quality run (with ``ingest --skip-quality``) get the
    loud line a load with quality would have printed, and the exit code 3.
    """
    from dip_sim.meta import get_meta
    from dip_sim.warehouse_version import check
    from pipelines.ingest import alert_share, alerts_since, run_quality_stage
    from pipelines.warehouse import connect

    con = connect(args.db)
    try:
        check(con, args.db)
        previous = get_meta(con, "quality_batch_id")
        run_quality_stage(con, _progress, recode=args.recode)
        alerts = alerts_since(con, previous, alert_share())
    finally:
        con.close()
    for alert in alerts:
        _progress(alert)
    return EXIT_CRITICAL if alerts else 0


@contextlib.contextmanager
def _results(db: Path, table: str, missing: str, region: str | None = None,
             by_region: bool = False, hospital: str | None = None):
    """A read-only connection to the warehouse ``db``, which must hold ``table``.

    ``missing`` says what to run when it does not; the connection is closed on leaving. With
    ``by_region`` (a report of simulation results), the result tables read are those of pooling
    ``region`` (:func:`dip_sim.pipeline.regions.results_in_region`: needed when the warehouse
    has several regions), by default the region of ``hospital`` when one is named.
    """
    import duckdb

    from dip_sim.pipeline.regions import results_in_region
    from dip_sim.warehouse_version import check

    if not Path(db).exists():
        raise ValueError(f"仓库文件不存在: {db}（请先运行 dip-sim ingest）")
    con = duckdb.connect(str(db), read_only=True)
    try:
        check(con, db)
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables").fetchall()}
        if table not in tables:
            raise ValueError(missing)
        if not by_region:
            yield con
            return
        if region is None and hospital:
            found = con.execute("SELECT any_value(nullif(trim(region), '')) FROM hospitals "
                                "WHERE hospital_id = ?", [hospital]).fetchall()
            region = found[0][0] if found else None
        with results_in_region(con, region):
            yield con
    finally:
        con.close()


def _written(out: Path, rows: dict[str, int]) -> None:
    _progress(f"已写入 {out}: " + "，".join(f"{k} {v:,} 行" for k, v in rows.items()))


def cmd_quality_report(args: argparse.Namespace) -> int:
    """Write the per-hospital quality report workbook for a year."""
    from dip_sim.policy import load_baseline, parameters_for_year
    from dip_sim.reports.quality import write_quality_report

    values = parameters_for_year(load_baseline(), args.year)
    weights = (values["quality.index_weight_critical"], values["quality.index_weight_warning"])
    with _results(args.db, "quality_findings", "仓库中没有质控结果：请先运行 dip-sim quality") as con:
        _written(args.out, write_quality_report(con, args.year, weights, args.out))
    return 0


def cmd_catalog_report(args: argparse.Namespace) -> int:
    """Write the catalogue report (grouping quality) workbook of a scenario."""
    from dip_sim.reports.catalog import write_catalog_report

    with _results(args.db, "catalog_summary", "仓库中没有分组质量结果：请先运行 dip-sim simulate",
                  args.region, by_region=True) as con:
        _written(args.out, write_catalog_report(con, args.scenario, args.out))
    return 0


def cmd_catalog_diff(args: argparse.Namespace) -> int:
    """Print (and optionally write to Excel) what changed between two scenarios' catalogues."""
    from dip_sim.reports.catalog_diff import catalog_diff, format_diff
    from dip_sim.workbook import write_workbook

    with _results(args.db, "catalog_summary", "仓库中没有目录结果：请先运行 dip-sim simulate",
                  args.region, by_region=True) as con:
        diff = catalog_diff(con, args.a, args.b)
    print(format_diff(diff, args.a, args.b, args.limit))
    if args.out:
        _written(args.out, write_workbook(diff, args.out))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Print (and optionally export) several scenarios' key figures side by side."""
    from dip_sim.reports.compare import compare_tables, format_compare
    from dip_sim.workbook import write_workbook

    scenarios = list(dict.fromkeys(args.scenarios))
    with _results(args.db, "point_values", "仓库中没有模拟结果：请先运行 dip-sim simulate",
                  args.region, by_region=True) as con:
        tables = compare_tables(con, scenarios)
    print(format_compare(tables, scenarios))
    if args.out:
        labels = {"parameter": "参数", "value_base": "基准取值", "value": "取值",
                  "scenario": "情景"}
        _written(args.out, write_workbook(tables, args.out, labels))
    return 0


def cmd_project(args: argparse.Namespace) -> int:
    """Print (and optionally export) the point-value projection of simulated scenarios."""
    from dip_sim.reports.projection import (
        LABELS,
        SOURCES,
        format_projection,
        projected_scenarios,
        projection_tables,
    )
    from dip_sim.workbook import write_workbook

    with _results(args.db, "projection_years", "仓库中没有点值预测：请先运行 dip-sim simulate",
                  args.region, by_region=True) as con:
        scenarios = list(dict.fromkeys(args.scenarios)) or projected_scenarios(con)
        tables = projection_tables(con, scenarios, args.drivers)
    print(format_projection(tables, scenarios))
    if args.out:
        _written(args.out, write_workbook(tables, args.out, LABELS, SOURCES))
    return 0


def cmd_monitor(args: argparse.Namespace) -> int:
    """Print (and optionally export) the monitoring of the simulation year to a month."""
    from dip_sim.reports.monitoring import SOURCES, format_monitoring, monitoring_tables
    from dip_sim.warehouse_version import check_file
    from dip_sim.workbook import write_workbook

    if not Path(args.db).exists():
        raise ValueError(f"仓库文件不存在: {args.db}（请先运行 dip-sim ingest）")
    check_file(args.db)
    tables = monitoring_tables(args.db, args.year, args.through_month, args.region)
    print(format_monitoring(tables))
    if args.out:
        _written(args.out, write_workbook(tables, args.out, None, SOURCES))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write a hospital's settlement statement, or the bureau's report, as Excel."""
    from dip_sim.reports.statements import write_report

    with _results(args.db, "point_values", "仓库中没有模拟结果：请先运行 dip-sim simulate",
                  args.region, by_region=True, hospital=args.hospital) as con:
        _written(args.out, write_report(con, args.scenario, args.hospital, args.out))
    return 0


def cmd_users(args: argparse.Namespace) -> int:
    """Manage the dashboard's users: add (password asked for, or --password), list, remove."""
    import getpass

    from dip_sim.auth import ROLES, add_user, load_users, remove_user, users_path

    if args.action in ("add-key", "list-keys", "revoke-key"):
        return _api_keys(args)
    if args.action == "list":
        for name, record in sorted(load_users().items()):
            print(f"{name}\t{record['role']}（{ROLES[record['role']]}）\t"
                  f"{record.get('hospital_id') or ''}")
        return 0
    if not args.name:
        raise ValueError(f"dip-sim users {args.action} 需要用户名")
    if args.action == "remove":
        remove_user(args.name)
        _progress(f"已删除用户 {args.name}（{users_path()}）")
        return 0
    if not args.role:
        raise ValueError("dip-sim users add 需要 --role bureau|expert|hospital")
    password = args.password or getpass.getpass(f"{args.name} 的密码：")
    user = add_user(args.name, args.role, password, args.hospital)
    _progress(f"已添加用户 {user.name}（{user.role_zh}{'，' + user.hospital_id if user.hospital_id else ''}）"
              f" → {users_path()}")
    return 0


def _api_keys(args: argparse.Namespace) -> int:
    """The 预分组 API's keys: add-key (the key printed once), list-keys, revoke-key KEY_ID."""
    from dip_sim.api.keys import add_key, keys_path, list_keys, revoke_key

    if args.action == "add-key":
        token, key = add_key(args.hospital or "")
        print(token)
        _progress(f"已为医院 {key.hospital_id} 生成 API 密钥（编号 {key.key_id}），密钥只显示这一次，"
                  f"文件中只存其 SHA-256 → {keys_path()}")
    elif args.action == "list-keys":
        for key in list_keys():
            state = f"已吊销 {key.revoked_at}" if key.revoked_at else "有效"
            print(f"{key.key_id}\t{key.hospital_id}\t{key.created_at}\t{state}")
    else:
        if not args.name:
            raise ValueError("dip-sim users revoke-key 需要密钥编号（list-keys 的第一列）")
        key = revoke_key(args.name)
        _progress(f"已吊销医院 {key.hospital_id} 的密钥 {key.key_id}")
    return 0


def cmd_serve_api(args: argparse.Namespace) -> int:
    """Serve the 预分组 API (uvicorn) over a scenario's catalogue."""
    import uvicorn

    from dip_sim.api.app import create_app

    _progress(f"计算情景 {args.scenario} 的目录（{args.db}，只读，{args.workers} 份）…")
    app = create_app(args.db, args.scenario, workers=args.workers, region=args.region)
    _progress(f"预分组接口：http://{args.host}:{args.port}/v1/ （文档 /docs）")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def cmd_supervise(args: argparse.Namespace) -> int:
    """Compute the supervision indices, assessment and anomaly screen of scenarios."""
    from dip_sim.warehouse_version import check_file
    from pipelines.supervise import run_supervise

    check_file(args.db)
    run_supervise(args.db, args.scenario or None, progress=_progress)
    return 0


def cmd_supervision_report(args: argparse.Namespace) -> int:
    """Write the supervision and assessment report of a year as Excel."""
    from dip_sim.reports.supervision import write_supervision_report

    with _results(args.db, "supervision_hospitals", "仓库中没有监管指标：请先运行 dip-sim supervise",
                  args.region, by_region=True, hospital=args.hospital) as con:
        _written(args.out, write_supervision_report(con, args.scenario, args.year, args.out,
                                                    args.hospital))
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    """Run the simulation stages for the baseline and the given scenarios."""
    from dip_sim.warehouse_version import check_file
    from pipelines.simulate import run_simulate

    check_file(args.db)
    if args.engine == "spark":
        from pipelines.spark_simulate import run_spark_simulate

        if args.stale:
            raise ValueError("--stale 只用于 DuckDB 引擎：Spark 引擎每次完整运行所给的情景")
        run_spark_simulate(args.db, args.year, args.history, args.scenario,
                           master=args.master or "local[2]",
                           inputs=args.inputs, out=args.out, progress=_progress,
                           force=args.force, parallel=args.parallel or 2)
        return 0
    if args.master or args.inputs or args.out or args.parallel:
        raise ValueError("--master、--inputs、--out、--parallel 只用于 --engine spark")
    run_simulate(args.db, args.year, args.history, args.scenario, progress=_progress,
                 force=args.force, stale=args.stale)
    return 0


def cmd_export_parquet(args: argparse.Namespace) -> int:
    """Write the Spark engine's inputs (ingest and quality results) as Parquet."""
    from dip_sim.warehouse_version import check_file
    from pipelines.spark_simulate import run_export

    check_file(args.db)
    run_export(args.db, args.out, progress=_progress)
    return 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    """Build the warehouse again from the directories it recorded (after a schema change)."""
    from pipelines.rebuild import run_rebuild

    run_rebuild(args.db, args.year, args.dir or None, progress=_progress)
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    """List the policy parameters with their values in force for a year: the city's, each
    followed by the pooling regions' own values (``regions`` in the parameter file); with
    ``--region``, the values in force in that region, its own ones marked."""
    import datetime as dt

    from dip_sim.policy import load_baseline, parameters_for_year
    from dip_sim.policy.parameters import regions_named

    params = load_baseline()
    region = (args.region or "").strip() or None
    values = parameters_for_year(params, args.year, region)
    day = dt.date(args.year, 1, 1)
    if region and region not in regions_named(params):
        print(f"统筹区 {region} 在政策参数中没有自己的取值：以下均为全市取值", file=sys.stderr)
    for name, p in params.items():
        mine = region is not None and p.own_start(day, region) is not None
        mark = f"  （统筹区 {region} 自定）" if mine else ""
        print(f"{name} = {values[name]!r}{mark}  [{p.unit}]  {p.description}  ({p.reference})")
        if region is None:
            for code in sorted(c for c in p.regional if p.own_start(day, c) is not None):
                print(f"    统筹区 {code}: {p.value_on(day, code)!r}")
    return 0


def cmd_stages(args: argparse.Namespace) -> int:
    """Print the stage graph: every model in run order, or (``--dot``) Graphviz's text."""
    from dip_sim.pipeline.graph import graph

    g = graph()
    if args.dot:
        print(g.dot(), end="")
        return 0
    maker = g.maker()
    for position, m in enumerate(g.models, start=1):
        if args.stage and m.stage != args.stage:
            continue
        upstream = sorted({maker[r].name for r in m.reads if r in maker and maker[r] is not m})
        tail = f"  ← {', '.join(upstream)}" if upstream else ""
        stored = f"  → {m.stores}" if m.stores else ""
        skip = f"  [跳过条件: {m.skip_when}]" if m.skip_when else ""
        print(f"{position:3d} {m.stage:<9} {m.name:<28} {m.label}{stored}{skip}{tail}")
    return 0


def cmd_feedback(args: argparse.Namespace) -> int:
    """The feedback store (docs/feedback.md): export its objections, decisions and
    confirmations as Excel for the panel's meeting, or print their status."""
    from dip_sim.auth import User
    from dip_sim.feedback.export import feedback_tables, write_feedback_workbook
    from dip_sim.feedback.store import FeedbackStore, describe

    store = FeedbackStore(args.url or None)
    reader = User("命令行", "bureau")  # the server's operator: every hospital's objections
    try:
        if args.action == "export":
            if args.out is None:
                raise ValueError("请用 --out 指定输出的 Excel 文件，如 --out feedback.xlsx")
            _written(args.out, write_feedback_workbook(store, reader, args.out))
        else:
            tables = feedback_tables(store, reader)
            print(f"反馈库：{describe(store.url)}")
            print(tables["按病种汇总"].to_string(index=False) if len(tables["按病种汇总"])
                  else "尚无异议。")
            for r in tables["目录确认"].head(1).itertuples():
                print(f"最近确认的目录版本：{r.catalog_version}（情景 {r.scenario}，"
                      f"{r.confirmed_at:%Y-%m-%d %H:%M} UTC，{r.confirmed_by}，答复 {r.n_answered} 条）")
    finally:
        store.close()
    return 0


class _StoreOnce(argparse.Action):
    """A single-valued option: given twice with different values, it is refused, not half-read.

    argparse would keep the last value and drop the first without a word; the options that
    take several values are declared ``append`` or ``extend`` and gather every occurrence.
    """

    def __call__(self, parser, namespace, values, option_string=None):
        given = namespace.__dict__.setdefault("_single_options_given", set())
        if self.dest in given and getattr(namespace, self.dest) != values:
            parser.error(f"{option_string} 只能给一个值（收到 {getattr(namespace, self.dest)} "
                         f"和 {values}）")
        given.add(self.dest)
        setattr(namespace, self.dest, values)


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose plain options are :class:`_StoreOnce` (its subcommands' too)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register("action", None, _StoreOnce)
        self.register("action", "store", _StoreOnce)


def _location(text: str) -> Path | str:
    """A local folder (a path) or a URI Spark reads (``hdfs://``, ``s3a://`` …, kept as
    text: a path would fold its ``//``)."""
    return text if "://" in text else Path(text)


def _positive_int(text: str) -> int:
    """A whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"应为正整数，收到 {text!r}")
    return value


def _region_option(p: argparse.ArgumentParser) -> None:
    """``--region``: the pooling region a report or run reads (needed with several)."""
    p.add_argument("--region", default=None,
                   help="统筹区编码：仓库有多个统筹区时必填（各统筹区分别测算）")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = _Parser(
        prog="dip-sim", description="DIP（区域点数法总额预算和按病种分值付费）模拟平台")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="生成合成演示数据（输入约定格式）",
                       description="生成阳泉式城市的合成病案首页、结算与医院表")
    p.add_argument("--out", type=Path, required=True, help="输出目录")
    p.add_argument("--years", type=_years, default=[2017, 2018, 2019, 2020],
                   help="年度范围，默认 2017-2020")
    p.add_argument("--cases-per-year", type=int, default=200_000, help="每年出院病例数")
    p.add_argument("--seed", type=int, default=20200101, help="随机种子（相同种子生成相同文件）")
    p.add_argument("--format", choices=["csv", "parquet", "extract", "national"], default="csv",
                   help="文件格式；extract = 各医院按其信息系统的格式报送（中文列名、GB18030、Excel）；"
                        "national = 国家医疗保障基金结算清单（标准项目名称，病案与结算同行，按医院）")
    p.add_argument("--plant-rate", type=float, default=0.0,
                   help="按此比例为每条质控规则植入已知问题，答案写入 ground_truth.csv")
    p.add_argument("--regions", type=int, default=1,
                   help="统筹区数：大于 1 时生成一个省的 N 个城市（规模、病种结构与费用水平各异），"
                        "每家医院填写其统筹区；默认 1 个城市")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("plant-gaming", help="在合成城市中植入已知的违规行为，答案写入 gaming_truth.csv",
                       description="按计划在指定医院、年度、比例植入分解住院、低标准入院、高套编码"
                                   "（手术操作、严重并发症）与超长住院，直接修改 dip-sim synth 写出的"
                                   " CSV 文件；答案（case_id, hospital_id, year, behaviour, "
                                   "related_case_id, detail）写入目录中的 gaming_truth.csv（载入时不读取）")
    p.add_argument("dir", type=Path, help="合成城市目录（dip-sim synth --format csv 的输出）")
    p.add_argument("--plan", type=Path, required=True,
                   help="植入计划 YAML（示例 data/examples/gaming_plan.yaml）")
    p.add_argument("--seed", type=int, default=20200101, help="随机种子（相同种子植入相同病例）")
    p.set_defaults(func=cmd_plant_gaming)

    p = sub.add_parser("ingest", help="载入目录中的医院表、病案首页、结算表（含结算清单）并质控",
                       description="按列名识别表（医疗保障基金结算清单的标准名称、医保信息平台接口字段名及常见写法）；"
                                   "CSV（UTF-8/GB18030）、Excel、Parquet；重复载入不会新增行。"
                                   "退出码：0 全部载入；2 有表被拒绝（其余已载入）；3 本批严重（不入组）病例"
                                   "占比过高；130 被中断（仓库保持原样）",
                       epilog="示例：dip-sim ingest 数据目录 --check（只检查、不写入）；"
                              "dip-sim ingest 数据目录 --mapping 厂商列名.csv")
    p.add_argument("dir", type=Path, help="输入目录")
    p.add_argument("--db", type=Path, default=default_db(), help="仓库文件（默认 data/warehouse.duckdb）")
    p.add_argument("--force", action="store_true", help="重新读取已载入过的文件")
    # one value per flag, repeatable: a list after the flag would swallow the directory
    p.add_argument("--mapping", type=Path, action="append", default=[],
                   help="列名映射文件（CSV: field,header；field 为 ignore 表示此列不载入），"
                        "补充内置映射 data/reference/header_map.csv；可重复给出")
    p.add_argument("--sheet", action="append", default=[],
                   help="Excel 文件只读取此名称的工作表（默认读取所有可见的工作表）；可重复给出")
    p.add_argument("--allow-unmapped", action="store_true",
                   help="有像诊断、手术操作、费用或基金支付但无法对应字段的列时，仍载入其余列（默认拒绝该表）")
    p.add_argument("--check", action="store_true",
                   help="只检查：逐个文件列出识别的表类型、各列的映射、未映射的列与发现的问题，不写入仓库")
    p.add_argument("--skip-quality", action="store_true",
                   help="只载入、不运行质控（连续载入多个目录时使用；最后运行 dip-sim quality）")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("quality", help="重新运行病案质控", description="重建 case_status 与 case_features")
    p.add_argument("--db", type=Path, default=default_db(), help="仓库文件")
    p.add_argument("--recode", action="store_true",
                   help="按当前手术操作类别表重新推导全部病例的分组键"
                        "（修改 proc_class_override.csv 或 conservative_procedures.csv 后使用）")
    p.set_defaults(func=cmd_quality)

    p = sub.add_parser("quality-report", help="输出某年度各医院病案质量报告（Excel）",
                       description="各医院通过率、按规则的问题数、问题最多的病例、病案质量指数及历年趋势")
    p.add_argument("--year", type=int, required=True, help="年度")
    p.add_argument("--out", type=Path, required=True, help="输出文件 (.xlsx)")
    p.add_argument("--db", type=Path, default=default_db(), help="仓库文件")
    p.set_defaults(func=cmd_quality_report)

    p = sub.add_parser("catalog-report", help="输出某情景的分组质量报告（Excel，供专家组）",
                       description="目录概况（核心病种覆盖率、入组率、CV 分布、RIV）、各病种组统计、"
                                   "CV>0.7 的组、各年病例数、各医院 CMI 与费用/时间消耗指数")
    p.add_argument("--scenario", default="baseline", help="情景名（默认 baseline）")
    p.add_argument("--out", type=Path, required=True, help="输出文件 (.xlsx)")
    p.add_argument("--db", type=Path, default=default_db(), help="仓库文件")
    _region_option(p)
    p.set_defaults(func=cmd_catalog_report)

    p = sub.add_parser("catalog-diff", help="比较两个情景的病种目录：改了什么、为什么、影响哪些医院",
                       description="参数差异、新增/删除/分值变化的病种（及所依据的专家调整）、"
                                   "病例改变病种的流向、各医院分值与 DIP 支付的变化")
    p.add_argument("a", help="情景 A（如 baseline）")
    p.add_argument("b", help="情景 B")
    p.add_argument("--limit", type=int, default=15, help="每个列表打印的行数（默认 15）")
    p.add_argument("--out", type=Path, default=None, help="另存全部明细为 Excel (.xlsx)")
    p.add_argument("--db", type=Path, default=default_db(), help="仓库文件")
    _region_option(p)
    p.set_defaults(func=cmd_catalog_diff)

    p = sub.add_parser("compare", help="多个情景并列比较：关键指标、改变的参数、各医院年终结算额",
                       description="第一个情景为比较基准，如 dip-sim compare baseline growth_8pct")
    p.add_argument("scenarios", nargs="+", help="情景名（已模拟）")
    p.add_argument("--out", type=Path, default=None, help="另存为 Excel (.xlsx)")
    p.add_argument("--db", type=Path, default=default_db(), help="仓库文件")
    _region_option(p)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("project", help="点值预测：各情景未来几年的预算点值、结算点值与风险线",
                       description="读取 dip-sim simulate 存储的点值预测（预测年数与各项假设为 "
                                   "projection.* 参数，情景文件可改），如 dip-sim project baseline cap")
    p.add_argument("scenarios", nargs="*", help="情景名（已模拟；缺省为全部）")
    p.add_argument("--drivers", type=int, default=5, help="风险线中列出的分值增长最多的医院数")
    _region_option(p)
    p.add_argument("--out", type=Path, default=None, help="另存为 Excel (.xlsx)")
    p.add_argument("--db", type=Path, default=default_db(), help="仓库文件")
    p.set_defaults(func=cmd_project)

    p = sub.add_parser("monitor", help="运行监测：年初至今的分值、结算点值估计与预警",
                       description="基线情景模拟年度截至某月的运行监测（缺省为模拟时存储的监测，"
                                   "即 monitoring.through_month 或已载入的最后一个月）")
    p.add_argument("--year", type=int, required=True, help="模拟年度")
    p.add_argument("--through-month", type=int, default=None, choices=range(1, 13),
                   metavar="M", help="监测截至月份（1–12），只计出院月份不晚于此月的病例")
    _region_option(p)
    p.add_argument("--out", type=Path, default=None, help="另存为 Excel (.xlsx)")
    p.add_argument("--db", type=Path, default=default_db(), help="仓库文件")
    p.set_defaults(func=cmd_monitor)

    p = sub.add_parser("report", help="输出结算报表（Excel）：某医院的结算单，或医保局汇总报表",
                       description="有 --hospital 时为该医院的结算汇总、病种明细、费用偏差、特例单议与"
                                   "月度预付；否则为医保局报表（基金与点值、各医院、按等级/险种/月份/病种）")
    p.add_argument("--scenario", default="baseline", help="情景名（默认 baseline）")
    p.add_argument("--hospital", default=None, help="定点医疗机构代码（缺省为医保局报表）")
    p.add_argument("--out", type=Path, required=True, help="输出文件 (.xlsx)")
    p.add_argument("--db", type=Path, default=default_db(), help="仓库文件")
    _region_option(p)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("simulate", help="运行分组、分值、预算与结算（基线与情景）",
                       description="按基线及各情景文件模拟指定年度；同名情景的旧结果被替换。"
                                   "情景只重算其参数改动影响到的阶段，其余沿用基础情景（base:，"
                                   "默认基线）的结果；基线的数据、模型与参数未变时不重算")
    p.add_argument("--year", type=int, required=True, help="模拟年度")
    p.add_argument("--history", type=_years, default=None,
                   help="历史年度，默认模拟年度前三年，如 2017-2019")
    p.add_argument("--scenario", type=Path, action="extend", nargs="+", default=[],
                   help="情景 YAML 文件；可给多个（--scenario a.yaml b.yaml 或重复 --scenario）")
    p.add_argument("--force", action="store_true", help="即使基线的结果仍是最新的也重新运行基线")
    p.add_argument("--stale", action="store_true",
                   help="同时重新运行所有已过期的情景（其基础情景在其运行之后重新模拟过）")
    p.add_argument("--db", type=Path, default=default_db(), help="仓库文件")
    p.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb",
                   help="计算引擎：duckdb（默认，单机）或 spark（同一套模型在 Spark 上运行，"
                        "结果写为 Parquet 并载入仓库）")
    p.add_argument("--master", default=None,
                   help="Spark 的 master 地址（仅 --engine spark），默认 local[2]，"
                        "如 spark://host:7077")
    p.add_argument("--inputs", type=_location, default=None,
                   help="Spark 读取的输入 Parquet 目录或 URI（hdfs://…、s3a://…；dip-sim "
                        "export-parquet 的输出）；默认从仓库导出到 OUT/inputs")
    p.add_argument("--out", type=_location, default=None,
                   help="Spark 结果的 Parquet 目录或 URI（按情景与统筹区分区），默认仓库文件名加 .spark")
    p.add_argument("--parallel", type=_positive_int, default=None,
                   help="Spark 上同时运行的统筹区个数（仅 --engine spark），默认 2")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("export-parquet", help="把载入与质控结果导出为 Parquet（Spark 引擎的输入）",
                       description="每张表一个目录：case_features、case_status、病例、结算、医院、"
                                   "质控结果、编码参考表与仓库信息")
    p.add_argument("--db", type=Path, default=default_db(), help="仓库文件")
    p.add_argument("--out", type=Path, required=True, help="输出目录")
    p.set_defaults(func=cmd_export_parquet)

    p = sub.add_parser("supervise", help="计算监管指标、绩效考核与异常筛查（需先模拟）",
                       description="二次入院、分解住院、低标入院、超长住院、低风险组死亡、编码高套、"
                                   "费用结构与个人负担；考核得分与系数；医院-月份异常筛查")
    p.add_argument("--scenario", action="extend", nargs="+", default=[],
                   help="情景名（默认 baseline）；可给多个")
    p.add_argument("--db", type=Path, default=default_db(), help="仓库文件")
    p.set_defaults(func=cmd_supervise)

    p = sub.add_parser("supervision-report", help="输出某年度的监管与考核报告（Excel）",
                       description="各医院监管指数与全市对比、考核得分与系数、指标得分、标记病例、"
                                   "编码高套分类目、异常筛查")
    p.add_argument("--year", type=int, required=True, help="年度")
    p.add_argument("--out", type=Path, required=True, help="输出文件 (.xlsx)")
    p.add_argument("--scenario", default="baseline", help="情景名（默认 baseline）")
    p.add_argument("--hospital", default=None, help="只含此医院（医院自查）")
    p.add_argument("--db", type=Path, default=default_db(), help="仓库文件")
    _region_option(p)
    p.set_defaults(func=cmd_supervision_report)

    p = sub.add_parser("rebuild", help="按仓库记录的输入目录重建仓库（数据结构版本变化后）",
                       description="读取仓库记录的输入目录与选项（列名映射、工作表），确认文件仍在，"
                                   "重新载入、质控，按记录的年度重新模拟基线（原已计算监管指标的，"
                                   "同样重新计算）；完成后旧仓库改名为 仓库.old-时间 保留。"
                                   "中断或出错时旧仓库保持原样。退出码：0 完成；2 输入已不存在或无法重建")
    p.add_argument("--db", type=Path, default=default_db(), help="仓库文件")
    p.add_argument("--year", type=int, default=None, help="模拟年度（默认为仓库中基线的模拟年度）")
    p.add_argument("--dir", type=Path, action="append", default=[],
                   help="输入目录，代替仓库记录的目录（较早版本载入、未记录目录时使用）；可重复给出，按载入顺序")
    p.set_defaults(func=cmd_rebuild)

    p = sub.add_parser("users", help="管理仪表盘用户与预分组接口密钥：add / list / remove / "
                                     "add-key / list-keys / revoke-key",
                       description="用户与角色保存在 data/secret/users.json（或 $DIP_SIM_USERS），"
                                   "密码只存加盐散列（scrypt）；预分组接口的医院密钥保存在 "
                                   "data/secret/api_keys.json（或 $DIP_SIM_API_KEYS），只存 SHA-256")
    p.add_argument("action", choices=["add", "list", "remove", "add-key", "list-keys", "revoke-key"])
    p.add_argument("name", nargs="?", help="用户名（revoke-key：密钥编号）")
    p.add_argument("--role", choices=["bureau", "expert", "hospital"], help="角色")
    p.add_argument("--hospital", default=None, help="医院用户的定点医疗机构代码")
    p.add_argument("--password", default=None, help="密码（缺省时在终端输入）")
    p.set_defaults(func=cmd_users)

    p = sub.add_parser("serve-api", help="启动预分组 HTTP 接口（供医院 HIS 调用）",
                       description="按情景的病种目录为医院 HIS 预分组：POST /v1/group、/v1/group:batch，"
                                   "GET /v1/groups/{code}、/v1/catalog、/v1/health；"
                                   "文档 /docs 与 docs/api.md")
    p.add_argument("--host", default="127.0.0.1", help="监听地址")
    p.add_argument("--port", type=int, default=8600, help="端口")
    p.add_argument("--scenario", default="baseline", help="情景名（默认 baseline）")
    p.add_argument("--region", default=None,
                   help="统筹区编码：仓库有多个统筹区时必填，服务该统筹区的医院")
    p.add_argument("--db", type=Path, default=default_db(), help="仓库文件（只读）")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="可同时处理的请求数：每份各有一个内存数据库（默认为 CPU 核数）")
    p.set_defaults(func=cmd_serve_api)

    p = sub.add_parser("feedback", help="反馈与确认：导出异议、专家组决定与目录确认（Excel），或列出状态",
                       description="反馈库为 $DIP_SIM_FEEDBACK_URL（PostgreSQL）或 "
                                   "$DIP_SIM_FEEDBACK_DB（SQLite，缺省 data/feedback.sqlite）")
    p.add_argument("action", choices=["export", "status"])
    p.add_argument("--out", type=Path, default=None, help="导出的 Excel 文件（export）")
    p.add_argument("--url", default=None, help="反馈库地址（缺省按环境变量）")
    p.set_defaults(func=cmd_feedback)

    p = sub.add_parser("stages", help="列出各阶段的模型与运行顺序（--dot 输出 Graphviz）",
                       description="打印 dip_sim/pipeline/manifest.yaml 的阶段图：模型、读取、跳过条件")
    p.add_argument("--dot", action="store_true", help="输出 Graphviz dot 文本")
    p.add_argument("--stage", default=None, help="只列出这一阶段（catalog、budget …）")
    p.set_defaults(func=cmd_stages)

    p = sub.add_parser("params", help="列出政策参数及其取值", description="列出 data/policy 中的参数")
    p.add_argument("--year", type=int, default=2020, help="取值所在年度")
    p.add_argument("--region", default="",
                   help="统筹区编码：列出该统筹区适用的取值（其自定的取值标出）")
    p.set_defaults(func=cmd_params)
    return parser


# the errors a command reports as one line, by exit code: (module, class); a class is looked up
# only when its module was loaded (no command raises an error of a module it did not load), so
# that starting the command line does not load every stage
_EXIT_2 = (("dip_sim.warehouse_version", "WarehouseVersionError"),
           ("pipelines.rebuild", "RebuildError"))
_EXIT_1 = (("dip_sim.auth", "AuthError"), ("dip_sim.ingest.errors", "IngestError"),
           ("dip_sim.policy.parameters", "PolicyError"), ("dip_sim.simulation", "SimulationError"),
           ("dip_sim.supervise.run", "SupervisionError"))


def _raised(exc: BaseException, errors: tuple[tuple[str, str], ...]) -> bool:
    """Whether ``exc`` is one of ``errors`` (of the modules loaded so far)."""
    return any(module in sys.modules and isinstance(exc, getattr(sys.modules[module], name))
               for module, name in errors)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``dip-sim`` console script."""
    try:
        from pipelines.interrupt import Interrupted, run_interruptible

        # the commands writing the warehouse, and what their interrupt message calls their
        # work: run so that Ctrl-C stops them within a moment and leaves no half-written state
        writing = {"ingest": "载入", "quality": "质控", "simulate": "模拟", "supervise": "监管指标计算",
                   "rebuild": "重建"}
        args = build_parser().parse_args(argv)
        try:
            if args.command in writing:
                return run_interruptible(lambda: args.func(args), writing[args.command])
            return args.func(args)
        except Interrupted as exc:
            print(exc, file=sys.stderr)
            return 130
        except Exception as exc:
            if _raised(exc, _EXIT_2):
                print(f"错误: {exc}", file=sys.stderr)
                return 2
            if isinstance(exc, ValueError) or _raised(exc, _EXIT_1):
                print(f"错误: {exc}", file=sys.stderr)
                return 1
            raise
    except KeyboardInterrupt:  # while starting (nothing written yet), or a command writing no warehouse
        print("已中断", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
