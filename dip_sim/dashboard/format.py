"""Number formats and Chinese labels for the dashboard.

Money is shown in 元 for small amounts and 万元 for large ones; codes stored in the output
tables (outlier kind, group type, procedure class, hospital level, quality severity) are shown
by their Chinese names; :func:`for_display` turns a query result into a table with Chinese
headers. Nothing here computes a payment: it only scales, rounds and relabels.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from dip_sim.quality.checks import load_checks

WAN = 10_000.0

OUTLIER_LABELS: dict[str, str] = {
    "none": "正常",
    "low": "费用超低",
    "high": "费用超高",
    "extreme": "极端异常",
}
GROUP_TYPE_LABELS: dict[str, str] = {"core": "核心病种", "comprehensive": "综合病种"}
PROC_CLASS_LABELS: dict[str, str] = {
    "conservative": "保守治疗",
    "diagnostic": "诊断性操作",
    "therapeutic": "治疗性操作",
    "surgery": "相关手术",
}
LEVEL_LABELS: dict[int, str] = {3: "三级", 2: "二级", 1: "一级"}
SEVERITY_LABELS: dict[str, str] = {"ok": "正常", "warning": "警告", "critical": "严重"}

# Quality status codes (dip_sim.quality.checks) by their Chinese names.
STATUS_LABELS: dict[str, str] = {"ok": "正常", **{c.code: c.label_zh for c in load_checks()}}

INSURANCE_LABELS: dict[str, str] = {"employee": "职工医保", "resident": "居民医保"}
# the fund pools of a scenario that splits the fund by insurance (cases without a type apart)
POOL_LABELS: dict[str, str] = {**INSURANCE_LABELS, "unknown": "险种不详", "all": "全部"}

# Columns whose codes are shown by their Chinese names.
CODE_LABELS: dict[str, Mapping[Any, str]] = {
    "insurance_type": INSURANCE_LABELS,
    "pool": POOL_LABELS,
    "change": {"added": "新增", "removed": "删除", "repointed": "分值变化"},
    "outlier": OUTLIER_LABELS,
    "group_type": GROUP_TYPE_LABELS,
    "proc_class": PROC_CLASS_LABELS,
    "level": LEVEL_LABELS,
    "severity": SEVERITY_LABELS,
    "status": STATUS_LABELS,
}

# Amounts of a hospital, a month or the city: shown in 万元.
WAN_COLUMNS: frozenset[str] = frozenset(
    {
        "dip_change_yuan",
        "baseline_yuan",
        "what_if_yuan",
        "dip_fund_yuan",
        "dip_amount_yuan",
        "ffs_fund_paid_yuan",
        "diff_yuan",
        "prepaid_yuan",
        "clearing_yuan",
        "dip_base_yuan",
        "dip_scenario_yuan",
        "year_end_base_yuan",
        "year_end_scenario_yuan",
        "year_end_change_yuan",
        "change_yuan",
        "reserve_yuan",
        "year_end_total_yuan",
    }
)
# Ratios shown as percentages (× 100, header says %).
PCT_COLUMNS: frozenset[str] = frozenset(
    {"diff_pct", "change_pct", "not_ok_share", "share", "case_share", "fund_ratio", "pass_rate",
     "outlier_share", "share_level3", "share_level2", "share_level1", "withhold_release",
     "proc_rate", "region_proc_rate", "prev_proc_rate", "severity_rate", "region_severity_rate",
     "prev_severity_rate"}
)
# Columns rounded to 4 decimals (weights, coefficients, ratios of cost).
FINE_COLUMNS: frozenset[str] = frozenset(
    {
        "rw",
        "cv",
        "level_coefficient",
        "cost_ratio",
        "mean_cost_ratio",
        "pv_budget_yuan",
        "pv_settlement_yuan",
        "value_per_point",
        # supervision indices: rates of a few per thousand, ratios and z scores
        "index_value",
        "region_value",
        "prev_value",
        "ratio_to_region",
        "z_score",
        "indicator_value",
        "flag_value",
        "anomaly_score",
        "coefficient",
    }
)

# Chinese table headers, units included.
COLUMN_LABELS: dict[str, str] = {
    "scenario": "情景",
    "description": "说明",
    "year": "年度",
    "hospital_id": "医疗机构代码",
    "hospital_name": "医院名称",
    "level": "医院等级",
    "county": "区县",
    "n_cases": "病例数",
    "total_points": "总分值",
    "points": "分值",
    "case_points": "病例分值",
    "dip_amount_yuan": "DIP 支付（万元）",
    "ffs_fund_paid_yuan": "按项目付费统筹支付（万元）",
    "diff_yuan": "差额 DIP−按项目（万元）",
    "diff_pct": "差额率（%）",
    "prepaid_yuan": "月度预付（万元）",
    "clearing_yuan": "年终清算（万元）",
    "dip_fund_yuan": "DIP 基金总额（万元）",
    "fund_ratio": "医保支付比例（%）",
    "pv_budget_yuan": "预算点值（元/分）",
    "pv_settlement_yuan": "结算点值（元/分）",
    "dip_base_yuan": "基准情景 DIP 支付（万元）",
    "dip_scenario_yuan": "对比情景 DIP 支付（万元）",
    "change_yuan": "变化（万元）",
    "year_end_base_yuan": "基准情景年终结算额（万元）",
    "year_end_scenario_yuan": "对比情景年终结算额（万元）",
    "year_end_change_yuan": "年终结算额变化（万元）",
    "change_pct": "变化率（%）",
    "points_base": "基准情景分值",
    "points_scenario": "对比情景分值",
    "month": "月份",
    "case_id": "清单流水号",
    "group_code": "病种编码",
    "group_type": "病种类型",
    "dx_key": "诊断编码",
    "proc_key": "手术操作编码",
    "proc_class": "操作类别",
    "rw": "病种分值",
    "cv": "变异系数 CV",
    "mean_cost_yuan": "次均费用（元）",
    "mean_cost_ratio": "平均费用倍率",
    "level_coefficient": "等级系数",
    "cost_ratio": "费用倍率",
    "outlier": "费用偏差",
    "total_cost_yuan": "医疗总费用（元）",
    "fund_paid_yuan": "统筹支付（元）",
    "n_outliers": "偏差病例数",
    "n_low": "费用超低",
    "n_high": "费用超高",
    "n_extreme": "极端异常",
    "severity": "严重程度",
    "status": "质控状态",
    "rule": "入组判定",
    "reason": "质控原因",
    "reason_example": "原因示例",
    "share": "占比（%）",
    "n_not_ok": "问题病例数",
    "n_warning": "警告",
    "n_critical": "严重",
    "not_ok_share": "问题病例占比（%）",
    "pass_rate": "通过率（%）",
    "n_critical_cases": "严重问题病例数",
    "n_critical_findings": "严重问题数",
    "n_warning_findings": "警告数",
    "quality_index": "病案质量指数",
    "n_groups": "病种组数",
    "case_share": "病例占比（%）",
    "trace": "分组路径",
    "sd_cost_yuan": "费用标准差（元）",
    "median_cost_yuan": "费用中位数（元）",
    "p5_cost_yuan": "费用 P5（元）",
    "p95_cost_yuan": "费用 P95（元）",
    "mean_los_days": "平均住院日",
    "outlier_share": "偏差病例占比（%）",
    "share_level3": "三级医院占比（%）",
    "share_level2": "二级医院占比（%）",
    "share_level1": "一级医院占比（%）",
    "cv_band": "变异系数区间",
    "cmi": "CMI",
    "cost_index": "费用消耗指数",
    "time_index": "时间消耗指数",
    "baseline_yuan": "基线 DIP 金额（万元）",
    "what_if_yuan": "试算年终结算额（万元）",
    "value_per_point": "点值（元/分）",
    "change": "变化",
    "rw_a": "比较情景分值",
    "rw_b": "本情景分值",
    "n_cases_a": "比较情景病例数",
    "n_cases_b": "本情景病例数",
    "adjusted_by": "专家调整",
    "points_change": "分值变化",
    "dip_change_yuan": "DIP 支付变化（万元）",
    "adjustment_id": "调整编号",
    "action": "调整类型",
    "target": "对象",
    "author": "作者",
    "applied": "已应用",
    "adjustment_reason": "调整理由",
    "reasons": "特例单议理由",
    "decision": "评议结果",
    "paid_as_special": "按特例支付",
    "points_ordinary": "病种分值",
    "points_special": "特例分值",
    "cap_note": "说明",
    "insurance_type": "险种",
    "dx_name": "诊断名称",
    "p25_cost_yuan": "费用 P25（元）",
    "p75_cost_yuan": "费用 P75（元）",
    "kind": "口径",
    "aux_type": "辅助分型",
    "aux_coefficient": "辅助分型系数",
    "n_primary_cases": "基层病种病例数",
    "n_tcm_cases": "中医优势病种病例数",
    "tcm_points": "中医优势病种分值",
    "pool": "基金池",
    "reserve_yuan": "调剂金（万元）",
    "year_end_total_yuan": "年终结算合计（万元）",
    "quality_rule": "质控规则",
    "file": "情景文件",
    "label_zh": "问题",
    "n_findings": "问题数",
    "n_hospitals": "医院数",
    "field": "字段",
    "value": "填写值",
    "detail": "问题明细",
    # 监管与考核 (dip_sim/dashboard/pages/supervision.py)
    "n_base": "病例数",
    "n_flagged": "标记病例数",
    "index_value": "取值",
    "index_name": "指数",
    "region_value": "全市",
    "ratio_to_region": "与全市之比",
    "z_score": "偏离评分 z",
    "prev_value": "上年取值",
    "rank": "排名",
    "rank_of": "排名 / 医院数",
    "score": "考核得分",
    "n_indicators": "指标数",
    "coefficient": "考核系数",
    "withhold_release": "保证金返还比例（%）",
    "indicator_label": "指标",
    "measure": "取值口径",
    "weight": "权重",
    "full_at": "满分点",
    "zero_at": "零分点",
    "indicator_value": "指标值",
    "related_case_id": "关联病例",
    "related_hospital_id": "关联病例医院",
    "flag_value": "标记值",
    "anomaly_score": "异常评分",
    "anomaly_rank": "异常排名",
    "anomaly_reasons": "突出的特征",
    "dx3": "诊断类目",
    "mean_rw": "平均分值",
    "region_mean_rw": "全市平均分值",
    "prev_mean_rw": "上年平均分值",
    "proc_rate": "手术操作编码率（%）",
    "region_proc_rate": "全市手术操作编码率（%）",
    "prev_proc_rate": "上年手术操作编码率（%）",
    "severity_rate": "严重并发症编码率（%）",
    "region_severity_rate": "全市严重并发症编码率（%）",
    "prev_severity_rate": "上年严重并发症编码率（%）",
    "excess_proc_cases": "超出的手术操作病例",
    "excess_severity_cases": "超出的严重并发症病例",
}


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def fmt_yuan(value: Any, digits: int = 2) -> str:
    """An amount in 元, shown in 万元 from 10,000 元 up (``1,234.57 万元`` / ``980.00 元``)."""
    if _missing(value):
        return "—"
    amount = float(value)
    if abs(amount) >= WAN:
        return f"{amount / WAN:,.{digits}f} 万元"
    return f"{amount:,.{digits}f} 元"


def fmt_signed_yuan(value: Any, digits: int = 2) -> str:
    """Like :func:`fmt_yuan` with an explicit sign (``+12.00 万元``), for differences."""
    if _missing(value):
        return "—"
    text = fmt_yuan(value, digits)
    return text if float(value) < 0 else f"+{text}"


def fmt_point_value(value: Any) -> str:
    """A point value (元 per point) with 4 decimals: ``9.5000 元/分``."""
    if _missing(value):
        return "—"
    return f"{float(value):,.4f} 元/分"


def fmt_number(value: Any, digits: int = 0) -> str:
    """A count or a number of points with thousands separators."""
    if _missing(value):
        return "—"
    return f"{float(value):,.{digits}f}"


def fmt_pct(ratio: Any, digits: int = 2, signed: bool = False) -> str:
    """A ratio shown as a percentage (``0.0512`` → ``5.12%``; ``+5.12%`` when ``signed``)."""
    if _missing(ratio):
        return "—"
    sign = "+" if signed else ""
    return f"{float(ratio) * 100:{sign}.{digits}f}%"


def fmt_delta_pct(ratio: Any, digits: int = 2) -> str | None:
    """A signed percentage for ``st.metric(delta=...)``; None (no delta) when missing."""
    return None if _missing(ratio) else fmt_pct(ratio, digits, signed=True)


def label(mapping: Mapping[Any, str], code: Any) -> str:
    """The Chinese name of ``code`` in ``mapping``; the code itself when it has none."""
    if _missing(code):
        return "—"
    if code in mapping:
        return mapping[code]
    try:  # hospital levels may come back as floats or strings
        return mapping[int(code)]  # type: ignore[index]
    except (KeyError, TypeError, ValueError):
        return str(code)


def level_label(level: Any) -> str:
    """The Chinese name of a hospital level (3 → 三级)."""
    return label(LEVEL_LABELS, level)


def for_display(df: pd.DataFrame, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """A copy of ``df`` ready for ``st.dataframe``: chosen columns, Chinese headers and codes.

    Amounts in :data:`WAN_COLUMNS` are scaled to 万元, ratios in :data:`PCT_COLUMNS` to
    percent, all numbers rounded; coded columns are replaced by their Chinese names. Columns
    are kept numeric so that the table still sorts by value.
    """
    cols = list(df.columns if columns is None else columns)
    out = df.loc[:, cols].copy()
    for col in cols:
        if col in CODE_LABELS:
            mapping = CODE_LABELS[col]
            out[col] = [label(mapping, v) for v in out[col]]
        elif col in WAN_COLUMNS:
            out[col] = (pd.to_numeric(out[col]) / WAN).round(2)
        elif col in PCT_COLUMNS:
            out[col] = (pd.to_numeric(out[col]) * 100).round(2)
        elif col in FINE_COLUMNS:
            out[col] = pd.to_numeric(out[col]).round(4)
        elif col.endswith("_yuan") or col.endswith("points"):
            out[col] = pd.to_numeric(out[col]).round(2)
    return out.rename(columns={c: COLUMN_LABELS.get(c, c) for c in cols})
