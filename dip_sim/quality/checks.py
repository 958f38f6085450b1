"""The record-quality checks (病案质控): one SQL query per issue type.

Each check yields ``(case_id, detail)`` rows; ``detail`` names the file, the row and the field
so the hospital can fix the record at the source. Critical issues keep a case out of grouping
(未入组) and out of the DIP fund; warnings are recorded and the case is grouped (issue 2 §3).
The order of ``CHECKS`` is the priority: a case's status is its first critical issue, else its
first warning, else ``ok``.

The checks read: ``cases`` and ``settlements`` (one row per distinct content), ``case_features``
(built first, every case ``ok``: ``has_case``, ``has_settlement``), ``hospitals``,
``load_errors``, ``ref_dx``, ``ref_dx_rules``; ``dup_cases`` / ``dup_settlements`` (the keys with
more than one row, made by :func:`dip_sim.quality.status.run_quality`); the variable
``cost_tolerance_yuan``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    """One quality rule: its code, severity, Chinese label and the query finding its cases."""

    code: str
    severity: str  # 'critical' or 'warning'
    label_zh: str
    sql: str


# where a case row came from, for messages: "cases_2019.csv 第 12 行"
_AT = "c.source_file || ' 第 ' || c.source_row || ' 行'"
_AT_S = "s.source_file || ' 第 ' || s.source_row || ' 行'"

CHECKS: tuple[Check, ...] = (
    Check("no_case_record", "critical", "有结算无病案", f"""
        SELECT s.case_id, '仅有结算记录（' || {_AT_S} || '），无对应病案首页'
        FROM settlements s
        SEMI JOIN (SELECT case_id FROM case_features WHERE NOT has_case) f USING (case_id)"""),
    Check("duplicate_case", "critical", "病案重复且内容不同", f"""
        SELECT c.case_id, '同一 case_id 有 ' || count(*) || ' 条内容不同的病案记录: '
               || string_agg({_AT}, '; ' ORDER BY c.source_file, c.source_row)
        FROM cases c SEMI JOIN dup_cases d USING (case_id) GROUP BY c.case_id"""),
    Check("duplicate_settlement", "critical", "结算重复且内容不同", f"""
        SELECT s.case_id, '同一 case_id 有 ' || count(*) || ' 条内容不同的结算记录: '
               || string_agg({_AT_S}, '; ' ORDER BY s.source_file, s.source_row)
        FROM settlements s SEMI JOIN dup_settlements d USING (case_id) GROUP BY s.case_id"""),
    Check("main_dx_missing", "critical", "主要诊断缺失", f"""
        SELECT c.case_id, '主要诊断 main_dx 为空（' || {_AT} || '）'
        FROM cases c WHERE c.main_dx IS NULL"""),
    Check("main_dx_invalid", "critical", "主要诊断编码无效", f"""
        SELECT c.case_id, '主要诊断 main_dx=''' || c.main_dx
               || ''' 不在 ICD-10 医保版 2.0 编码表中（' || {_AT} || '）'
        FROM cases c WHERE c.main_dx IS NOT NULL
          AND c.main_dx NOT IN (SELECT code FROM ref_dx)"""),
    Check("no_settlement", "critical", "无结算记录", f"""
        SELECT c.case_id, '病案（' || {_AT} || '）无对应结算记录'
        FROM cases c
        SEMI JOIN (SELECT case_id FROM case_features WHERE NOT has_settlement) f
             USING (case_id)"""),
    Check("dates_invalid", "critical", "入出院日期缺失或无法识别", f"""
        SELECT c.case_id, '入院日期 admit_date 或出院日期 discharge_date 缺失或无法识别（'
               || {_AT} || '）'
        FROM cases c WHERE c.admit_date IS NULL OR c.discharge_date IS NULL"""),
    Check("discharge_before_admit", "critical", "出院早于入院", f"""
        SELECT c.case_id, '出院日期 ' || c.discharge_date || ' 早于入院日期 ' || c.admit_date
               || '（' || {_AT} || '）'
        FROM cases c WHERE c.discharge_date < c.admit_date"""),
    Check("cost_not_positive", "critical", "医疗总费用缺失或不为正", f"""
        SELECT s.case_id, '医疗总费用 total_cost_yuan='
               || coalesce(CAST(s.total_cost_yuan AS VARCHAR), '空/无法识别')
               || ' 不为正（' || {_AT_S} || '）'
        FROM settlements s WHERE s.total_cost_yuan IS NULL OR s.total_cost_yuan <= 0"""),
    Check("fund_paid_invalid", "critical", "统筹基金支付缺失或为负", f"""
        SELECT s.case_id, '统筹基金支付 fund_paid_yuan='
               || coalesce(CAST(s.fund_paid_yuan AS VARCHAR), '空/无法识别')
               || ' 缺失或为负（' || {_AT_S} || '）'
        FROM settlements s WHERE s.fund_paid_yuan IS NULL OR s.fund_paid_yuan < 0"""),
    Check("unknown_hospital", "critical", "医疗机构不在机构表中", f"""
        SELECT c.case_id, '医疗机构 hospital_id=''' || coalesce(c.hospital_id, '')
               || ''' 不在医院表中（' || {_AT} || '）'
        FROM cases c ANTI JOIN hospitals h USING (hospital_id)"""),
    Check("proc_invalid", "warning", "手术操作编码无效（未纳入分组键）", f"""
        SELECT c.case_id, '手术操作编码不在 ICD-9-CM-3 医保版 2.0 编码表中，未纳入分组: '
               || array_to_string(list_filter(string_split(c.invalid_codes, ';'),
                                              lambda x: x LIKE '%proc%'), ', ')
               || '（' || {_AT} || '）'
        FROM cases c WHERE c.invalid_codes LIKE '%proc%'"""),
    Check("other_dx_invalid", "warning", "其他诊断编码无效", f"""
        SELECT c.case_id, '其他诊断编码不在 ICD-10 医保版 2.0 编码表中: '
               || array_to_string(list_filter(string_split(c.invalid_codes, ';'),
                                              lambda x: x LIKE 'other_dx:%'), ', ')
               || '（' || {_AT} || '）'
        FROM cases c WHERE c.invalid_codes LIKE '%other_dx:%'"""),
    Check("dx_sex_conflict", "warning", "诊断与性别不符", f"""
        SELECT c.case_id, '主要诊断 ' || c.main_dx || ' 仅适用于'
               || CASE r.sex WHEN 1 THEN '男性' ELSE '女性' END || '，病例性别 sex=' || c.sex
               || '（' || {_AT} || '）'
        FROM cases c JOIN ref_dx_rules r
          ON substr(c.main_dx, 1, 3) BETWEEN r.category_from AND r.category_to
        WHERE r.sex IS NOT NULL AND c.sex IN (1, 2) AND c.sex <> r.sex"""),
    Check("dx_age_conflict", "warning", "诊断与年龄不符", f"""
        SELECT c.case_id, '主要诊断 ' || c.main_dx || ' 适用年龄 '
               || coalesce(CAST(r.min_age_years AS VARCHAR), '') || '–'
               || coalesce(CAST(r.max_age_years AS VARCHAR), '') || ' 岁，病例年龄 age_years='
               || c.age_years || '（' || {_AT} || '）'
        FROM cases c JOIN ref_dx_rules r
          ON substr(c.main_dx, 1, 3) BETWEEN r.category_from AND r.category_to
        WHERE c.age_years IS NOT NULL
          AND (c.age_years < r.min_age_years OR c.age_years > r.max_age_years)"""),
    # 实际住院天数 = 出院日期 − 入院日期, a same-day stay counting as 1 day
    Check("los_mismatch", "warning", "住院天数与日期不符", f"""
        SELECT c.case_id, '住院天数 los_days=' || c.los_days || '，按入出院日期应为 '
               || greatest(date_diff('day', c.admit_date, c.discharge_date), 1)
               || '（' || {_AT} || '）'
        FROM cases c
        WHERE c.los_days IS NOT NULL AND c.discharge_date >= c.admit_date
          AND c.los_days <> greatest(date_diff('day', c.admit_date, c.discharge_date), 1)"""),
    Check("cost_breakdown_mismatch", "warning", "费用明细合计与总费用不符", f"""
        SELECT s.case_id, '费用明细合计 ' || round(parts, 2) || ' 与医疗总费用 '
               || s.total_cost_yuan || ' 不符（' || {_AT_S} || '）'
        FROM (SELECT *, coalesce(drug_yuan, 0) + coalesce(consumable_yuan, 0)
                        + coalesce(exam_yuan, 0) + coalesce(lab_yuan, 0)
                        + coalesce(treatment_yuan, 0) + coalesce(surgery_yuan, 0)
                        + coalesce(nursing_yuan, 0) + coalesce(bed_yuan, 0)
                        + coalesce(other_yuan, 0) AS parts,
                     coalesce(drug_yuan, consumable_yuan, exam_yuan, lab_yuan,
                              treatment_yuan, surgery_yuan, nursing_yuan, bed_yuan,
                              other_yuan) IS NOT NULL AS has_parts
              FROM settlements) s
        WHERE s.has_parts AND s.total_cost_yuan IS NOT NULL
          AND abs(s.parts - s.total_cost_yuan) > getvariable('cost_tolerance_yuan')"""),
    # every value cleared at load (not a number, not a date): name its file, row and field
    Check("value_unreadable", "warning", "字段值无法识别", """
        SELECT DISTINCT x.case_id, e.file_path || ' 第 ' || e.row_number || ' 行 字段 '
               || e.field || ' 的值 ''' || e.value || ''' 无法识别：' || e.reason
        FROM load_errors e
        JOIN (SELECT case_id, source_file, source_row FROM cases
              UNION ALL SELECT case_id, source_file, source_row FROM settlements) x
          ON x.source_file = e.file_path AND x.source_row = e.row_number
        WHERE e.outcome = 'value_cleared'"""),
)
