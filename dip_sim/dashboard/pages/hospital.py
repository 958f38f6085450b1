"""医院: one hospital's settlement, its DIP groups, outlier cases and monthly prepayments."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dip_sim.dashboard import data, quality_data
from dip_sim.dashboard import format as fmt
from dip_sim.dashboard.pages import common, feedback_forms

GROUP_COLUMNS = [
    "group_code",
    "group_type",
    "n_cases",
    "points",
    "mean_cost_yuan",
    "mean_cost_ratio",
    "n_low",
    "n_high",
    "n_extreme",
    "dip_amount_yuan",
    "ffs_fund_paid_yuan",
    "diff_yuan",
    "diff_pct",
]
OUTLIER_COLUMNS = [
    "case_id",
    "month",
    "group_code",
    "group_type",
    "outlier",
    "cost_ratio",
    "total_cost_yuan",
    "fund_paid_yuan",
    "rw",
    "level_coefficient",
    "case_points",
]
# the case list: the outlier columns and the auxiliary sub-type (辅助分型) with its coefficient
CASE_COLUMNS = [*OUTLIER_COLUMNS[:-1], "aux_type", "aux_coefficient", "case_points"]
MONTHLY_COLUMNS = ["month", "n_cases", "points", "prepaid_yuan", "ffs_fund_paid_yuan"]
SPECIAL_COLUMNS = ["case_id", "group_code", "reasons", "decision", "paid_as_special",
                   "points_ordinary", "points_special", "cap_note"]


def monthly_chart(monthly: pd.DataFrame) -> alt.LayerChart:
    """Bars of the monthly prepayment and a line of FFS fund paid, in 万元."""
    chart_df = pd.DataFrame(
        {
            "month": monthly["month"].astype(int),
            "prepaid_wan": monthly["prepaid_yuan"] / fmt.WAN,
            "ffs_wan": monthly["ffs_fund_paid_yuan"] / fmt.WAN,
        }
    )
    base = alt.Chart(chart_df).encode(x=alt.X("month:O", title="月份"))
    bars = base.mark_bar(color="#1f77b4", opacity=0.8).encode(
        y=alt.Y("prepaid_wan:Q", title="金额（万元）"),
        tooltip=[
            alt.Tooltip("month:O", title="月份"),
            alt.Tooltip("prepaid_wan:Q", title="月度预付（万元）", format=",.2f"),
        ],
    )
    line = base.mark_line(color="#ff7f0e", point=True).encode(
        y="ffs_wan:Q",
        tooltip=[
            alt.Tooltip("month:O", title="月份"),
            alt.Tooltip("ffs_wan:Q", title="按项目付费统筹支付（万元）", format=",.2f"),
        ],
    )
    return alt.layer(bars, line).properties(height=280)


@common.guarded
def render() -> None:
    """Draw the 医院 page."""
    st.title("医院")
    common.hospital_mode_note()
    hospitals = data.hospitals()
    if hospitals.empty:
        if data.hospital_scope():
            st.warning(f"未找到医院 {data.hospital_scope()}：请检查 DIP_SIM_HOSPITAL_ID。")
        else:
            st.info("数据仓库中没有医院信息。")
        return
    scenario_table = data.scenarios()
    left, right = st.columns(2)
    with left:
        scenario = common.scenario_select("hospital_scenario", scenarios=scenario_table)
    labels = common.hospital_labels(hospitals)
    with right:
        hospital_id = st.selectbox("医院", list(labels), format_func=labels.get, key="hospital_id")
    common.run_caption(scenario, scenario_table)
    if hospital_id is None:
        return

    settlement = data.hospital_settlement(scenario, hospital_id)
    name = labels[hospital_id]
    st.subheader(f"{name} · 年度结算")
    if settlement.empty:
        st.info("该医院在此情景下没有入组病例。")
        return
    row = settlement.iloc[0]
    cols = st.columns(4)
    cols[0].metric("病例数", fmt.fmt_number(row["n_cases"]))
    cols[1].metric("总分值", fmt.fmt_number(row["total_points"], 2))
    cols[2].metric("DIP 支付", fmt.fmt_yuan(row["dip_amount_yuan"]))
    cols[3].metric("按项目付费统筹支付", fmt.fmt_yuan(row["ffs_fund_paid_yuan"]))
    cols = st.columns(4)
    cols[0].metric(
        "差额（DIP − 按项目付费）",
        fmt.fmt_signed_yuan(row["diff_yuan"]),
        delta=fmt.fmt_delta_pct(row["diff_pct"]),
    )
    cols[1].metric("月度预付合计", fmt.fmt_yuan(row["prepaid_yuan"]))
    cols[2].metric("年终清算", fmt.fmt_signed_yuan(row["clearing_yuan"]),
                   help="年终结算额 − 月度预付（净额）− 年初预拨")
    cols[3].metric("医院等级", fmt.level_label(row["level"]))
    _indices(scenario, hospital_id)
    _budget_indicator(scenario, hospital_id)
    _statement_download(scenario, hospital_id)

    insurance = _insurance_select(scenario, hospital_id)
    groups = data.hospital_groups(scenario, hospital_id, insurance)
    n_outliers = int(groups["n_outliers"].sum()) if not groups.empty else 0
    year = int(scenario_table.loc[scenario_table["scenario"] == scenario, "year"].iloc[0])
    findings = _findings_by_rule(hospital_id, year)
    titles = {"groups": f"病种（{len(groups)}）", "cases": "病例",
              "outliers": f"费用偏差病例（{n_outliers}）", "not_grouped": "未入组病例",
              "quality": f"质控问题（{int(findings['n_findings'].sum())}）",
              "monthly": "月度预付", "special": "特例单议", "year_end": "年终结算"}
    if findings.empty:  # no finding in the year, or no quality results: no tab
        del titles["quality"]
    tabs = dict(zip(titles, st.tabs(list(titles.values())), strict=True))
    with tabs["groups"]:
        common.show_table_or_note(groups, GROUP_COLUMNS, "没有入组病例。")
    with tabs["cases"]:
        search = st.text_input("清单流水号或病种编码包含", key="hospital_case_search",
                               placeholder="例如 K35")
        common.show_table_or_note(
            data.hospital_cases(scenario, hospital_id, search, insurance_type=insurance),
            CASE_COLUMNS,
            "没有符合条件的入组病例。",
            f"按清单流水号排序，最多显示 {data.CASE_LIST_LIMIT} 例。")
    with tabs["not_grouped"]:
        common.show_table_or_note(
            data.hospital_not_grouped(scenario, hospital_id), ["case_id", "rule", "status", "reason"],
            "本年度没有未入组病例。", "未入组病例不参与 DIP 分值与基金分配；原因见质控结果。")
    if "quality" in tabs:
        with tabs["quality"]:
            _quality_findings(hospital_id, year, findings)
    with tabs["outliers"]:
        cases = data.hospital_outlier_cases(scenario, hospital_id, insurance_type=insurance)
        shown = (f"共 {n_outliers} 例，按费用倍率从高到低显示前 {len(cases)} 例。"
                 if n_outliers > len(cases) else None)
        common.show_table_or_note(cases, OUTLIER_COLUMNS, "没有费用偏差病例。", shown)
    with tabs["monthly"]:
        monthly = data.hospital_monthly(scenario, hospital_id)
        if monthly.empty:
            st.info("没有月度数据。")
        elif common.nothing_to_draw(monthly["prepaid_yuan"], monthly["ffs_fund_paid_yuan"]):
            st.info("各月预付与按项目付费统筹支付均为 0，不作图。")
        else:
            st.altair_chart(monthly_chart(monthly))
            st.caption("柱：月度预付；折线：按项目付费统筹支付（万元）。")
            common.show_table(monthly, MONTHLY_COLUMNS)
    with tabs["special"]:
        common.show_table_or_note(
            data.hospital_special_cases(scenario, hospital_id), SPECIAL_COLUMNS,
            "没有特例单议候选或评议病例。",
            "候选：费用极端异常、住院时间过长、长时间重症监护、新技术；评议通过且在上限内的按特例分值支付。")
    with tabs["year_end"]:
        _year_end(scenario, hospital_id)
    feedback_forms.case_objection_form(scenario, hospital_id)


CMI_HELP = ("病例组合指数，以全市平均病例为 1.00：本院入组病例的平均病种分值 ÷ 全市入组病例的平均病种分值。"
            "1.00 以上表示本院病例比全市平均更复杂、资源消耗更高。分值尺度上本院为 {cmi}，全市为 {region}"
            "（病种分值 = 组均费用 ÷ 全部病例均费用 × 放大倍数 points.scale，历史平均病例约为 1000 分）。")
FINDING_RULE_COLUMNS = ["quality_rule", "label_zh", "severity", "n_findings", "n_cases"]
FINDING_COLUMNS = ["case_id", "quality_rule", "severity", "field", "value", "label_zh", "detail"]


def _indices(scenario: str, hospital_id: str) -> None:
    """The hospital's CMI and consumption indices beside the region's (when computed)."""
    try:
        indices = data.hospital_indices(scenario, hospital_id)
    except data.DataUnavailable:  # results of an earlier version
        return
    if indices.empty:
        return
    r = indices.iloc[0]
    cols = st.columns(4)
    cols[0].metric("CMI（全市平均 = 1.00）", fmt.fmt_number(r["cmi_relative"], 2),
                   delta=fmt.fmt_delta_pct(r["cmi_relative"] - 1), delta_color="off",
                   help=CMI_HELP.format(cmi=fmt.fmt_number(r["cmi"], 2),
                                        region=fmt.fmt_number(r["region_cmi"], 2)))
    cols[1].metric("CMI（分值）", fmt.fmt_number(r["cmi"], 2),
                   help="入组病例的病种分值之和 ÷ 病例数（分值尺度：历史平均病例约为 points.scale 分）；"
                        f"全市 {fmt.fmt_number(r['region_cmi'], 2)}")
    cols[2].metric("费用消耗指数", fmt.fmt_number(r["cost_index"], 4),
                   delta=fmt.fmt_delta_pct(r["cost_index"] - 1), delta_color="inverse",
                   help="全市为 1：各病例费用 ÷ 全市该病种同年次均费用，再取平均")
    cols[3].metric("时间消耗指数", fmt.fmt_number(r["time_index"], 4),
                   delta=fmt.fmt_delta_pct(r["time_index"] - 1), delta_color="inverse",
                   help="全市为 1：各病例住院日 ÷ 全市该病种同年平均住院日，再取平均")


# how each indicator method is explained to the hospital (docs/rules.md 医院年度支付预算指标)
INDICATOR_METHOD_NOTES = {
    "expected_points": "预期分值法：本院历史各病种加权年均病例数 × 病种分值 × 医院系数，按病例量趋势调整后"
                       " × 预算点值 × 医保支付比例，再按比例缩放使各院指标之和等于全市 DIP 基金。",
    "fund_share": "历史统筹支付占比法：按本院历史入组病例统筹支付（加权年均）占全市的比例分配全市 DIP 基金。",
    "points_share": "历史分值占比法：按本院历史入组病例病种分值（加权年均）占全市的比例分配全市 DIP 基金。",
}
INDICATOR_BASIS_NOTES = {
    "level_average": "本院历史年度没有入组病例，测算基数取同等级医院的平均值。",
    "zero": "本院历史年度没有入组病例，测算基数为 0，年内按实际分值预付、年终清算。",
}


def indicator_progress(indicator: float, progress: pd.DataFrame, month: int) -> dict[str, float]:
    """The prepayments through ``month`` against the annual indicator: prepaid (net, running
    total), the projected year-end amount (the months' gross prepayments, points × 预算点值 ×
    R, × 12 ÷ month) and the projection's difference from the indicator and its ratio."""
    upto = progress[progress["month"] <= month]
    prepaid = float(upto["prepaid_yuan"].sum())
    projected = float(upto["gross_prepay_yuan"].sum()) * 12 / month
    return {"prepaid_yuan": prepaid, "projected_yuan": projected,
            "diff_yuan": projected - indicator,
            "ratio": projected / indicator if indicator else float("nan")}


def _budget_indicator(scenario: str, hospital_id: str) -> None:
    """年度支付预算指标: the indicator, the prepayments so far and the year-end projection."""
    try:
        rows = data.hospital_budget_indicator(scenario, hospital_id)
        progress = data.hospital_prepayment_progress(scenario, hospital_id)
    except data.DataUnavailable:  # results of a version without the indicator
        st.caption("年度支付预算指标：此结果由早期版本生成，重新模拟后显示。")
        return
    if rows.empty:
        st.caption("年度支付预算指标：此情景的结果中没有本院指标，重新模拟后显示。")
        return
    r = rows.iloc[0]
    indicator = float(r["indicator_yuan"])
    st.markdown("**年度支付预算指标**")
    months = [int(m) for m in progress["month"]]
    month = st.selectbox("截至月份", months, index=len(months) - 1, key="indicator_month",
                         format_func=lambda m: f"{m} 月") if months else None
    cols = st.columns(4)
    cols[0].metric("年度支付预算指标", fmt.fmt_yuan(indicator),
                   help=f"占全市 DIP 基金 {fmt.fmt_yuan(r['dip_fund_yuan'])} 的 "
                        f"{fmt.fmt_pct(r['share'])}")
    if month is None:
        st.caption("本院本年度没有月度预付。")
    else:
        p = indicator_progress(indicator, progress, month)
        cols[1].metric(f"截至 {month} 月已预付", fmt.fmt_yuan(p["prepaid_yuan"]),
                       help="月度预付（净额：扣除质量保证金与审核扣款）之和")
        cols[2].metric("预计全年", fmt.fmt_yuan(p["projected_yuan"]),
                       delta=fmt.fmt_delta_pct(p["ratio"] - 1) if indicator else None,
                       delta_color="off",
                       help=f"截至 {month} 月的月度应预付额（分值 × 预算点值 × 医保支付比例）× 12 ÷ {month}；"
                            "变化为较指标")
        cols[3].metric("预计全年 − 指标", fmt.fmt_signed_yuan(p["diff_yuan"]))
    note = INDICATOR_METHOD_NOTES.get(r["method"], "")
    st.caption(note + INDICATOR_BASIS_NOTES.get(r["basis"], ""))
    year_end = data.hospital_year_end(scenario, hospital_id)
    if not year_end.empty:
        amount = float(year_end.iloc[0]["year_end_amount_yuan"])
        st.caption(f"模拟的年终结算额 {fmt.fmt_yuan(amount)}，较指标 "
                   f"{fmt.fmt_signed_yuan(amount - indicator)}：预计全年按预算点值折算，"
                   "年终按结算点值清算，两者之差主要来自点值的差异。")


def _findings_by_rule(hospital_id: str, year: int) -> pd.DataFrame:
    """The hospital's quality findings of ``year`` per rule; empty without quality results."""
    try:
        return quality_data.hospital_findings_by_rule(hospital_id, year)
    except data.DataUnavailable:  # a results-only warehouse: no quality_findings
        return pd.DataFrame(columns=FINDING_RULE_COLUMNS)


def _quality_findings(hospital_id: str, year: int, by_rule: pd.DataFrame) -> None:
    """The 质控问题 tab: the year's findings per rule, then the first of them one by one."""
    st.caption(f"{year} 年本院病例的病案质控问题，按规则（严重问题使病例不能入组）。")
    common.show_table(by_rule, FINDING_RULE_COLUMNS)
    findings = quality_data.hospital_findings(hospital_id, year)
    total = int(by_rule["n_findings"].sum())
    st.caption(f"逐条问题：共 {total} 条" + (f"，显示前 {len(findings)} 条（严重问题在前）。"
                                         if total > len(findings) else "。"))
    common.show_table(findings, FINDING_COLUMNS)


def _insurance_select(scenario: str, hospital_id: str) -> str | None:
    """The 险种 filter of the group, case and outlier tabs: None for all (and no widget when
    the warehouse has no case table to tell the types by)."""
    try:
        types = data.hospital_insurance_types(scenario, hospital_id)
    except data.DataUnavailable:  # a results-only warehouse
        return None
    if not types:
        return None
    choice = st.selectbox(
        "险种", ["", *types], key="hospital_insurance",
        format_func=lambda t: fmt.label(fmt.INSURANCE_LABELS, t) if t else "全部",
        help="病种、病例与费用偏差病例三个标签页只列该险种的病例")
    return choice or None


def _year_end(scenario: str, hospital_id: str) -> None:
    """The year-end settlement, step by step, from the DIP amount to the clearing."""
    rows = data.hospital_year_end(scenario, hospital_id)
    if rows.empty:
        st.info("没有年终结算结果。")
        return
    r = rows.iloc[0]
    steps = [("DIP 金额（分值 × 结算点值 × 医保支付比例）", r["dip_amount_yuan"]),
             (f"考核系数 {r['assessment_coefficient']:.4f} 后，扣除审核扣款",
              r["assessed_amount_yuan"]),
             ("其中：结余中医院留用的部分（已含在上一行，不另计）", r["surplus_retained_yuan"]),
             ("结余收回（入调剂金）", -r["clawback_yuan"]),
             ("合理超支分担（调剂金支付）", r["overspend_shared_yuan"]),
             ("未返还的质量保证金", -(r["withheld_yuan"] - r["withhold_released_yuan"])),
             ("年终结算额", r["year_end_amount_yuan"]),
             ("已付月度预付（净额）", -r["prepaid_yuan"]),
             ("年初预拨扣回", -r["advance_yuan"]),
             ("年终清算额", r["clearing_yuan"])]
    st.table({"项目": [name for name, _ in steps],
              "金额": [fmt.fmt_signed_yuan(v) if i not in (0, 1, 2, 6) else fmt.fmt_yuan(v)
                       for i, (_, v) in enumerate(steps)]})
    st.caption(f"审核扣款 {fmt.fmt_yuan(r['deductions_yuan'])}；预留质量保证金 "
               f"{fmt.fmt_yuan(r['withheld_yuan'])}，返还 {fmt.fmt_yuan(r['withhold_released_yuan'])}。")


def _statement_download(scenario: str, hospital_id: str) -> None:
    """The hospital's Excel statement: made on request, then offered for download."""
    common.excel_download(lambda: data.hospital_statement_xlsx(scenario, hospital_id),
                          f"statement_{scenario}_{hospital_id}", "生成 Excel 结算单",
                          "hospital_statement", "下载结算单（.xlsx）",
                          f"结算单_{hospital_id}_{scenario}.xlsx", "hospital_statement_download",
                          "正在生成结算单…")


if __name__ == "__main__":
    render()
