"""预测: where the point value is heading. Each simulated scenario carried forward
``projection.years`` years (docs/rules.md#点值预测): the settlement point value per year and
scenario against the risk line, each scenario's risk sentence, the yearly figures, and the
hospitals driving the points growth; the whole as an Excel workbook."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dip_sim.dashboard import data
from dip_sim.dashboard import format as fmt
from dip_sim.dashboard.pages import common

HOSPITAL_COLUMNS = ["hospital_name", "level", "points_now", "points_last", "points_change",
                    "growth_share", "amount_now_yuan", "amount_last_yuan"]
YEAR_COLUMNS = {"year": "年度", "pv_settlement_yuan": "结算点值（元/分）", "pv_share": "相对模拟年度",
                "pv_budget_yuan": "预算点值（元/分）", "dip_fund_yuan": "DIP 基金（元）",
                "total_points": "总分值", "n_cases": "病例数"}


def point_value_chart(years: pd.DataFrame, scenarios: list[str]) -> alt.Chart:
    """Lines: the settlement point value per year and scenario, the risk line of each dashed."""
    lines = (
        alt.Chart(years)
        .mark_line(point=True)
        .encode(
            x=alt.X("year:O", title="年度"),
            y=alt.Y("pv_settlement_yuan:Q", title="结算点值（元/分）"),
            color=alt.Color("scenario:N", title="情景", sort=scenarios,
                            legend=alt.Legend(orient="top")),
            tooltip=[alt.Tooltip("scenario:N", title="情景"), alt.Tooltip("year:O", title="年度"),
                     alt.Tooltip("pv_settlement_yuan:Q", title="结算点值", format=",.4f"),
                     alt.Tooltip("pv_share:Q", title="相对模拟年度", format=".1%")],
        )
    )
    risk = years[years["years_ahead"] == 0][["scenario", "pv_settlement_yuan", "risk_share"]]
    risk = risk.assign(risk_yuan=risk["pv_settlement_yuan"] * risk["risk_share"])
    rules = (
        alt.Chart(risk)
        .mark_rule(strokeDash=[6, 4])
        .encode(y="risk_yuan:Q", color=alt.Color("scenario:N", sort=scenarios),
                tooltip=[alt.Tooltip("scenario:N", title="情景"),
                         alt.Tooltip("risk_yuan:Q", title="风险线（元/分）", format=",.4f")])
    )
    return (lines + rules).properties(height=320)


@common.guarded
def render() -> None:
    """Draw the 预测 page."""
    st.title("点值预测")
    scenario_table = data.scenarios()
    if scenario_table.empty:
        raise data.DataUnavailable(data.NO_RESULTS_MESSAGE)
    names = scenario_table["scenario"].tolist()
    chosen = st.multiselect("情景", names, default=names[: min(4, len(names))],
                            key="forecast_scenarios",
                            help="各情景按其参数（projection.*）外推；"
                                 "新的假设写入情景文件后运行 dip-sim simulate")
    if not chosen:
        st.info("请选择至少一个情景。")
        return
    years = data.projection_years(chosen)
    if years.empty:
        raise data.DataUnavailable("所选情景没有点值预测：请重新运行 dip-sim simulate"
                                   "（模拟时一并预测）。")
    risk_shares = data.projection_risk_shares(chosen)
    years = years.assign(risk_share=years["scenario"].map(risk_shares))
    st.altair_chart(point_value_chart(years, chosen))
    st.caption("实线为各情景的结算点值（DIP 基金 ÷ 医保支付比例 ÷ 总分值）；虚线为其风险线"
               "（模拟年度结算点值 × projection.risk_share）。")
    for scenario, text in data.projection_texts(chosen).items():
        below = bool(years[(years["scenario"] == scenario)]["below_risk_line"].any())
        (st.warning if below else st.success)(text)

    st.subheader("逐年预测")
    for scenario in chosen:
        rows = years[years["scenario"] == scenario][list(YEAR_COLUMNS)]
        with st.expander(f"{scenario}", expanded=scenario == chosen[0]):
            shown = rows.assign(pv_share=rows["pv_share"].map(fmt.fmt_pct),
                                pv_settlement_yuan=rows["pv_settlement_yuan"].round(4),
                                pv_budget_yuan=rows["pv_budget_yuan"].round(4),
                                dip_fund_yuan=rows["dip_fund_yuan"].round(2),
                                total_points=rows["total_points"].round(1),
                                n_cases=rows["n_cases"].round(0))
            amounts = {YEAR_COLUMNS[c]: st.column_config.NumberColumn(format="localized")
                       for c in ("dip_fund_yuan", "total_points", "n_cases")}
            st.dataframe(shown.rename(columns=YEAR_COLUMNS), hide_index=True,
                         column_config=amounts)

    st.subheader("各医院分值增长")
    scenario = st.selectbox("情景", chosen, key="forecast_hospitals")
    hospitals = data.projection_hospitals(scenario)
    common.show_table(hospitals, HOSPITAL_COLUMNS, helps={
        "growth_share": "该医院分值增量占全市分值增量的比例：分值增长主要来自哪些医院"})
    last = int(years["year"].max())
    st.caption(f"“本年”为模拟年度，“末年”为预测的最后一年（{last} 年）；DIP 金额 = 分值 × 该年结算点值 × "
               "医保支付比例，各医院之和等于该年 DIP 基金。")
    st.download_button("下载预测（Excel）", data.projection_xlsx(chosen),
                       file_name="点值预测.xlsx", key="forecast_xlsx",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


if __name__ == "__main__":
    render()
