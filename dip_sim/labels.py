"""Chinese labels of the columns that are not in the output contract.

Stored simulation and supervision tables have their labels, units and code names in their
contract files (:mod:`dip_sim.contract`). What is left is here, in one place: columns a page
or a report computes (``*_wan``, differences between scenarios, counts of a breakdown), the
input and quality tables' columns the pages show, and their coded values. Each label is
``(label, unit shown in the header)``; :func:`dip_sim.contract.column_label` reads these.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# computed columns (and the input/quality columns shown beside the outputs)
DERIVED_COLUMNS: dict[str, tuple[str, str]] = {
    "hospital_name": ("医院名称", ""),
    "county": ("区县", ""),
    "insurance_type": ("险种", ""),
    "description": ("说明", ""),
    "diff_pct": ("差额率", ""),
    "dip_base_yuan": ("基准情景 DIP 支付", "元"),
    "dip_scenario_yuan": ("对比情景 DIP 支付", "元"),
    "change_yuan": ("变化", "元"),
    "year_end_base_yuan": ("基准情景年终结算额", "元"),
    "year_end_scenario_yuan": ("对比情景年终结算额", "元"),
    "year_end_change_yuan": ("年终结算额变化", "元"),
    "change_pct": ("变化率", ""),
    "indicator_diff_yuan": ("年终结算额 − 年度支付预算指标", "元"),
    "indicator_ratio": ("年终结算额 ÷ 年度支付预算指标", ""),
    "points_base": ("基准情景分值", ""),
    "alert": ("预警", ""),
    "alert_value": ("超出幅度", ""),
    "points_now": ("本年分值", ""),
    "points_last": ("末年分值", ""),
    "amount_now_yuan": ("本年 DIP 金额", "元"),
    "amount_last_yuan": ("末年 DIP 金额", "元"),
    "points_scenario": ("对比情景分值", ""),
    "mean_cost_ratio": ("平均费用倍率", ""),
    "n_outliers": ("偏差病例数", ""),
    "n_low": ("费用超低", ""),
    "n_high": ("费用超高", ""),
    "n_extreme": ("极端异常", ""),
    "severity": ("严重程度", ""),
    "status": ("质控状态", ""),
    "reason": ("质控原因", ""),
    "reason_example": ("原因示例", ""),
    "share": ("占比", ""),
    "n_not_ok": ("问题病例数", ""),
    "n_warning": ("警告", ""),
    "n_critical": ("严重", ""),
    "not_ok_share": ("问题病例占比", ""),
    "pass_rate": ("通过率", ""),
    "n_pass": ("无问题病例数", ""),
    "n_critical_cases": ("严重问题病例数", ""),
    "n_critical_findings": ("严重问题数", ""),
    "n_warning_findings": ("警告数", ""),
    "quality_index": ("病案质量指数", ""),
    "n_groups": ("病种组数", ""),
    "case_share": ("病例占比", ""),
    "cv_band": ("变异系数区间", ""),
    "baseline_yuan": ("基线 DIP 金额", "元"),
    "what_if_yuan": ("试算年终结算额", "元"),
    "change": ("变化", ""),
    "rw_a": ("比较情景分值", ""),
    "rw_b": ("本情景分值", ""),
    "n_cases_a": ("比较情景病例数", ""),
    "n_cases_b": ("本情景病例数", ""),
    "points_change": ("分值变化", ""),
    "dip_change_yuan": ("DIP 支付变化", "元"),
    "adjustment_reason": ("调整理由", ""),
    "dx_name": ("诊断名称", ""),
    "cmi_relative": ("CMI（全市平均病例 = 1.00）", ""),
    "region_cmi": ("全市 CMI（分值）", ""),
    "suppressed": ("已抑制", ""),
    "p25_cost_yuan": ("费用 P25", "元"),
    "p75_cost_yuan": ("费用 P75", "元"),
    "quality_rule": ("质控规则", ""),
    "file": ("情景文件", ""),
    "label_zh": ("问题", ""),
    "n_findings": ("问题数", ""),
    "n_hospitals": ("医院数", ""),
    "field": ("字段", ""),
    "value": ("填写值", ""),
    "index_value": ("取值", ""),
    "index_name": ("指数", ""),
    "rank_of": ("排名 / 医院数", ""),
    "indicator_label": ("指标", ""),
    "indicator_value": ("指标值", ""),
    "flag_value": ("标记值", ""),
    "anomaly_rank": ("异常排名", ""),
    "anomaly_reasons": ("突出的特征", ""),
    "year_end_amount_wan": ("年终结算额", "万元"),
    "cost_ratio_coefficient": ("费用比例法系数", ""),
    "metric": ("指标", ""),
    "parameter": ("参数", ""),
    "value_base": ("基准取值", ""),
    "value_a": ("A 取值", ""),
    "value_b": ("B 取值", ""),
    "rw_change": ("分值变化率", ""),
    "group_a": ("A 病种", ""),
    "group_b": ("B 病种", ""),
    "trace_b": ("B 分组路径", ""),
    "points_a": ("A 分值合计", ""),
    "points_b": ("B 分值合计", ""),
    "dip_amount_a_yuan": ("A DIP 支付", "元"),
    "dip_amount_b_yuan": ("B DIP 支付", "元"),
    "dip_fund_wan": ("DIP 基金总额", "万元"),
    "year_end_total_wan": ("年终结算合计", "万元"),
}

# tables outside the output contract whose columns mean something else there
TABLE_COLUMNS: dict[str, dict[str, tuple[str, str]]] = {
    # the quality report (quality_findings, case_status and the rule catalogue)
    "quality": {
        "hospital_id": ("定点医疗机构代码", ""), "hospital_name": ("医疗机构名称", ""),
        "year": ("年度", ""), "rule": ("规则", ""), "label_zh": ("说明", ""),
        "label_en": ("Description", ""), "n_hospitals": ("涉及医院数", ""),
        "source": ("依据", ""), "status": ("状态", ""), "reason": ("问题明细", ""),
    },
    # the supervision workbook's derived columns
    "supervision": {"detail": ("说明", ""), "value": ("取值", "")},
}


def _status_labels() -> dict[str, str]:
    from dip_sim.quality.checks import load_checks

    return {"ok": "正常", **{c.code: c.label_zh for c in load_checks()}}


INSURANCE_LABELS: dict[str, str] = {"employee": "职工医保", "resident": "居民医保"}

# coded columns that are not in the contract: value → Chinese
DERIVED_CODES: dict[str, Mapping[Any, str]] = {
    "insurance_type": INSURANCE_LABELS,
    "change": {"added": "新增", "removed": "删除", "repointed": "分值变化"},
    "severity": {"ok": "正常", "warning": "警告", "critical": "严重"},
    "status": _status_labels(),
}
