"""The record-quality rules (病案质控): a catalogue in data, one SQL query per rule.

``data/reference/quality_rules.csv`` is the catalogue: each rule's code, severity (critical:
the case is not grouped, 未入组, and stays outside the DIP fund; warning: grouped and
reported), Chinese and English description, the field it concerns and its source. The order
of its rows is the priority: a case's status is its first critical finding, else its first
warning, else ``ok``. Changing a rule's severity there changes the verdicts.

Each query below yields ``(case_id, value, detail)`` rows: the offending value and a detail
naming the file, the row and the field, so the hospital can fix the record at the source.

The queries read: ``cases`` and ``settlements`` (one row per distinct content),
``unmatched_keys`` (the case numbers found in only one of the two, with ``has_case`` and
``has_settlement``; a temp table of ``status.run_quality``),
``hospitals``, ``load_errors``, ``ref_dx``, ``ref_dx_rules``, ``ref_main_dx_excluded``;
``dup_cases`` / ``dup_settlements`` (the keys with more than one content); the parameters
``quality.cost_breakdown_tolerance_yuan`` and ``quality.payment_split_tolerance_yuan``, as
variables of those names.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass

from dip_sim.paths import REFERENCE_DIR

SEVERITIES = ("critical", "warning")


@dataclass(frozen=True)
class Check:
    """One quality rule: its catalogue entry and the query finding its cases."""

    code: str
    severity: str  # 'critical' or 'warning'
    label_zh: str
    label_en: str
    field: str
    source: str
    sql: str


# where a case row came from, for messages: "cases_2019.csv 第 12 行"
_AT = "c.source_file || ' 第 ' || c.source_row || ' 行'"
_AT_S = "s.source_file || ' 第 ' || s.source_row || ' 行'"
_PARTS = ("drug_yuan", "consumable_yuan", "exam_yuan", "lab_yuan", "treatment_yuan",
          "surgery_yuan", "nursing_yuan", "bed_yuan", "other_yuan")
_PROCS = ("list_concat(CASE WHEN c.main_proc IS NULL THEN [] ELSE [c.main_proc] END, "
          "coalesce(string_split(c.other_procs, ';'), []))")

SQL: dict[str, str] = {
    "no_case_record": f"""
        SELECT s.case_id, s.case_id, '仅有结算记录（' || {_AT_S} || '），无对应病案首页'
        FROM settlements s
        SEMI JOIN (SELECT case_id FROM unmatched_keys WHERE NOT has_case) f USING (case_id)""",
    "duplicate_case": f"""
        SELECT c.case_id, c.case_id, '同一 case_id 有 ' || count(*) || ' 条内容不同的病案记录: '
               || string_agg({_AT}, '; ' ORDER BY c.source_file, c.source_row)
        FROM cases c SEMI JOIN dup_cases d USING (case_id) GROUP BY c.case_id""",
    "duplicate_settlement": f"""
        SELECT s.case_id, s.case_id, '同一 case_id 有 ' || count(*) || ' 条内容不同的结算记录: '
               || string_agg({_AT_S}, '; ' ORDER BY s.source_file, s.source_row)
        FROM settlements s SEMI JOIN dup_settlements d USING (case_id) GROUP BY s.case_id""",
    "main_dx_missing": f"""
        SELECT c.case_id, NULL, '主要诊断 main_dx 为空（' || {_AT} || '）'
        FROM cases c WHERE c.main_dx IS NULL""",
    "main_dx_invalid": f"""
        SELECT c.case_id, c.main_dx, '主要诊断 main_dx=''' || c.main_dx
               || ''' 不在 ICD-10 医保版 2.0 编码表中（' || {_AT} || '）'
        FROM cases c WHERE c.main_dx IS NOT NULL
          AND c.main_dx NOT IN (SELECT code FROM ref_dx)""",
    # the patterns are matched on the distinct codes (a few ten thousand), not on every case
    "main_dx_not_allowed": f"""
        SELECT c.case_id, c.main_dx, '主要诊断 ' || c.main_dx || ': ' || b.reason
               || '（' || {_AT} || '）'
        FROM cases c
        JOIN (SELECT d.main_dx, any_value(x.reason) AS reason
              FROM (SELECT DISTINCT main_dx FROM cases WHERE main_dx IS NOT NULL) d
              JOIN ref_main_dx_excluded x ON regexp_matches(d.main_dx, x.pattern)
              GROUP BY d.main_dx) b USING (main_dx)""",
    "no_settlement": f"""
        SELECT c.case_id, NULL, '病案（' || {_AT} || '）无对应结算记录'
        FROM cases c
        SEMI JOIN (SELECT case_id FROM unmatched_keys WHERE NOT has_settlement) f
             USING (case_id)""",
    "dates_invalid": f"""
        SELECT c.case_id, NULL, '入院日期 admit_date 或出院日期 discharge_date 缺失或无法识别（'
               || {_AT} || '）'
        FROM cases c WHERE c.admit_date IS NULL OR c.discharge_date IS NULL""",
    "discharge_before_admit": f"""
        SELECT c.case_id, CAST(c.discharge_date AS VARCHAR),
               '出院日期 ' || c.discharge_date || ' 早于入院日期 ' || c.admit_date
               || '（' || {_AT} || '）'
        FROM cases c WHERE c.discharge_date < c.admit_date""",
    "cost_not_positive": f"""
        SELECT s.case_id, CAST(s.total_cost_yuan AS VARCHAR), '医疗总费用 total_cost_yuan='
               || coalesce(CAST(s.total_cost_yuan AS VARCHAR), '空/无法识别')
               || ' 不为正（' || {_AT_S} || '）'
        FROM settlements s WHERE s.total_cost_yuan IS NULL OR s.total_cost_yuan <= 0""",
    "fund_paid_invalid": f"""
        SELECT s.case_id, CAST(s.fund_paid_yuan AS VARCHAR), '统筹基金支付 fund_paid_yuan='
               || coalesce(CAST(s.fund_paid_yuan AS VARCHAR), '空/无法识别')
               || ' 缺失或为负（' || {_AT_S} || '）'
        FROM settlements s WHERE s.fund_paid_yuan IS NULL OR s.fund_paid_yuan < 0""",
    "fund_exceeds_total": f"""
        SELECT s.case_id, CAST(s.fund_paid_yuan AS VARCHAR), '统筹基金支付 ' || s.fund_paid_yuan
               || ' 大于医疗总费用 ' || s.total_cost_yuan || '（' || {_AT_S} || '）'
        FROM settlements s WHERE s.fund_paid_yuan > s.total_cost_yuan""",
    "unknown_hospital": f"""
        SELECT c.case_id, c.hospital_id, '医疗机构 hospital_id=''' || coalesce(c.hospital_id, '')
               || ''' 不在医院表中（' || {_AT} || '）'
        FROM cases c ANTI JOIN hospitals h USING (hospital_id)""",
    "proc_invalid": f"""
        SELECT c.case_id, bad, '手术操作编码不在 ICD-9-CM-3 医保版 2.0 编码表中，未纳入分组: '
               || bad || '（' || {_AT} || '）'
        FROM (SELECT *, array_to_string(list_filter(string_split(invalid_codes, ';'),
                                                    lambda x: x LIKE '%proc%'), ', ') AS bad
              FROM cases WHERE invalid_codes LIKE '%proc%') c""",
    "proc_repeated": f"""
        SELECT c.case_id, repeated, '同一手术操作填写了不止一次: ' || repeated
               || '（' || {_AT} || '）'
        FROM (SELECT *, array_to_string(list_filter(list_distinct(procs),
                  lambda p: len(list_filter(procs, lambda q: q = p)) > 1), ', ') AS repeated
              FROM (SELECT *, {_PROCS} AS procs FROM cases c WHERE c.other_procs IS NOT NULL))
             c WHERE len(procs) > len(list_distinct(procs))""",
    "main_proc_missing": f"""
        SELECT c.case_id, c.other_procs, '有其他手术操作 ' || c.other_procs
               || ' 但主要手术操作 main_proc 为空（' || {_AT} || '）'
        FROM cases c WHERE c.main_proc IS NULL AND c.other_procs IS NOT NULL""",
    "other_dx_invalid": f"""
        SELECT c.case_id, bad, '其他诊断编码不在 ICD-10 医保版 2.0 编码表中: ' || bad
               || '（' || {_AT} || '）'
        FROM (SELECT *, array_to_string(list_filter(string_split(invalid_codes, ';'),
                                                    lambda x: x LIKE 'other_dx:%'), ', ') AS bad
              FROM cases WHERE invalid_codes LIKE '%other_dx:%') c""",
    "dx_sex_conflict": f"""
        SELECT c.case_id, CAST(c.sex AS VARCHAR), '主要诊断 ' || c.main_dx || ' 仅适用于'
               || CASE r.sex WHEN 1 THEN '男性' ELSE '女性' END || '，病例性别 sex=' || c.sex
               || '（' || {_AT} || '）'
        FROM cases c JOIN ref_dx_rules r
          ON substr(c.main_dx, 1, 3) BETWEEN r.category_from AND r.category_to
        WHERE r.sex IS NOT NULL AND c.sex IN (1, 2) AND c.sex <> r.sex""",
    "dx_age_conflict": f"""
        SELECT c.case_id, CAST(c.age_years AS VARCHAR), '主要诊断 ' || c.main_dx || ' 适用年龄 '
               || coalesce(CAST(r.min_age_years AS VARCHAR), '') || '–'
               || coalesce(CAST(r.max_age_years AS VARCHAR), '') || ' 岁，病例年龄 age_years='
               || c.age_years || '（' || {_AT} || '）'
        FROM cases c JOIN ref_dx_rules r
          ON substr(c.main_dx, 1, 3) BETWEEN r.category_from AND r.category_to
        WHERE c.age_years IS NOT NULL
          AND (c.age_years < r.min_age_years OR c.age_years > r.max_age_years)""",
    # a newborn (under 1 year, or a perinatal P-chapter diagnosis at age 0) needs its age in
    # days; within 28 days of birth also its birth weight
    "newborn_incomplete": f"""
        SELECT c.case_id, CAST(c.age_days AS VARCHAR),
               CASE WHEN c.age_days IS NULL THEN '不满 1 周岁的病例缺少天龄 age_days'
                    ELSE '新生儿（' || c.age_days || ' 天）缺少出生体重 birth_weight_g' END
               || '（' || {_AT} || '）'
        FROM cases c
        WHERE c.age_years = 0
          AND (c.age_days IS NULL OR (c.age_days <= 28 AND c.birth_weight_g IS NULL))""",
    # 实际住院天数 = 出院日期 − 入院日期, a same-day stay counting as 1 day
    "los_mismatch": f"""
        SELECT c.case_id, CAST(c.los_days AS VARCHAR), '住院天数 los_days=' || c.los_days
               || '，按入出院日期应为 '
               || greatest(date_diff('day', c.admit_date, c.discharge_date), 1)
               || '（' || {_AT} || '）'
        FROM cases c
        WHERE c.los_days IS NOT NULL AND c.discharge_date >= c.admit_date
          AND c.los_days <> greatest(date_diff('day', c.admit_date, c.discharge_date), 1)""",
    "los_not_positive": f"""
        SELECT c.case_id, CAST(c.los_days AS VARCHAR), '住院天数 los_days=' || c.los_days
               || ' 不为正（' || {_AT} || '）'
        FROM cases c WHERE c.los_days <= 0""",
    "disposition_invalid": f"""
        SELECT c.case_id, CAST(c.discharge_disposition AS VARCHAR), '离院方式 '
               || coalesce(CAST(c.discharge_disposition AS VARCHAR), '空')
               || ' 不在代码集 1、2、3、4、5、9 中（' || {_AT} || '）'
        FROM cases c
        WHERE c.discharge_disposition IS NULL OR c.discharge_disposition NOT IN (1, 2, 3, 4, 5, 9)""",
    # death (离院方式 5) cannot follow an encounter for reproduction or a healthy newborn
    "death_inconsistent": f"""
        SELECT c.case_id, c.main_dx, '离院方式为死亡（5），但主要诊断 ' || c.main_dx
               || ' 为生育或健康检查类编码（Z30–Z39）（' || {_AT} || '）'
        FROM cases c
        WHERE c.discharge_disposition = 5 AND substr(c.main_dx, 1, 3) BETWEEN 'Z30' AND 'Z39'""",
    "cost_breakdown_mismatch": f"""
        SELECT s.case_id, CAST(round(parts, 2) AS VARCHAR), '费用明细合计 ' || round(parts, 2)
               || ' 与医疗总费用 ' || s.total_cost_yuan || ' 不符（' || {_AT_S} || '）'
        FROM (SELECT *, {' + '.join(f'coalesce({p}, 0)' for p in _PARTS)} AS parts,
                     coalesce({', '.join(_PARTS)}) IS NOT NULL AS has_parts
              FROM settlements) s
        WHERE s.has_parts AND s.total_cost_yuan IS NOT NULL
          AND abs(s.parts - s.total_cost_yuan)
              > getvariable('quality.cost_breakdown_tolerance_yuan')""",
    "payment_split_mismatch": f"""
        SELECT s.case_id, CAST(s.patient_paid_yuan AS VARCHAR), '统筹基金支付 ' || s.fund_paid_yuan
               || coalesce(' + 其他基金支付 ' || s.other_fund_paid_yuan, '')
               || ' + 个人支付 ' || s.patient_paid_yuan || ' 与医疗总费用 ' || s.total_cost_yuan
               || ' 不符（' || {_AT_S} || '）'
        FROM settlements s
        WHERE s.patient_paid_yuan IS NOT NULL AND s.fund_paid_yuan IS NOT NULL
          AND s.total_cost_yuan IS NOT NULL
          -- 医疗总费用 = 统筹基金 + 其他基金（补充医疗保险、医疗救助…）+ 个人负担 (结算清单 医疗收费信息)
          AND abs(s.fund_paid_yuan + coalesce(s.other_fund_paid_yuan, 0) + s.patient_paid_yuan
                  - s.total_cost_yuan) > getvariable('quality.payment_split_tolerance_yuan')""",
    # every value cleared at load (not a number, not a date): name its file, row and field
    "value_unreadable": """
        SELECT x.case_id, any_value(e.value), string_agg(e.file_path || ' 第 ' || e.row_number
               || ' 行 字段 ' || e.field || ' 的值 ''' || e.value || ''' 无法识别：' || e.reason,
               '；' ORDER BY e.field)
        FROM load_errors e
        JOIN (SELECT case_id, source_file, source_row FROM cases
              UNION ALL SELECT case_id, source_file, source_row FROM settlements) x
          ON x.source_file = e.file_path AND x.source_row = e.row_number
        WHERE e.outcome = 'value_cleared'
        GROUP BY x.case_id""",
}


@functools.cache
def load_checks() -> tuple[Check, ...]:
    """The catalogue (``quality_rules.csv``) joined to the queries, in priority order.

    Raises ``ValueError`` for a rule without a query, a query without a rule, or an unknown
    severity.
    """
    with open(REFERENCE_DIR / "quality_rules.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    codes = [r["code"] for r in rows]
    if set(codes) != set(SQL) or len(codes) != len(set(codes)):
        raise ValueError(f"quality_rules.csv 与质控查询不一致: 缺少查询 {sorted(set(codes) - set(SQL))}，"
                         f"缺少目录条目 {sorted(set(SQL) - set(codes))}")
    checks = []
    for r in rows:
        if r["severity"] not in SEVERITIES:
            raise ValueError(f"quality_rules.csv: 规则 {r['code']} 的严重程度 {r['severity']!r} "
                             f"应为 {' 或 '.join(SEVERITIES)}")
        checks.append(Check(r["code"], r["severity"], r["label_zh"], r["label_en"],
                            r["field"], r["source"], SQL[r["code"]]))
    return tuple(checks)
