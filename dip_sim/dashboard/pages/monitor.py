"""运行监测: the simulation year to date (docs/rules.md#运行监测). The running estimate of the
year's settlement point value with its range against the budget value, the catalogue points
month by month against the same months of the history years, each hospital's points share
against its share of the budget indicator with its outlier and ungrouped rates and its growth
against its history pace, and the alerts. A month picked other than the stored one is computed
on the baseline without writing."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dip_sim.dashboard import data
from dip_sim.dashboard import format as fmt
from dip_sim.dashboard.pages import common
from dip_sim.reports.monitoring import alert_lines

HOSPITAL_COLUMNS = ["hospital_name", "n_cases", "points_to_date", "points_share",
                    "indicator_share", "outlier_rate", "ungrouped_rate", "growth_to_date",
                    "history_pace", "growth_alert"]


def months_chart(months: pd.DataFrame) -> alt.Chart:
    """Bars: the year's catalogue points per month monitored; line: the history's mean."""
    long = pd.concat([
        pd.DataFrame({"month": months["month"], "series": "本年", "rw": months["rw"]}),
        pd.DataFrame({"month": months["month"], "series": "历史同月平均",
                      "rw": months["history_rw"]}),
    ], ignore_index=True)
    bars = alt.Chart(long[long["series"] == "本年"]).mark_bar(opacity=0.7).encode(
        x=alt.X("month:O", title="月份"), y=alt.Y("rw:Q", title="目录分值"),
        tooltip=[alt.Tooltip("month:O", title="月份"), alt.Tooltip("rw:Q", title="本年", format=",.0f")])
    line = alt.Chart(long[long["series"] == "历史同月平均"]).mark_line(point=True, color="#d62728").encode(
        x="month:O", y="rw:Q",
        tooltip=[alt.Tooltip("month:O", title="月份"),
                 alt.Tooltip("rw:Q", title="历史同月平均", format=",.0f")])
    return (bars + line).properties(height=280)


@common.guarded
def render() -> None:
    """Draw the 运行监测 page."""
    st.title("运行监测")
    scenarios = data.scenarios()
    baseline = scenarios[scenarios["scenario"] == data.BASELINE]
    if baseline.empty:
        raise data.DataUnavailable(data.NO_RESULTS_MESSAGE)
    year = int(baseline["year"].iloc[0])
    stored = data.monitoring(year)
    last = int(stored["点值估计"]["through_month"].iloc[0])
    month = st.selectbox("截至月份", list(range(1, last + 1)), index=last - 1,
                         key="monitor_month", format_func=lambda m: f"{year} 年 {m} 月",
                         help="只计出院月份不晚于此月的病例（基线情景）；默认为已载入的最后一个月")
    tables = stored if month == last else data.monitoring(year, month)
    e = tables["点值估计"].iloc[0]
    cols = st.columns(4)
    cols[0].metric("结算点值估计", fmt.fmt_point_value(e["pv_estimate_yuan"]),
                   help=f"区间 {fmt.fmt_point_value(e['pv_low_yuan'])} – "
                        f"{fmt.fmt_point_value(e['pv_high_yuan'])}（按各历史年度的季节性）")
    cols[1].metric("预算点值", fmt.fmt_point_value(e["pv_budget_yuan"]))
    cols[2].metric("偏离预算点值", fmt.fmt_pct(e["pv_gap"], signed=True))
    cols[3].metric("年初至今病例", fmt.fmt_number(e["n_cases"]))
    warned = alert_lines(tables)
    if not warned:
        st.success("截至本月无预警。")
    for line in warned:
        st.warning(line)
    st.subheader("逐月目录分值与历史同月")
    st.altair_chart(months_chart(tables["逐月"][tables["逐月"]["monitored"]]))
    st.caption(f"全年分值估计 = 年初至今分值 ÷ 历史年度截至同月的分值占比（加权 "
               f"{fmt.fmt_pct(e['history_share'])}）；"
               "结算点值估计 = DIP 基金 ÷ 医保支付比例 ÷ 全年分值估计。")
    st.subheader("各医院进度")
    common.show_table(tables["医院"], HOSPITAL_COLUMNS, table_name="monitor_hospitals")


if __name__ == "__main__":
    render()
