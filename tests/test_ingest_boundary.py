"""At the boundary: nothing unrecognised passes in silence; exports as they really come load."""

from __future__ import annotations

import csv

import polars as pl

from dip_sim.cli import main as cli_main
from dip_sim.ingest.headers import header_map
from dip_sim.ingest.unmapped import column_look, suggest_field
from dip_sim.schema import CASE_COLUMNS
from tests.inputs import HOSPITALS, case_row, query, settlement_row, write_csv, write_inputs

QUIET = lambda message: None  # noqa: E731


def _good(n: int = 3):
    cases = [case_row(f"g{i}", "H1", f"2019-03-{i + 1:02d}", "K35.300", ("47.0901",))
             for i in range(n)]
    settlements = [settlement_row(f"g{i}", f"2019-03-{i + 1:02d}", 1000, 800) for i in range(n)]
    return cases, settlements


def _chinese_cases(path, rows, extra: dict[str, list[str]] | None = None):
    """The cases under the 结算清单's names, with ``extra`` columns (header → values) added."""
    names = {"case_id": "清单流水号", "hospital_id": "定点医药机构代码", "admit_date": "入院时间",
             "discharge_date": "出院时间", "main_dx": "主要诊断代码", "main_proc": "主要手术及操作代码"}
    frame = {names[k]: [str(r[k]) for r in rows] for k in names}
    frame.update(extra or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(frame).write_csv(path)


def test_looks_and_suggestions():
    mapping = header_map()
    assert column_look("第二手术编码") == "procedure"
    assert column_look("手术费用小计") == "cost"
    assert column_look("大病保险基金支付金额") == "payment"
    assert column_look("出院诊断3") == "diagnosis"
    assert column_look("oprn_code_x") == "procedure" and column_look("备注") == "other"
    assert column_look("住院登记号") == "identifier"
    assert suggest_field("诊断3", "diagnosis", mapping) == ("other_dx", "诊断")
    assert suggest_field("主要诊断ICD", "diagnosis", mapping)[0] == "main_dx"


def test_an_unmapped_procedure_column_refuses_its_file_and_says_how_to_fix_it(tmp_path, capsys):
    cases, settlements = _good()
    src = write_inputs(tmp_path / "in", [], settlements)
    _chinese_cases(src / "首页.csv", cases, {"第二手术编码": ["54.1101", "", ""], "备注": ["", "", ""]})
    db = tmp_path / "w.duckdb"
    assert cli_main(["ingest", str(src), "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert "首页.csv" in err and "第二手术编码" in err and "other_procs" in err
    assert "other_procs,第二手术编码" in err and "--allow-unmapped" in err
    # the other files loaded; the refused one is listed with its unmapped columns
    assert query(db, "SELECT count(*) FROM settlements") == [(3,)]
    assert query(db, "SELECT count(*) FROM cases") == [(0,)]
    refused = query(db, "SELECT status, unmapped_columns FROM load_batches WHERE file_path = '首页.csv'")
    assert refused == [("refused", "第二手术编码［手术操作］; 备注［其他］")]

    # the row the message gives, in a mapping file: the procedure lands in other_procs
    mapping = tmp_path / "map.csv"
    mapping.write_text("field,header\nother_procs,第二手术编码\n", encoding="utf-8")
    db2 = tmp_path / "w2.duckdb"
    assert cli_main(["ingest", str(src), "--db", str(db2), "--mapping", str(mapping)]) == 0
    assert query(db2, "SELECT other_procs FROM cases WHERE case_id = 'g0'") == [("54.1101",)]
    listed = query(db2, "SELECT unmapped_columns FROM load_batches WHERE file_path = '首页.csv' "
                         "AND file_kind = 'cases'")
    assert listed == [("备注［其他］",)]  # an unmapped column of no telling look: listed, not refused
    assert "未映射的列 首页.csv: 其他 1（备注）" in capsys.readouterr().err

    # --allow-unmapped loads the rest, and still lists what was left out
    db3 = tmp_path / "w3.duckdb"
    assert cli_main(["ingest", str(src), "--db", str(db3), "--allow-unmapped"]) == 0
    assert query(db3, "SELECT count(*), count(other_procs) FROM cases") == [(3, 0)]
    assert "手术操作 1（第二手术编码）" in capsys.readouterr().err


def test_a_column_mapped_to_ignore_is_left_out_on_purpose(tmp_path):
    cases, settlements = _good()
    src = write_inputs(tmp_path / "in", [], settlements)
    _chinese_cases(src / "首页.csv", cases, {"院内手术编码": ["x", "", ""]})
    mapping = tmp_path / "map.csv"
    mapping.write_text("field,header\nignore,院内手术编码\n", encoding="utf-8")
    db = tmp_path / "w.duckdb"
    assert cli_main(["ingest", str(src), "--db", str(db), "--mapping", str(mapping)]) == 0
    assert query(db, "SELECT ignored_columns, unmapped_columns FROM load_batches "
                      "WHERE file_path = '首页.csv'") == [("院内手术编码", "")]


def test_a_combined_list_without_its_fund_payment_is_refused_not_loaded_as_cases(tmp_path, capsys):
    cases, settlements = _good()
    src = tmp_path / "in"
    write_csv(src / "hospitals.csv", ["hospital_id", "hospital_name", "level"], HOSPITALS)
    # the 统筹 column under a name nobody knows: the file holds amounts, so it is a 清单
    _chinese_cases(src / "清单.csv", cases, {"医疗总费用": ["1000"] * 3, "统筹XX": ["800"] * 3})
    db = tmp_path / "w.duckdb"
    assert cli_main(["ingest", str(src), "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert "清单.csv" in err and "结算清单" in err and "fund_paid_yuan,统筹XX" in err
    assert query(db, "SELECT count(*) FROM cases") == [(0,)]
    # even with --allow-unmapped: a 清单 without its settlement part is never half-loaded
    assert cli_main(["ingest", str(src), "--db", str(db), "--allow-unmapped"]) == 2
    assert query(db, "SELECT count(*) FROM cases") == [(0,)]


def test_too_many_critical_cases_is_one_loud_line_and_exit_code_3(tmp_path, capsys):
    cases, settlements = _good(10)
    src = write_inputs(tmp_path / "in", cases, settlements[:5])  # half the cases unsettled
    db = tmp_path / "w.duckdb"
    assert cli_main(["ingest", str(src), "--db", str(db)]) == 3
    loud = [line for line in capsys.readouterr().err.splitlines() if line.startswith("！！")]
    assert len(loud) == 1
    assert "10 例中 5 例（50.0%）" in loud[0] and "无结算记录（no_settlement）5 例" in loud[0]
    # a clean batch: exit 0, no loud line
    cases, settlements = _good(10)
    src = write_inputs(tmp_path / "ok", cases, settlements)
    assert cli_main(["ingest", str(src), "--db", str(tmp_path / "ok.duckdb")]) == 0
    assert "！！" not in capsys.readouterr().err


def _workbook(path, sheets: dict[str, list[list]], merges: dict[str, list[tuple]] | None = None):
    import xlsxwriter

    with xlsxwriter.Workbook(path) as book:
        for name, rows in sheets.items():
            sheet = book.add_worksheet(name)
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    if value is not None:
                        sheet.write(r, c, value)
            for first_row, first_col, last_row, last_col, value in (merges or {}).get(name, []):
                sheet.merge_range(first_row, first_col, last_row, last_col, value)


def test_title_rows_two_row_headers_spacers_and_totals(tmp_path, capsys):
    cases, settlements = _good(3)
    src = tmp_path / "in"
    write_csv(src / "hospitals.csv", ["hospital_id", "hospital_name", "level"], HOSPITALS)
    header = ["清单流水号", "定点医药机构代码", "入院时间", "出院时间", "主要诊断代码", None, None, None]
    rows = [["2019年医保结算清单"], ["制表：医保办"], header,
            [None, None, None, None, None, "金额合计", "医保统筹基金支付", "个人自付"]]
    rows[2][5:8] = ["费用", None, None]
    for c, s in zip(cases, settlements, strict=True):
        rows.append([c["case_id"], "H1", c["admit_date"], c["discharge_date"], c["main_dx"],
                     str(s["total_cost_yuan"]), str(s["fund_paid_yuan"]),
                     str(s["patient_paid_yuan"])])
    rows += [[], ["合计", None, None, None, None, "3000", "2400", "600"]]
    merges = {"清单": [(0, 0, 0, 7, "2019年医保结算清单"), (2, 5, 2, 7, "费用")]
              + [(2, c, 3, c, header[c]) for c in range(5)]}
    _workbook(src / "2019.xlsx", {"清单": rows, "说明": [["本表由医保办导出"], ["联系人：某某"]]},
              merges)
    db = tmp_path / "w.duckdb"
    assert cli_main(["ingest", str(src), "--db", str(db)]) == 2  # the 说明 sheet is no table
    err = capsys.readouterr().err
    assert "2019.xlsx#说明" in err and "找不到可识别的表头" in err
    assert "第 9 行是合计行" in err and "跳过 1 个空行" in err
    assert query(db, "SELECT case_id, source_row FROM cases ORDER BY 1") == \
        [("g0", 5), ("g1", 6), ("g2", 7)]
    assert query(db, "SELECT sum(total_cost_yuan), sum(fund_paid_yuan) FROM settlements") == \
        [(3000.0, 2400.0)]
    assert query(db, "SELECT message FROM load_batches WHERE file_path = '2019.xlsx#清单' "
                      "AND file_kind = 'cases'") == [("表头第 3–4 行（两行表头）",)]
    # only the sheet asked for: nothing refused
    assert cli_main(["ingest", str(src), "--db", str(tmp_path / "w2.duckdb"),
                     "--sheet", "清单"]) == 0


def test_which_rows_are_spacers_and_which_are_totals():
    from dip_sim.ingest.layout import drop_spacers_and_totals

    frame = pl.DataFrame({
        "source_row": [2, 3, 4, 5, 6, 7, 8],
        "病案号": ["c1", " \u3000", None, "合 计", "c2", None, "小计"],
        "备注": ["合计", None, "总计", None, "x", "费用", None],
        "金额": ["10", "\t", "30", "40", None, "7", "8"],
    })
    kept, spacers, totals = drop_spacers_and_totals(frame, ["病案号", "金额"], "病案号")
    # row 3 holds only spaces (a full-width one too); row 4 says 总计 and has no key; row 5's
    # key is the word itself; row 7 has no key but a figure: not a total, kept (and refused
    # later for its missing key); row 8 says 小计 where its key would be
    assert (spacers, totals) == (1, [4, 5, 8])
    assert kept["source_row"].to_list() == [2, 6, 7]
    # no key column: every row is looked at, and 合计 in a first cell is enough
    kept, spacers, totals = drop_spacers_and_totals(frame, ["病案号", "金额"], None)
    assert (spacers, totals, kept["source_row"].to_list()) == (1, [2, 4, 5, 8], [6, 7])


def test_a_row_without_its_key_is_refused_and_reported(tmp_path):
    cases, settlements = _good(3)
    src = write_inputs(tmp_path / "in", [], settlements)
    (src / "cases.csv").unlink()
    columns = [c.name for c in CASE_COLUMNS]
    rows = [columns] + [[row.get(c) or None for c in columns] for row in cases]
    rows[2][0] = None  # a discharge whose case number was left out (an empty cell): row 3
    _workbook(src / "首页.xlsx", {"首页": rows})
    db = tmp_path / "w.duckdb"
    assert cli_main(["ingest", str(src), "--db", str(db), "--skip-quality"]) == 0
    assert query(db, "SELECT file_path, row_number, field, outcome FROM load_errors") == \
        [("首页.xlsx#首页", 3, "case_id", "row_rejected")]
    assert query(db, "SELECT rows_read, rows_loaded, rows_rejected FROM load_batches "
                     "WHERE file_kind = 'cases'") == [(3, 2, 1)]


def test_a_csv_with_a_title_row_and_a_totals_row(tmp_path):
    cases, settlements = _good(2)
    src = write_inputs(tmp_path / "in", [], settlements)
    columns = [c.name for c in CASE_COLUMNS]
    with open(src / "cases.csv", "w", newline="", encoding="gb18030") as handle:
        writer = csv.writer(handle)
        writer.writerow(["阳泉市第一人民医院 2019 年病案首页"])
        writer.writerow(columns)
        for row in cases:
            writer.writerow([row.get(c, "") for c in columns])
        writer.writerow(["", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", ""])
        writer.writerow(["合计"] + [""] * (len(columns) - 1))
    db = tmp_path / "w.duckdb"
    assert cli_main(["ingest", str(src), "--db", str(db)]) == 0
    assert query(db, "SELECT case_id, source_row FROM cases ORDER BY 1") == [("g0", 3), ("g1", 4)]
    assert query(db, "SELECT count(*) FROM load_errors") == [(0,)]


def test_check_reports_every_file_and_writes_nothing(tmp_path, capsys):
    cases, settlements = _good()
    cases[1]["admit_date"] = "2019-13-01"
    src = write_inputs(tmp_path / "in", [], settlements)
    _chinese_cases(src / "首页.csv", cases, {"备注": ["", "", ""]})
    (src / "说明.csv").write_text("序号,说明\n1,本目录为2019年数据\n", encoding="utf-8")
    db = tmp_path / "w.duckdb"
    assert cli_main(["ingest", str(src), "--db", str(db), "--check"]) == 2
    out = capsys.readouterr().out
    assert "✓ 首页.csv: 病案首页，utf-8，3 行，表头第 1 行" in out
    assert "case_id←清单流水号" in out and "main_proc←主要手术及操作代码" in out
    assert "未映射的列 首页.csv: 其他 1（备注）" in out
    assert "问题: 第 3 行 admit_date 值 '2019-13-01' 不是可识别的日期" in out
    assert "✗ 说明.csv: 拒绝" in out and "检查完成：未写入仓库" in out
    assert not db.exists()


def test_a_repeated_option_is_gathered_or_refused(tmp_path, capsys):
    from dip_sim.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["simulate", "--year", "2020", "--scenario", "a.yaml",
                              "--scenario", "b.yaml", "c.yaml"])
    assert [p.name for p in args.scenario] == ["a.yaml", "b.yaml", "c.yaml"]
    args = parser.parse_args(["supervise", "--scenario", "a", "--scenario", "b"])
    assert args.scenario == ["a", "b"]
    args = parser.parse_args(["ingest", "d", "--mapping", "a.csv", "--mapping", "b.csv",
                              "--sheet", "s1", "--sheet", "s2"])
    assert [p.name for p in args.mapping] == ["a.csv", "b.csv"] and args.sheet == ["s1", "s2"]
    # a single-valued option twice is refused rather than its first value dropped
    code = None
    try:
        parser.parse_args(["simulate", "--year", "2019", "--year", "2020"])
    except SystemExit as exc:
        code = exc.code
    assert code == 2 and "--year 只能给一个值" in capsys.readouterr().err
    # the same value twice is harmless
    assert parser.parse_args(["simulate", "--year", "2020", "--year", "2020"]).year == 2020


def test_both_repeated_scenarios_are_simulated(tmp_path):
    from tests.inputs import ingest_generated_city

    db = ingest_generated_city(tmp_path, 300, 5)
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("name: growth_a\ndescription: a\nchanges:\n  budget.growth_rate: 0.03\n",
                 encoding="utf-8")
    b.write_text("name: growth_b\ndescription: b\nchanges:\n  budget.growth_rate: 0.07\n",
                 encoding="utf-8")
    assert cli_main(["simulate", "--db", str(db), "--year", "2020",
                     "--scenario", str(a), "--scenario", str(b)]) == 0
    assert query(db, "SELECT scenario FROM runs ORDER BY 1") == \
        [("baseline",), ("growth_a",), ("growth_b",)]


def test_quality_after_skip_quality_loads_says_it_loudly_too(tmp_path, capsys):
    cases, settlements = _good(10)
    good = write_inputs(tmp_path / "good", cases, settlements)
    cases = [case_row(f"b{i}", "H1", f"2019-04-{i + 1:02d}", "K35.300") for i in range(10)]
    bad = write_inputs(tmp_path / "bad", cases, [])  # no settlement at all
    db = tmp_path / "w.duckdb"
    assert cli_main(["ingest", str(good), "--db", str(db), "--skip-quality"]) == 0
    assert cli_main(["ingest", str(bad), "--db", str(db), "--skip-quality"]) == 0
    capsys.readouterr()
    assert cli_main(["quality", "--db", str(db)]) == 3
    loud = [line for line in capsys.readouterr().err.splitlines() if "！！" in line]
    assert len(loud) == 1 and "10 例中 10 例（100.0%）" in loud[0]  # the bad batch only
    # nothing loaded since: a quality run again is quiet
    assert cli_main(["quality", "--db", str(db)]) == 0


def test_the_directory_says_which_files_are_not_input(tmp_path, capsys):
    from dip_sim.ingest.files import IGNORE_FILE, add_ignored

    cases, settlements = _good()
    src = write_inputs(tmp_path / "in", cases, settlements)
    (src / "notes").mkdir()
    (src / "notes" / "说明.csv").write_text("序号,说明\n1,本目录为2019年数据\n", encoding="utf-8")
    (src / "answers.csv").write_text("case_id,rule\ng0,x\n", encoding="utf-8")
    (src / IGNORE_FILE).write_text("# 说明文件\nnotes/*\n", encoding="utf-8")
    add_ignored(src, "answers.csv", "答案")
    add_ignored(src, "answers.csv", "答案")  # once only
    assert (src / IGNORE_FILE).read_text(encoding="utf-8").count("answers.csv") == 1
    db = tmp_path / "w.duckdb"
    assert cli_main(["ingest", str(src), "--db", str(db)]) == 0
    assert "按目录中的 .dipsim-ignore 未读取: answers.csv, notes/说明.csv" in capsys.readouterr().err
    assert query(db, "SELECT count(*) FROM load_batches WHERE file_path LIKE '%说明%' "
                     "OR file_path = 'answers.csv'") == [(0,)]


def test_a_planted_city_loads_with_nothing_refused(tmp_path):
    """The answers written beside a synthetic city's inputs are never read as input."""
    from dip_sim.synth import generate
    from dip_sim.synth.gaming import load_plan, plant_gaming
    from dip_sim.synth.plant import plant_problems
    from pipelines.ingest import run_ingest

    src = tmp_path / "demo"
    generate(src, years=(2019, 2020), cases_per_year=3000, seed=3)
    plant_problems(src, 0.002, 3)
    plan = tmp_path / "plan.yaml"
    plan.write_text("split_admission:\n  hospitals: [H140302002]\n  rate: 0.05\n"
                    "  years: [2020]\n", encoding="utf-8")
    plant_gaming(src, load_plan(plan, src), seed=3)
    summary = run_ingest(src, tmp_path / "w.duckdb", progress=QUIET)
    assert not summary.refused
    assert sorted(summary.ignored) == ["gaming_truth.csv", "ground_truth.csv"]
