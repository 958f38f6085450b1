"""Writing the synthetic city as the national 医疗保障基金结算清单 (``dip-sim synth --format national``).

The same discharges as the canonical files, exported as a bureau receives them: one row per
discharge holding the case and its settlement (the combined 清单), under the standard's own
item names (医疗保障基金结算清单填写规范, 医保办发〔2021〕34号), per hospital and year, with the
parts a real export carries that the contract does not keep: names beside codes, 入院病情,
the 甲类/乙类/自费/其他 split of every fee item, the payment channels of 个人负担, the
operations' dates and doctors, personal details (synthetic). Three layouts rotate over the
hospitals:

- GB18030 CSV: a title row above the header, a 合计 row at the bottom;
- UTF-8 CSV with a BOM: two header rows (each fee item over 金额/甲类/乙类/自费/其他, 基金支付
  and 个人负担 over their parts), the upper cell written once, as a sheet saved as CSV has it;
- Excel: a merged title row, two header rows with merged cells, a blank spacer row after the
  data and a 合计 row.

The headers are spelled here from the standard, not taken from the loader's header map, so
loading this export tests the map. Cases without a settlement (no 清单 can be issued) go to a
病案首页 file under the same names, settlements without a case to a settlement-only file.
There is no hospital list: the hospitals are named on the rows (定点医药机构代码, 名称, 医保结算
等级). Other funds than the pooled fund are written as 0.00, so the export holds exactly the
canonical files' amounts.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from dip_sim.synth.codes import load_code_tables
from dip_sim.synth.extract import INSURANCE_WORDS, LEVEL_WORDS, SEX_WORDS, as_text

# the 医疗收费项目类别 of the 结算清单, and the contract part each is written from; a part
# spread over several items is split by fixed shares (in fen, the last item taking the rest)
_ITEMS: tuple[tuple[str, str, float], ...] = (
    ("床位费", "bed_yuan", 1.0), ("诊察费", "other_yuan", 0.2), ("检查费", "exam_yuan", 1.0),
    ("化验费", "lab_yuan", 1.0), ("治疗费", "treatment_yuan", 1.0), ("手术费", "surgery_yuan", 1.0),
    ("护理费", "nursing_yuan", 1.0), ("卫生材料费", "consumable_yuan", 1.0),
    ("西药费", "drug_yuan", 0.7), ("中药饮片费", "drug_yuan", 0.1), ("中成药费", "drug_yuan", 1.0),
    ("一般诊疗费", "other_yuan", 0.1), ("挂号费", "other_yuan", 0.05), ("其他费", "other_yuan", 1.0),
)
_CLASSES = (("甲类", 0.6), ("乙类", 0.3), ("自费", 1.0), ("其他", 0.0))
_OTHER_FUNDS = ("补充医疗保险支付", "职工大额医疗费用补助", "居民大病保险", "公务员医疗补助",
                "医疗救助支付", "其他支付")
MAX_OTHER_PROCS = 6


def _fen(name: str) -> pl.Expr:
    return (pl.col(name) * 100).round(0).cast(pl.Int64)


def _yuan(fen: pl.Expr) -> pl.Expr:
    """Fen as text with two decimals (empty when missing)."""
    sign = pl.when(fen < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    return as_text(pl.format("{}{}.{}", sign, fen.abs() // 100,
                           (fen.abs() % 100).cast(pl.String).str.zfill(2)))


def _split(fen: pl.Expr, shares: list[float]) -> list[pl.Expr]:
    """Fen split by ``shares`` (each a share of what is left; the last piece takes the rest)."""
    left, out = fen, []
    for i, share in enumerate(shares):
        piece = left if i == len(shares) - 1 else (left * share).round(0).cast(pl.Int64)
        out.append(piece)
        left = left - piece
    return out


def _with_names(cases: pl.DataFrame, other_dx: int, other_procs: int) -> pl.DataFrame:
    """The cases with the code list's name beside each code (``_name_<column>[_<i>]``)."""
    tables = load_code_tables()
    lookups = {}
    for kind, names in (("dx", tables.dx_names), ("proc", tables.proc_names)):
        lookups[kind] = (pl.Series(list(names), dtype=pl.String),
                         pl.Series(list(names.values()), dtype=pl.String))

    def name(expr: pl.Expr, kind: str) -> pl.Expr:
        old, new = lookups[kind]
        return expr.str.strip_chars().replace_strict(old, new, default=None)

    def nth(column: str, i: int) -> pl.Expr:
        return pl.col(column).str.split(";").list.get(i, null_on_oob=True)

    return cases.with_columns(
        name(pl.col("main_dx"), "dx").alias("_name_main_dx"),
        name(pl.col("main_proc"), "proc").alias("_name_main_proc"),
        *(name(nth("other_dx", i), "dx").alias(f"_name_other_dx_{i}") for i in range(other_dx)),
        *(name(nth("other_procs", i), "proc").alias(f"_name_other_procs_{i}")
          for i in range(other_procs)))


def _nth(column: str, index: int) -> pl.Expr:
    return as_text(pl.col(column).str.split(";").list.get(index, null_on_oob=True))


def _case_columns(spelling: int, other_dx: int, other_procs: int
                  ) -> list[tuple[str, str, pl.Expr]]:
    """(upper header, lower header, value) of the 基本信息 and 住院诊疗信息 items.

    ``spelling`` varies the hospitals' choices the standard allows (代码/编码, words or codes).
    """
    code = "代码" if spelling % 2 == 0 else "编码"
    sex = as_text(pl.col("sex").replace_strict(SEX_WORDS, default=None, return_dtype=pl.String)) \
        if spelling % 2 else as_text(pl.col("sex"))
    admit = as_text(pl.col("admit_date").dt.strftime("%Y-%m-%d 08:30:00"))
    discharge = as_text(pl.col("discharge_date").dt.strftime("%Y-%m-%d 10:00:00"))
    has_proc = pl.col("main_proc").is_not_null()
    icu = pl.when(pl.col("icu_days") > 0).then(pl.format("{}/0/0", pl.col("icu_days")))
    out = [
        ("清单流水号", "", as_text(pl.col("case_id"))),
        ("定点医药机构名称", "", as_text(pl.col("_hospital_name"))),
        ("定点医药机构代码", "", as_text(pl.col("hospital_id"))),
        ("医保结算等级", "", as_text(pl.col("_level").replace_strict(LEVEL_WORDS, default=None,
                                                                  return_dtype=pl.String))),
        ("医保编号", "", as_text(pl.col("patient_id"))),
        ("病案号", "", as_text(pl.format("BA{}", pl.col("case_id").str.split("-").list.last()))),
        ("申报时间", "", as_text(pl.col("discharge_date").dt.strftime("%Y-%m-%d"))),
        ("患者姓名", "", pl.lit("某某")),
        ("性别", "", sex),
        ("出生日期", "", as_text((pl.col("discharge_date") - pl.duration(
            days=(pl.col("age_years").fill_null(0) * 365.25).cast(pl.Int64))).dt.strftime("%Y-%m-%d"))),
        ("年龄", "", as_text(pl.col("age_years"))),
        ("国籍", "", pl.lit("中国")),
        ("（年龄不足1周岁）年龄（天）", "", as_text(pl.col("age_days"))),
        ("民族", "", pl.lit("汉族")),
        ("患者证件类别", "", pl.lit("居民身份证")),
        ("患者证件号码", "", as_text(pl.format("1403{}", pl.col("patient_id").hash(7) % 10**14))),
        ("职业", "", pl.lit("其他")), ("现住址", "", pl.lit("山西省阳泉市")),
        ("工作单位名称", "", pl.lit("")), ("工作单位地址", "", pl.lit("")),
        ("单位电话", "", pl.lit("")), ("邮编", "", pl.lit("045000")),
        ("联系人姓名", "", pl.lit("某某")), ("关系", "", pl.lit("配偶")),
        ("联系人地址", "", pl.lit("山西省阳泉市")), ("联系人电话", "", pl.lit("")),
        ("医保类型", "", as_text(pl.col("insurance_type").replace_strict(
            INSURANCE_WORDS, default=None, return_dtype=pl.String))),
        ("特殊人员类型", "", pl.lit("")), ("参保地", "", pl.lit("140300")),
        ("新生儿入院类型", "", pl.lit("")),
        ("新生儿出生体重", "", as_text(pl.col("birth_weight_g").cast(pl.Int64))),
        ("新生儿入院体重", "", as_text(pl.col("birth_weight_g").cast(pl.Int64))),
        ("住院医疗类型", "", pl.lit("1")), ("入院途径", "", pl.lit("2")), ("治疗类别", "", pl.lit("1")),
        ("入院时间", "", admit), ("入院科别", "", pl.lit("03")), ("转科科别", "", pl.lit("")),
        ("出院时间", "", discharge), ("出院科别", "", pl.lit("03")),
        ("实际住院天数", "", as_text(pl.col("los_days"))),
        ("门（急）诊诊断", "", as_text(pl.col("_name_main_dx"))),
        ("门（急）诊诊断" + code, "", as_text(pl.col("main_dx"))),
        ("主要诊断", "", as_text(pl.col("_name_main_dx"))),
        ("主要诊断" + code, "", as_text(pl.col("main_dx"))),
        ("主要诊断入院病情", "", pl.lit("1")),
    ]
    for i in range(other_dx):
        present = pl.col("other_dx").str.split(";").list.get(i, null_on_oob=True).is_not_null()
        out += [(f"其他诊断{i + 1}", "", as_text(pl.col(f"_name_other_dx_{i}"))),
                (f"其他诊断{code}{i + 1}", "", _nth("other_dx", i)),
                (f"入院病情{i + 1}", "", as_text(pl.when(present).then(pl.lit("1"))))]
    count = (pl.col("main_dx").is_not_null().cast(pl.Int64)
             + pl.col("other_dx").str.split(";").list.len().fill_null(0))
    out += [
        ("诊断代码计数", "", as_text(count)),
        ("主要手术及操作", "", as_text(pl.col("_name_main_proc"))),
        ("主要手术及操作" + code, "", as_text(pl.col("main_proc"))),
        ("手术及操作日期", "", as_text(pl.when(has_proc).then(
            (pl.col("admit_date") + pl.duration(days=1)).dt.strftime("%Y-%m-%d")))),
        ("麻醉方式", "", as_text(pl.when(has_proc).then(pl.lit("全身麻醉")))),
        ("术者医师姓名", "", as_text(pl.when(has_proc).then(pl.lit("某医师")))),
        ("术者医师代码", "", as_text(pl.when(has_proc).then(pl.lit("D0001")))),
    ]
    for i in range(other_procs):
        out += [(f"其他手术及操作{i + 1}", "", as_text(pl.col(f"_name_other_procs_{i}"))),
                (f"其他手术及操作{code}{i + 1}", "", _nth("other_procs", i))]
    out += [
        ("手术及操作代码计数", "", as_text(pl.col("main_proc").is_not_null().cast(pl.Int64)
                                        + pl.col("other_procs").str.split(";").list.len()
                                        .fill_null(0))),
        ("呼吸机使用时间", "", pl.lit("")),
        ("重症监护病房类型", "", as_text(pl.when(pl.col("icu_days") > 0).then(pl.lit("ICU（综合）")))),
        ("重症监护合计时长", "", as_text(icu)),
        ("离院方式", "", as_text(pl.col("discharge_disposition"))),
        ("主诊医师姓名", "", pl.lit("某医师")), ("主诊医师代码", "", pl.lit("D0002")),
    ]
    return out


def _settlement_columns() -> list[tuple[str, str, pl.Expr]]:
    """(upper header, lower header, value) of the 医疗收费信息 items, fees in fen split exactly."""
    out = [("业务流水号", "", as_text(pl.format("YW{}", pl.col("case_id")))),
           ("票据号码", "", as_text(pl.format("PJ{}", pl.col("case_id").str.split("-").list.last()))),
           ("结算开始日期", "", as_text(pl.col("admit_date").dt.strftime("%Y-%m-%d"))),
           ("结算结束日期", "", as_text(pl.col("settle_date").dt.strftime("%Y-%m-%d")))]
    by_part: dict[str, list[tuple[str, float]]] = {}
    for item, part, share in _ITEMS:
        by_part.setdefault(part, []).append((item, share))
    amounts: dict[str, pl.Expr] = {}
    for part, items in by_part.items():
        for (item, _), fen in zip(items, _split(_fen(part), [s for _, s in items]), strict=True):
            amounts[item] = fen
    for item, _, _ in _ITEMS:
        out.append((item, "金额", _yuan(amounts[item])))
        for (name, _), fen in zip(_CLASSES, _split(amounts[item], [s for _, s in _CLASSES]),
                                  strict=True):
            out.append((item, name, _yuan(fen)))
    out.append(("金额合计", "", _yuan(_fen("total_cost_yuan"))))
    out.append(("基金支付", "医保统筹基金支付", _yuan(_fen("fund_paid_yuan"))))
    zero = pl.when(pl.col("fund_paid_yuan").is_not_null()).then(pl.lit("0.00"))
    out += [("基金支付", name, as_text(zero)) for name in _OTHER_FUNDS]
    own = _split(_fen("patient_paid_yuan"), [0.8, 1.0])
    paid = _split(_fen("patient_paid_yuan"), [0.3, 1.0])
    out += [("个人负担", "个人自付", _yuan(own[0])), ("个人负担", "个人自费", _yuan(own[1])),
            ("个人负担", "个人账户支付", _yuan(paid[0])), ("个人负担", "个人现金支付", _yuan(paid[1]))]
    out += [("医保支付方式", "", pl.lit("3")), ("定点医疗机构填报部门", "", pl.lit("医保办")),
            ("医保机构", "", pl.lit("阳泉市医疗保障局"))]
    return out


def _frame(rows: pl.DataFrame, columns: list[tuple[str, str, pl.Expr]]) -> pl.DataFrame:
    """The export's cells as text, columns named by position (their headers kept aside)."""
    return rows.select(expr.alias(f"c{i}") for i, (_, _, expr) in enumerate(columns))


def _single_row(columns: list[tuple[str, str, pl.Expr]]) -> list[str]:
    """One header row: a fee's 金额 under the item's name, its classes as 床位费甲类; the parts
    of 基金支付 and 个人负担 under their own names."""
    out = []
    for upper, lower, _ in columns:
        if lower in ("", "金额"):
            out.append(upper)
        elif upper in ("基金支付", "个人负担"):
            out.append(lower)
        else:
            out.append(f"{upper}{lower}")
    return out


def _totals(frame: pl.DataFrame, columns: list[tuple[str, str, pl.Expr]]) -> list[str]:
    """The 合计 row: the amounts added up, 合计 in the first cell."""
    out = ["合计"] + [""] * (len(columns) - 1)
    for i, (upper, lower, _) in enumerate(columns):
        if lower or upper == "金额合计":
            out[i] = f"{frame.get_column(f'c{i}').cast(pl.Float64, strict=False).sum():.2f}"
    return out


def _rows_csv(rows: list[list[str]], width: int) -> str:
    """Rows of text as CSV lines (quoted where needed), ``width`` cells each."""
    if not rows:
        return ""
    return pl.DataFrame([pl.Series(f"c{i}", [r[i] for r in rows], dtype=pl.String)
                         for i in range(width)]).write_csv(None, include_header=False)


def _write_csv(path: Path, header_rows: list[list[str]], frame: pl.DataFrame,
               tail: list[list[str]], encoding: str) -> None:
    """A CSV in ``encoding`` (gb18030, or utf-8-sig with a BOM) with rows above and below."""
    text = (_rows_csv(header_rows, frame.width) + frame.write_csv(None, include_header=False)
            + _rows_csv(tail, frame.width))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("gb18030") if encoding == "gb18030"
                     else b"\xef\xbb\xbf" + text.encode("utf-8"))


def _two_rows(columns: list[tuple[str, str, pl.Expr]]) -> list[list[str]]:
    """Two header rows: the upper cell once per run of the same upper name (as CSV has a merge)."""
    top, bottom, previous = [], [], None
    for upper, lower, _ in columns:
        if not lower:
            top.append(upper)
            bottom.append("")
            previous = None
            continue
        top.append(upper if upper != previous else "")
        bottom.append(lower)
        previous = upper
    return [top, bottom]


def _write_workbook(path: Path, title: str, columns: list[tuple[str, str, pl.Expr]],
                    frame: pl.DataFrame, totals: list[str]) -> None:
    """A workbook: merged title, two header rows with merged cells, the rows, a blank row, 合计."""
    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    with xlsxwriter.Workbook(path) as book:
        sheet = book.add_worksheet("结算清单")
        sheet.merge_range(0, 0, 0, len(columns) - 1, title)
        col = 0
        while col < len(columns):
            upper, lower, _ = columns[col]
            if not lower:
                sheet.merge_range(1, col, 2, col, upper)
                col += 1
                continue
            end = col
            while end + 1 < len(columns) and columns[end + 1][0] == upper and columns[end + 1][1]:
                end += 1
            if end > col:
                sheet.merge_range(1, col, 1, end, upper)
            else:
                sheet.write_string(1, col, upper)
            for c in range(col, end + 1):
                sheet.write_string(2, c, columns[c][1])
            col = end + 1
        for r, row in enumerate(frame.iter_rows(), start=3):
            sheet.write_row(r, 0, row)
        sheet.write_row(3 + frame.height + 1, 0, totals)


def write_year(cases: pl.DataFrame, settlements: pl.DataFrame, hospitals: pl.DataFrame,
               year: int, out_dir: Path) -> None:
    """Write one year's discharges per hospital as the national 结算清单, layouts rotating."""
    hospital = hospitals.select("hospital_id", pl.col("hospital_name").alias("_hospital_name"),
                                pl.col("level").alias("_level"))
    # the hospital that sent a row: its case id's prefix, even when the row's code is wrong
    sender = pl.col("case_id").str.split("-").list.first().alias("_sender")
    other_dx = int(cases.get_column("other_dx").str.split(";").list.len().max() or 0)
    other_procs = max(int(cases.get_column("other_procs").str.split(";").list.len().max() or 0),
                      1)
    if other_procs > MAX_OTHER_PROCS:
        raise ValueError(f"more than {MAX_OTHER_PROCS} other procedures in one case")
    cases = _with_names(cases, other_dx, other_procs).join(hospital, on="hospital_id", how="left")
    listed = cases.join(settlements, on="case_id", how="inner")
    unsettled = cases.join(settlements, on="case_id", how="anti")
    orphans = settlements.join(cases, on="case_id", how="anti").with_columns(
        pl.lit(None, pl.Date).alias("admit_date"))
    settle_cols = [("清单流水号", "", as_text(pl.col("case_id")))] + _settlement_columns()
    # each spelling's columns and cells, made once for the whole year
    case_cols = {sp: _case_columns(sp, other_dx, other_procs) for sp in (0, 1)}
    columns = {sp: case_cols[sp] + _settlement_columns() for sp in (0, 1)}
    frames = {sp: _frame(listed, columns[sp]).with_columns(listed.select(sender)) for sp in (0, 1)}
    unsettled_frames = {sp: _frame(unsettled, case_cols[sp]).with_columns(unsettled.select(sender))
                        for sp in (0, 1)}
    orphan_frame = _frame(orphans, settle_cols).with_columns(orphans.select(sender))

    def own(frame: pl.DataFrame, hospital_id: str) -> pl.DataFrame:
        return frame.filter(pl.col("_sender") == hospital_id).drop("_sender")

    for index, hospital_id in enumerate(hospitals.get_column("hospital_id")):
        spelling = index % 2
        frame = own(frames[spelling], hospital_id)
        folder = out_dir / hospital_id
        name = f"{hospital_id}_{year}年医疗保障基金结算清单"
        title = f"医疗保障基金结算清单（{year}年，{hospital_id}）"
        cols = columns[spelling]
        if not frame.is_empty():
            layout = index % 3
            if layout == 0:
                _write_csv(folder / f"{name}.csv", [[title] + [""] * (len(cols) - 1),
                                                   _single_row(cols)], frame,
                           [_totals(frame, cols)], "gb18030")
            elif layout == 1:
                _write_csv(folder / f"{name}.csv", _two_rows(cols), frame, [],
                           "utf-8-sig")
            else:
                _write_workbook(folder / f"{name}.xlsx", title, cols, frame, _totals(frame, cols))
        rest = own(unsettled_frames[spelling], hospital_id)
        if not rest.is_empty():
            _write_csv(folder / f"{hospital_id}_{year}年未结算病案.csv",
                       [[u for u, _, _ in case_cols[spelling]]], rest, [], "utf-8-sig")
        rest = own(orphan_frame, hospital_id)
        if not rest.is_empty():
            _write_csv(folder / f"{hospital_id}_{year}年无病案结算.csv", [_single_row(settle_cols)],
                       rest, [], "utf-8-sig")
