"""数据质量: the quality verdict of every input case, by severity, status and hospital, and
each hospital's 病案质量指数 with its trend."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dip_sim.dashboard import data, quality_data
from dip_sim.dashboard import format as fmt
from dip_sim.dashboard.pages import common

SUMMARY_COLUMNS = ["severity", "status", "n_cases", "share", "reason_example"]
HOSPITAL_COLUMNS = [
    "hospital_name",
    "level",
    "n_cases",
    "n_not_ok",
    "n_warning",
    "n_critical",
    "not_ok_share",
]


RULE_COLUMNS = ["quality_rule", "label_zh", "severity", "n_findings", "n_cases", "n_hospitals"]
INDEX_COLUMNS = [
    "hospital_name",
    "level",
    "n_cases",
    "pass_rate",
    "n_critical_cases",
    "n_critical_findings",
    "n_warning_findings",
    "quality_index",
]


@common.guarded
def render() -> None:
    """Draw the 数据质量 page."""
    st.title("数据质量")
    common.hospital_mode_note()
    years = quality_data.quality_years()
    if not years:
        st.info("没有病例质控结果。")
        return
    options: list[int | None] = [None, *years]
    year = st.selectbox(
        "年度",
        options,
        format_func=lambda y: "全部年度" if y is None else str(y),
        key="quality_year",
    )

    severity = quality_data.quality_severity(year).set_index("severity")
    cols = st.columns(4)
    cols[0].metric("病例总数", fmt.fmt_number(severity["n_cases"].sum()))
    for col, code in zip(cols[1:], ("ok", "warning", "critical"), strict=True):
        n = severity["n_cases"].get(code, 0)
        share = severity["share"].get(code, 0.0)
        col.metric(fmt.SEVERITY_LABELS[code], fmt.fmt_number(n), help=f"占 {fmt.fmt_pct(share)}")

    st.subheader("按严重程度与状态")
    common.show_table(quality_data.quality_summary(year), SUMMARY_COLUMNS)

    try:
        rules = quality_data.findings_by_rule(year)
    except data.DataUnavailable:  # no per-finding table (a results-only warehouse)
        rules = None
    if rules is not None and not rules.empty:
        st.subheader("按质控规则")
        common.show_table(rules, RULE_COLUMNS)
        st.caption("每条规则的问题数、涉及病例数与医院数；规则目录见 data/reference/quality_rules.csv，"
                   "逐条明细见 dip-sim quality-report。")

    st.subheader("各医院问题病例占比")
    by_hospital = quality_data.quality_by_hospital(year)
    if by_hospital.empty:
        st.info("没有按医院的质控结果。")
        return
    common.show_table(by_hospital, HOSPITAL_COLUMNS)
    st.caption("问题病例：状态不为 ok 的病例（警告与严重）。")
    _quality_index(year or years[0])


def _quality_index(year: int) -> None:
    """The 病案质量指数 of each hospital in ``year``, and its trend over the years."""
    st.subheader(f"病案质量指数（{year} 年）")
    try:
        index = quality_data.quality_index(year)
        trend = quality_data.quality_index(None)
    except data.DataUnavailable:
        st.info("没有逐条质控结果（quality_findings）：请运行 dip-sim quality。")
        return
    if index.empty:
        st.info("该年度没有按医院的质控结果。")
        return
    common.show_table(index, INDEX_COLUMNS)
    st.caption("病案质量指数 = 100 − (严重问题数 × 权重 + 警告数 × 权重) ÷ 病例数 × 100，最低 0；"
               "权重见参数 quality.index_weight_critical / quality.index_weight_warning。"
               "通过率：没有任何问题的病例占比。各医院明细可用 dip-sim quality-report 导出 Excel。")
    if trend["year"].nunique() > 1:
        st.subheader("病案质量指数历年趋势")
        names = trend["hospital_name"].fillna(trend["hospital_id"])
        shown = trend.assign(hospital=names, year=trend["year"].astype(str))  # years as labels
        # the axis spans the values (they sit near 100); a hospital's name on hover (a legend
        # of every hospital would crowd the chart out), its figures in the table below
        st.altair_chart(alt.Chart(shown).mark_line(point=True).encode(
            x=alt.X("year:O", title="年度", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("quality_index:Q", title="病案质量指数", scale=alt.Scale(zero=False)),
            color=alt.Color("hospital:N", legend=None),
            tooltip=[alt.Tooltip("hospital:N", title="医院"), alt.Tooltip("year:O", title="年度"),
                     alt.Tooltip("quality_index:Q", title="病案质量指数", format=".2f")],
        ).properties(height=320))
        if shown["hospital"].nunique() > 1:
            st.caption("每条线为一家医院（悬停查看名称）；各年数值见下表。")
        chart = shown.pivot_table(index="year", columns="hospital", values="quality_index")
        st.dataframe(chart.round(2), column_config={"year": "年度"})  # the chart's figures


if __name__ == "__main__":
    render()
