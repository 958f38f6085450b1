"""Writing the synthetic city as hospitals really send it (``dip-sim synth --format extract``).

The same rows as the canonical files, written per hospital by three kinds of hospital
information system ("vendors"), so that loading them exercises header mapping, encodings,
Excel, date and amount formats and numbered diagnosis columns (docs/input.md):

- ``A``: GB18030 CSV, a 病案首页 file and a 结算 file per year; 男/女, 险种 and 离院方式 written
  out in words; dates ``2019/5/17 08:30:00``; other diagnoses over numbered columns
  (其他诊断编码1 … N); amounts with thousands separators.
- ``B``: one Excel workbook per year, sheet 结算清单 holding the combined 医保结算清单 (case
  and settlement in one row), and sheet 未结算病案 for the cases without settlement; vendor
  header variants (病案号, 出院主要诊断编码 …); dates ``20190517``.
- ``C``: UTF-8 CSV with a BOM; standard headers, other diagnoses as one ``;`` list; dates
  ``2019-05-17 08:30:00``.

Hospitals are listed in ``医疗机构目录.csv`` (UTF-8, 医院等级 as 三级/二级/一级). Loading
the extract gives the same warehouse rows as loading the canonical files (a test proves it).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from dip_sim.synth.other_dx import MAX_OTHER_DX

VENDORS: tuple[str, ...] = ("A", "B", "C")
SEX_WORDS = {1: "男", 2: "女"}
INSURANCE_WORDS = {"employee": "职工基本医疗保险", "resident": "城乡居民基本医疗保险"}
_DISPOSITION = {1: "医嘱离院", 2: "医嘱转院", 3: "医嘱转社区卫生服务机构/乡镇卫生院",
                4: "非医嘱离院", 5: "死亡", 9: "其他"}
LEVEL_WORDS = {1: "一级", 2: "二级", 3: "三级"}
_PARTS = {"drug_yuan": "药品费", "consumable_yuan": "卫生材料费", "exam_yuan": "检查费",
          "lab_yuan": "化验费", "treatment_yuan": "治疗费", "surgery_yuan": "手术费",
          "nursing_yuan": "护理费", "bed_yuan": "床位费", "other_yuan": "其他费"}


def vendor_of(index: int) -> str:
    """The vendor of the hospital at ``index`` in the hospital list (a fixed rotation)."""
    return VENDORS[index % len(VENDORS)]


def as_text(expr: pl.Expr) -> pl.Expr:
    """A value as the text a file holds: empty when missing."""
    return expr.cast(pl.String).fill_null("")


def _money(name: str, thousands: bool) -> pl.Expr:
    """An amount as text with two decimals, with thousands separators (1,234.50) if asked."""
    cents = (pl.col(name) * 100).round(0).cast(pl.Int64)
    whole, frac = cents.abs() // 100, (cents.abs() % 100).cast(pl.String).str.zfill(2)
    if thousands:
        def group(n: pl.Expr) -> pl.Expr:
            return n.cast(pl.String).str.zfill(3)
        digits = (pl.when(whole >= 1_000_000)
                  .then(pl.format("{},{},{}", whole // 1_000_000, group(whole // 1000 % 1000),
                                  group(whole % 1000)))
                  .when(whole >= 1000).then(pl.format("{},{}", whole // 1000, group(whole % 1000)))
                  .otherwise(whole.cast(pl.String)))
    else:
        digits = whole.cast(pl.String)
    sign = pl.when(cents < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    return as_text(pl.format("{}{}.{}", sign, digits, frac))


def _date(name: str, layout: str) -> pl.Expr:
    return as_text(pl.col(name).dt.strftime(layout))


def _coded(name: str, words: dict) -> pl.Expr:
    return as_text(pl.col(name).replace_strict(words, default=pl.col(name).cast(pl.String),
                                             return_dtype=pl.String))


# Each vendor's header for each case field (the same fields, different names)
_CASE_HEADERS: dict[str, dict[str, str]] = {
    "A": {"case_id": "清单流水号", "hospital_id": "定点医药机构代码", "patient_id": "个人编码",
          "sex": "性别", "age_years": "年龄", "age_days": "年龄不足1周岁的天数",
          "birth_weight_g": "新生儿出生体重", "insurance_type": "险种类型",
          "admit_date": "入院时间", "discharge_date": "出院时间", "los_days": "实际住院天数",
          "discharge_disposition": "离院方式", "main_dx": "主要诊断编码",
          "other_dx": "其他诊断编码", "main_proc": "主要手术及操作编码",
          "other_procs": "其他手术及操作编码", "icu_days": "重症监护合计天数"},
    "B": {"case_id": "病案号", "hospital_id": "定点医疗机构编码", "patient_id": "医保编号",
          "sex": "性别", "age_years": "年龄", "age_days": "天龄", "birth_weight_g": "出生体重",
          "insurance_type": "险种", "admit_date": "入院日期", "discharge_date": "出院日期",
          "los_days": "住院天数", "discharge_disposition": "离院方式",
          "main_dx": "出院主要诊断编码", "other_dx": "其他诊断代码",
          "main_proc": "主要手术操作编码", "other_procs": "其他手术操作编码", "icu_days": "ICU天数"},
    "C": {"case_id": "清单流水号", "hospital_id": "定点医药机构代码", "patient_id": "人员编号",
          "sex": "性别", "age_years": "年龄", "age_days": "(年龄不足1周岁的)年龄(天)",
          "birth_weight_g": "新生儿出生体重(克)", "insurance_type": "险种类型",
          "admit_date": "入院时间", "discharge_date": "出院时间", "los_days": "实际住院天数",
          "discharge_disposition": "离院方式", "main_dx": "主要诊断编码",
          "other_dx": "其他诊断编码", "main_proc": "主要手术及操作编码",
          "other_procs": "其他手术及操作编码", "icu_days": "重症监护室天数"},
}
# How each vendor writes coded values and dates; which spread other diagnoses over columns
_WORDS: dict[str, dict[str, dict]] = {
    "A": {"sex": SEX_WORDS, "insurance_type": INSURANCE_WORDS, "discharge_disposition": _DISPOSITION},
    "B": {"insurance_type": {"employee": "310", "resident": "390"}},
    "C": {"insurance_type": INSURANCE_WORDS},
}
_DATES = {"A": ("%Y/%-m/%-d 08:30:00", "%Y/%-m/%-d 10:00:00"), "B": ("%Y%m%d", "%Y%m%d"),
          "C": ("%Y-%m-%d 08:30:00", "%Y-%m-%d 10:00:00")}
_NUMBERED = ("A", "B")


def _case_columns(vendor: str) -> list[pl.Expr]:
    """The case fields as ``vendor`` writes them."""
    headers, words = _CASE_HEADERS[vendor], _WORDS[vendor]
    columns = []
    for name, header in headers.items():
        if name in words:
            columns.append(_coded(name, words[name]).alias(header))
        elif name in ("admit_date", "discharge_date"):
            layout = _DATES[vendor][name == "discharge_date"]
            columns.append(_date(name, layout).alias(header))
        elif name == "birth_weight_g":
            columns.append(as_text(pl.col(name).cast(pl.Int64)).alias(header))
        elif name == "other_dx" and vendor in _NUMBERED:
            other = pl.col(name).str.split(";")
            columns.extend(as_text(other.list.get(i, null_on_oob=True)).alias(f"{header}{i + 1}")
                           for i in range(MAX_OTHER_DX))
        else:
            columns.append(as_text(pl.col(name)).alias(header))
    return columns


def _settlement_columns(vendor: str, key: str) -> list[pl.Expr]:
    """The settlement fields as ``vendor`` writes them (``key``: its name for case_id)."""
    thousands = vendor == "A"
    total, fund = ("金额合计", "基金支付") if vendor == "C" else ("医疗总费用", "统筹基金支付")
    return [
        as_text(pl.col("case_id")).alias(key),
        _date("settle_date", "%Y%m%d" if vendor != "C" else "%Y-%m-%d").alias("结算日期"),
        _money("total_cost_yuan", thousands).alias(total),
        _money("fund_paid_yuan", thousands).alias(fund),
        _money("patient_paid_yuan", thousands).alias("个人支付"),
        *(_money(name, thousands).alias(label) for name, label in _PARTS.items()),
    ]


def _write_csv(frame: pl.DataFrame, path: Path, encoding: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = frame.write_csv(None)
    data = text.encode("gb18030") if encoding == "gb18030" else b"\xef\xbb\xbf" + text.encode()
    path.write_bytes(data)


def write_hospital_list(hospitals: pl.DataFrame, out_dir: Path) -> None:
    """``医疗机构目录.csv``: the hospitals with Chinese headers (UTF-8)."""
    frame = hospitals.select(
        as_text(pl.col("hospital_id")).alias("定点医药机构代码"),
        as_text(pl.col("hospital_name")).alias("定点医药机构名称"),
        _coded("level", LEVEL_WORDS).alias("医院等级"),
        as_text(pl.col("county")).alias("所属区县"),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "医疗机构目录.csv").write_text(frame.write_csv(None), encoding="utf-8")


def _sender() -> pl.Expr:
    """The hospital that sent a row: the prefix of its case id (H140302001-2019-0000001).

    Not ``hospital_id``: a row whose hospital code is wrong still comes in its hospital's
    files, and a settlement whose case is missing still comes with its hospital's.
    """
    return pl.col("case_id").str.split("-").list.first()


def write_year(cases: pl.DataFrame, settlements: pl.DataFrame, hospitals: pl.DataFrame,
               year: int, out_dir: Path) -> None:
    """Write one year's cases and settlements per hospital, each in its vendor's format."""
    for index, (hospital_id, name) in enumerate(
            hospitals.select("hospital_id", "hospital_name").iter_rows()):
        vendor = vendor_of(index)
        own = cases.filter(_sender() == hospital_id)
        own_settlements = settlements.filter(_sender() == hospital_id)
        if own.is_empty() and own_settlements.is_empty():
            continue
        folder = out_dir / f"{hospital_id}_{name}"
        if vendor == "A":
            _write_csv(own.select(_case_columns("A")), folder / f"病案首页_{year}.csv", "gb18030")
            _write_csv(own_settlements.select(_settlement_columns("A", "清单流水号")),
                       folder / f"结算_{year}.csv", "gb18030")
        elif vendor == "C":
            _write_csv(own.select(_case_columns("C")), folder / f"首页导出{year}.csv", "utf-8-sig")
            _write_csv(own_settlements.select(_settlement_columns("C", "清单流水号")),
                       folder / f"费用结算{year}.csv", "utf-8-sig")
        else:
            combined = own.join(own_settlements, on="case_id", how="inner").select(
                *_case_columns("B"),
                *_settlement_columns("B", "病案号")[1:],  # the key is already there
            )
            sheets = {"结算清单": combined}
            unsettled = own.join(own_settlements, on="case_id", how="anti")
            if not unsettled.is_empty():
                sheets["未结算病案"] = unsettled.select(_case_columns("B"))
            orphans = own_settlements.join(own, on="case_id", how="anti")
            if not orphans.is_empty():
                sheets["无病案结算"] = orphans.select(_settlement_columns("B", "病案号"))
            folder.mkdir(parents=True, exist_ok=True)
            _write_workbook(sheets, folder / f"{year}年医保结算清单.xlsx")


def _write_workbook(sheets: dict[str, pl.DataFrame], path: Path) -> None:
    import xlsxwriter

    with xlsxwriter.Workbook(path) as workbook:
        for name, frame in sheets.items():
            frame.write_excel(workbook, worksheet=name, autofit=False, include_header=True,
                              dtype_formats=None, float_precision=2)
