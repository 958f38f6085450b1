"""Real extracts: Chinese headers and their variants, GB18030 and BOM CSV, Excel, dates and
amounts as hospitals write them, numbered diagnosis columns, the combined 医保结算清单, and a
user mapping file. Each loads to the same warehouse rows as the canonical files."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
import pytest

from dip_sim.ingest.headers import header_map, map_headers, normalise_header
from pipelines.ingest import run_ingest
from tests.inputs import HOSPITALS, case_row, settlement_row, write_inputs

QUIET = lambda message: None  # noqa: E731
CASES = [
    case_row("c1", "H1", "2019-05-17", "K35.300", ("47.0901",), other_dx="I10.x00;E11.900"),
    case_row("c2", "H2", "2019-06-02", "J18.900", sex=2, insurance_type="resident"),
]
SETTLEMENTS = [settlement_row("c1", "2019-05-18", 1234.5, 1000),
               settlement_row("c2", "2019-06-03", 800, 500)]


def _rows(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _content(db: Path) -> tuple[list, list, list]:
    """What was loaded, without the bookkeeping columns (file, row, batch, codes as written)."""
    drop = "EXCLUDE (source_file, source_row, batch_id)"
    return (_rows(db, f"SELECT * {drop[:-1]}, code_changes) FROM cases ORDER BY case_id"),
            _rows(db, f"SELECT * {drop} FROM settlements ORDER BY case_id"),
            _rows(db, "SELECT * EXCLUDE (source_file, source_row) FROM hospitals ORDER BY 1"))


@pytest.fixture
def canonical(tmp_path) -> tuple:
    """The same cases loaded from the canonical files (after the test key is set)."""
    db = tmp_path / "canonical.duckdb"
    run_ingest(write_inputs(tmp_path / "canonical", CASES, SETTLEMENTS), db, progress=QUIET)
    return _content(db)


def _chinese_case(row: dict, variant: int) -> dict:
    """A case row as a hospital's system writes it (two vendors' header variants)."""
    d = row["discharge_date"].replace("-", "")
    other = [c for c in row["other_dx"].split(";") if c]
    out = {
        ("清单流水号", "病案号")[variant]: row["case_id"],
        ("定点医药机构代码", "定点医疗机构编码")[variant]: row["hospital_id"],
        ("个人编码", "医保编号")[variant]: row["patient_id"],
        "性别": "男" if row["sex"] == 1 else "女",
        "年龄": row["age_years"],
        "险种类型": "职工基本医疗保险" if row["insurance_type"] == "employee" else "城乡居民",
        "入院时间": row["admit_date"].replace("-", "/") + " 08:30:00",
        ("出院时间", "出院日期")[variant]: f"{d[:4]}/{int(d[4:6])}/{int(d[6:])}" if variant else d,
        "实际住院天数": row["los_days"],
        "离院方式": "医嘱离院",
        ("主要诊断编码", "出院主要诊断编码")[variant]: " " + row["main_dx"].lower() + " ",
        "主要手术及操作编码": row["main_proc"],
        "其他手术及操作编码": row["other_procs"],
    }
    for i in range(3):  # other diagnoses spread over numbered columns
        out[f"其他诊断编码{i + 1}"] = other[i] if i < len(other) else ""
    return out


def _chinese_settlement(row: dict) -> dict:
    names = {"case_id": "清单流水号", "settle_date": "结算日期", "total_cost_yuan": "医疗总费用",
             "fund_paid_yuan": "统筹基金支付", "patient_paid_yuan": "个人支付",
             "drug_yuan": "药品费", "consumable_yuan": "卫生材料费", "exam_yuan": "检查费",
             "lab_yuan": "化验费", "treatment_yuan": "治疗费", "surgery_yuan": "手术费",
             "nursing_yuan": "护理费", "bed_yuan": "床位费", "other_yuan": "其他费"}
    out = {names[k]: v for k, v in row.items()}
    out["医疗总费用"] = f"{row['total_cost_yuan']:,.2f}"  # thousands separator
    return out


def _write(path: Path, rows: list[dict], encoding: str = "utf-8") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding=encoding) as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _hospital_rows() -> list[dict]:
    return [{"定点医药机构代码": h["hospital_id"], "定点医药机构名称": h["hospital_name"],
             "医院等级": "三级" if h["level"] == 3 else f"{h['level']}", "区县": h["county"]}
            for h in HOSPITALS]


def test_gb18030_and_bom_csv_with_chinese_headers_load_like_canonical(tmp_path, canonical):
    src = tmp_path / "in"
    _write(src / "机构" / "医院目录.csv", _hospital_rows(), "utf-8-sig")
    _write(src / "一院" / "病案首页.csv", [_chinese_case(CASES[0], 0)], "gb18030")
    _write(src / "二院" / "首页导出.csv", [_chinese_case(CASES[1], 1)], "gb18030")
    _write(src / "结算" / "jiesuan.csv", [_chinese_settlement(r) for r in SETTLEMENTS], "gbk")
    db = tmp_path / "w.duckdb"
    summary = run_ingest(src, db, progress=QUIET)
    assert not summary.refused
    assert _content(db) == canonical
    encodings = {f["file_path"]: f["encoding"] for f in summary.files}
    assert encodings["一院/病案首页.csv"] == "gb18030"
    assert encodings["机构/医院目录.csv"] == "utf-8-sig"
    mapping = _rows(db, "SELECT column_mapping FROM load_batches "
                        "WHERE file_path = '一院/病案首页.csv'")[0][0]
    assert "main_dx←主要诊断编码" in mapping and "other_dx←其他诊断编码1+其他诊断编码2" in mapping


def test_excel_workbook_and_combined_list(tmp_path, canonical):
    src = tmp_path / "in"
    _write(src / "医院.csv", _hospital_rows())
    # one combined 医保结算清单 per discharge: case and settlement fields in one row
    combined = [{**_chinese_case(c, 0), **{k: v for k, v in _chinese_settlement(s).items()
                                           if k != "清单流水号"}}
                for c, s in zip(CASES, SETTLEMENTS, strict=True)]
    frame = pl.DataFrame(combined, infer_schema_length=None).cast(pl.Utf8)
    (src / "上传").mkdir(parents=True)
    frame.write_excel(src / "上传" / "2019年结算清单.xlsx", worksheet="清单")
    db = tmp_path / "w.duckdb"
    summary = run_ingest(src, db, progress=QUIET)
    assert not summary.refused
    kinds = sorted(f["file_kind"] for f in summary.files
                   if f["file_path"] == "上传/2019年结算清单.xlsx#清单")
    assert kinds == ["cases", "settlements"]
    assert _content(db) == canonical
    # only the named sheet: a workbook without it is refused, naming its sheets
    summary = run_ingest(src, tmp_path / "w2.duckdb", progress=QUIET, sheets=["汇总"])
    assert len(summary.refused) == 1 and "清单" in summary.refused[0]


def test_user_mapping_file_and_a_refused_table(tmp_path, canonical):
    src = tmp_path / "in"
    write_inputs(src, CASES, SETTLEMENTS)
    vendor = [{("诊断1" if k == "main_dx" else k): v for k, v in r.items()} for r in CASES]
    (src / "cases.csv").unlink()
    _write(src / "vendor" / "export.csv", vendor)
    db = tmp_path / "w.duckdb"
    summary = run_ingest(src, db, progress=QUIET)
    # without a mapping, 诊断1 is unknown: the table looks like cases but lacks main_dx
    assert len(summary.refused) == 1 and "main_dx" in summary.refused[0]
    assert "诊断1" in summary.refused[0]
    mapping = tmp_path / "vendor_mapping.csv"
    mapping.write_text("field,header\nmain_dx,诊断1\n", encoding="utf-8")
    db2 = tmp_path / "w2.duckdb"
    summary = run_ingest(src, db2, progress=QUIET, mapping=mapping)
    assert not summary.refused
    assert _content(db2) == canonical


def test_header_normalisation_and_numbered_lists():
    mapping = header_map()
    assert normalise_header("（年龄不足1周岁的）年龄（天）") == normalise_header("(年龄不足1周岁的)年龄(天)")
    mapped = map_headers(["病案号", "其他诊断编码_2", "其他诊断编码(1)", "其他诊断编码10", "奇怪的列"],
                         mapping)
    assert mapped.fields["case_id"].headers == ["病案号"]
    assert mapped.fields["other_dx"].headers == ["其他诊断编码(1)", "其他诊断编码_2", "其他诊断编码10"]
    assert mapped.fields["other_dx"].how == "list"
    assert mapped.unmapped == ["奇怪的列"]


def test_synthetic_extract_loads_exactly_like_the_canonical_files(tmp_path):
    from dip_sim.synth import generate

    loaded = []
    for file_format in ("csv", "extract"):
        src, db = tmp_path / file_format, tmp_path / f"{file_format}.duckdb"
        generate(src, years=(2019, 2020), cases_per_year=800, seed=9, file_format=file_format)
        summary = run_ingest(src, db, progress=QUIET)
        assert not summary.refused and not summary.skipped
        # the reasons name each format's own file and row: compare the verdicts
        loaded.append((_content(db), _rows(db, "SELECT case_id, status, severity FROM case_status"
                                               " ORDER BY case_id")))
        if file_format == "extract":
            files = {f["file_path"]: f for f in summary.files}
            encodings = {f["encoding"] for f in files.values()}
            assert {"gb18030", "utf-8-sig", "xlsx", "utf-8"} <= encodings
            assert any(f["file_kind"] == "settlements" and ".xlsx#结算清单" in name
                       for name, f in files.items())  # the combined 清单, loaded twice
    assert loaded[0] == loaded[1]


def test_tables_typed_together_load_as_when_typed_one_by_one(tmp_path, monkeypatch):
    """The loader types a batch's tables of the same fields together (``_TYPE_ROWS`` rows a
    statement): typing each file at once, then appending to its group, loads the same rows
    and reports the same unreadable values, file by file and row by row."""
    from dip_sim.ingest import load
    from dip_sim.synth import generate

    src = tmp_path / "in"
    generate(src, years=(2020,), cases_per_year=300, seed=5, file_format="extract")
    # the same fields in another order, and a value that does not read
    first, second = _chinese_case(CASES[0], 0), _chinese_case(CASES[1], 0)
    second["年龄"] = "三十"
    _write(src / "补报" / "a.csv", [first])
    _write(src / "补报" / "b.csv", [dict(reversed(list(second.items())))])
    loaded = []
    for type_rows in (load._TYPE_ROWS, 1):
        monkeypatch.setattr(load, "_TYPE_ROWS", type_rows)
        lines: list[str] = []
        db = tmp_path / f"w{type_rows}.duckdb"
        summary = run_ingest(src, db, progress=lines.append, quality=False)
        assert not summary.refused
        loaded.append((
            _content(db),
            _rows(db, "SELECT * EXCLUDE (batch_id) FROM load_errors ORDER BY ALL"),
            _rows(db, "SELECT file_path, file_kind, rows_read, rows_loaded, status, message "
                      "FROM load_batches ORDER BY ALL"),
            sum(line.startswith("  类型转换") for line in lines)))
    (together, errors, files, statements), (alone, errors_alone, files_alone, each) = loaded
    assert together == alone and errors == errors_alone and files == files_alone
    assert errors == [("补报/b.csv", 2, "age_years", "三十", "不是整数", "value_cleared")]
    assert statements < each


def test_the_readme_example_mapping_file():
    from dip_sim.paths import DATA_DIR

    mapping = header_map(DATA_DIR / "examples" / "vendor_mapping.csv")
    mapped = map_headers(["住院流水号", "诊断1", "诊断2", "诊断3", "手术1", "手术2", "手术3",
                          "费用总额", "医保统筹"], mapping)
    assert {name: src.headers for name, src in mapped.fields.items()} == {
        "case_id": ["住院流水号"], "main_dx": ["诊断1"], "main_proc": ["手术1"],
        "total_cost_yuan": ["费用总额"], "fund_paid_yuan": ["医保统筹"],
        "other_dx": ["诊断2", "诊断3"], "other_procs": ["手术2", "手术3"]}


def test_tab_delimited_unknown_and_header_only_files(tmp_path, canonical):
    src = tmp_path / "in"
    write_inputs(src, CASES, SETTLEMENTS)
    text = (src / "cases.csv").read_text(encoding="utf-8").replace(",", "\t")
    (src / "cases.csv").unlink()
    (src / "首页.txt").write_text(text, encoding="utf-8")
    (src / "说明.csv").write_text("序号,说明\n1,本目录为2019年数据\n", encoding="utf-8")
    (src / "settlements_empty.csv").write_text(
        "case_id,settle_date,total_cost_yuan,fund_paid_yuan\n", encoding="utf-8")
    db = tmp_path / "w.duckdb"
    summary = run_ingest(src, db, progress=QUIET)
    # no known table: refused and said so (exit code 2), never skipped in silence
    assert len(summary.refused) == 1 and "说明.csv" in summary.refused[0]
    assert [f["status"] for f in summary.files if f["file_path"] == "说明.csv"] == ["refused"]
    assert _content(db) == canonical


def test_staged_typing_reads_values_as_the_text_parser_does():
    from dip_sim.ingest.parsing import parse_text_expr, staged_typing_sql
    from dip_sim.schema import INPUT_COLUMNS

    # (field, text as written, value expected)
    cases = [
        ("age_years", " 3 ", 3), ("age_years", "3.0", 3), ("age_years", "3.5", None),
        ("age_years", "inf", None), ("age_years", "四十", None),
        ("sex", "男", 1), ("sex", "女", 2), ("sex", "2", 2),
        ("total_cost_yuan", "1,234.50", 1234.5), ("total_cost_yuan", "nan", None),
        ("discharge_date", "2019/5/17 08:30:00", dt.date(2019, 5, 17)),
        ("discharge_date", "20190517", dt.date(2019, 5, 17)),
        ("discharge_date", "2019年5月7日", dt.date(2019, 5, 7)),
        ("discharge_date", "2019-13-01", None),
        ("insurance_type", "职工基本医疗保险", "employee"), ("insurance_type", "390", "resident"),
        ("discharge_disposition", "死亡", 5),
    ]
    con = duckdb.connect()
    for field, text, expected in cases:
        col = INPUT_COLUMNS[field]
        con.execute(f"CREATE OR REPLACE TABLE t AS SELECT 1 AS source_row, ?::VARCHAR AS {field}",
                    [text])
        parsed = con.execute(f"SELECT {parse_text_expr(col, field)} FROM t").fetchall()[0][0]
        staged = con.execute(f"SELECT {field} FROM ({staged_typing_sql([col], 't')})"
                             ).fetchall()[0][0]
        assert parsed == staged == expected, (field, text, parsed, staged)
