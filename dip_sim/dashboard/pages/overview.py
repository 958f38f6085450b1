"""总览: the point values of a scenario and DIP payment against fee-for-service per hospital."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dip_sim.dashboard import data
from dip_sim.dashboard import format as fmt
from dip_sim.dashboard.pages import common

HOSPITAL_COLUMNS = [
    "hospital_name",
    "level",
    "n_cases",
    "total_points",
    "dip_amount_yuan",
    "ffs_fund_paid_yuan",
    "diff_yuan",
    "diff_pct",
]


def diff_chart(settlement: pd.DataFrame) -> alt.Chart:
    """Diverging bars of DIP − FFS (万元) per hospital, green where DIP pays more."""
    chart_df = pd.DataFrame(
        {
            "hospital": settlement["hospital_name"].astype(str),
            "diff_wan": settlement["diff_yuan"] / fmt.WAN,
            "diff_pct": settlement["diff_pct"] * 100,
            "direction": [
                "DIP 高于按项目付费" if v >= 0 else "DIP 低于按项目付费"
                for v in settlement["diff_yuan"].fillna(0)
            ],
        }
    )
    return (
        alt.Chart(chart_df)
        .mark_bar()
        .encode(
            y=alt.Y("hospital:N", sort="-x", title=None, axis=alt.Axis(labelLimit=240)),
            x=alt.X("diff_wan:Q", title="DIP 支付 − 按项目付费统筹支付（万元）"),
            color=alt.Color(
                "direction:N",
                title="",
                scale=alt.Scale(
                    domain=["DIP 高于按项目付费", "DIP 低于按项目付费"],
                    range=["#2e7d32", "#c62828"],
                ),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                alt.Tooltip("hospital:N", title="医院"),
                alt.Tooltip("diff_wan:Q", title="差额（万元）", format=",.2f"),
                alt.Tooltip("diff_pct:Q", title="差额率（%）", format=".2f"),
            ],
        )
        .properties(height=max(160, 30 * len(chart_df)))  # room for every hospital label
    )

SPLIT_COLUMNS = ["n_cases", "dip_amount_yuan", "ffs_fund_paid_yuan", "diff_yuan", "diff_pct"]
WINNER_COLUMNS = ["hospital_name", "dip_amount_yuan", "ffs_fund_paid_yuan", "diff_yuan",
                  "diff_pct"]

@common.guarded
def render() -> None:
    """Draw the 总览 page."""
    st.title("总览")
    common.hospital_mode_note()
    scenario_table = data.scenarios()
    scenario = common.scenario_select("overview_scenario", scenarios=scenario_table)
    common.run_caption(scenario, scenario_table)

    pv = data.point_values()
    pv = pv[pv["scenario"] == scenario]
    if pv.empty:
        st.info(f"情景 {scenario} 没有点值结果。")
        return
    row = pv.iloc[0]
    st.subheader("基金与点值")
    # two rows of three: five metrics in one row cut the long values off
    cols = st.columns(3)
    cols[0].metric("DIP 基金总额", fmt.fmt_yuan(row["dip_fund_yuan"]))
    cols[1].metric("医保支付比例", fmt.fmt_pct(row["fund_ratio"]))
    cols[2].metric("总分值", fmt.fmt_number(row["total_points"]))
    cols = st.columns(3)
    cols[0].metric("预算点值", fmt.fmt_point_value(row["pv_budget_yuan"]))
    cols[1].metric("结算点值", fmt.fmt_point_value(row["pv_settlement_yuan"]))
    years = data.point_value_years(scenario)
    history = years[years["kind"] == "history"]
    if not history.empty:
        last = history.iloc[-1]["value_per_point"]
        cols[2].metric(f"较 {int(history.iloc[-1]['year'])} 年点均费用",
                       fmt.fmt_point_value(last),
                       fmt.fmt_delta_pct(row["pv_settlement_yuan"] / last - 1),
                       help="历史年度：入组病例费用 ÷ 其病种分值；模拟年度：结算点值")
        _point_value_years(years)
    if not data.hospital_scope():
        _reserve_and_pools(scenario)
        _regions_side_by_side(scenario)

    scope = "本院" if data.hospital_scope() else "全市"
    st.subheader(f"DIP 支付与按项目付费对比（{scope}）")
    totals = data.settlement_totals(scenario).iloc[0]
    cols = st.columns(3)
    cols[0].metric("DIP 支付合计", fmt.fmt_yuan(totals["dip_amount_yuan"]))
    cols[1].metric("按项目付费统筹支付", fmt.fmt_yuan(totals["ffs_fund_paid_yuan"]))
    cols[2].metric(
        "差额（DIP − 按项目付费）",
        fmt.fmt_signed_yuan(totals["diff_yuan"]),
        delta=fmt.fmt_delta_pct(totals["diff_pct"]),
    )

    _by_level_and_insurance(scenario)

    settlement = data.hospital_settlement(scenario)
    one = data.hospital_scope() is not None  # a hospital user: its own row, nothing to filter
    st.subheader("本院 DIP 支付与按项目付费差额" if one else "各医院 DIP 支付与按项目付费差额")
    if settlement.empty:
        st.info("本院在该情景下没有结算结果。" if one else "该情景没有医院结算结果。")
        return
    if not one:
        levels = st.multiselect("医院等级", [3, 2, 1], format_func=fmt.level_label,
                                key="overview_levels", placeholder="全部")
        if levels:
            settlement = settlement[settlement["level"].isin(levels)]
    if settlement.empty:
        st.info("所选等级没有医院。")
        return
    if settlement["diff_yuan"].fillna(0).eq(0).all():
        st.info("差额均为 0：没有可作图的差异。")
    else:
        st.altair_chart(diff_chart(settlement))
    common.show_table(settlement, HOSPITAL_COLUMNS)
    st.caption("差额 = DIP 支付 − 按项目付费统筹支付；差额率 = 差额 ÷ 按项目付费统筹支付。")
    if not data.hospital_scope() and len(settlement) > 1:
        _winners_and_losers(settlement)


REGION_COLUMNS = ["region_name", "region", "n_hospitals", "n_cases", "dip_fund_yuan",
                  "fund_ratio", "pv_budget_yuan", "pv_settlement_yuan", "dip_amount_yuan",
                  "ffs_fund_paid_yuan", "diff_yuan", "diff_pct"]


def _regions_side_by_side(scenario: str) -> None:
    """Every pooling region of a province side by side: point values, fund, DIP against
    fee-for-service (the bureau; shown when the warehouse has more than one region)."""
    regions = data.region_comparison(scenario)
    if len(regions) <= 1:
        return
    st.subheader("各统筹区对比")
    chart_df = pd.DataFrame({
        "region": regions["region_name"].astype(str),
        "pv": regions["pv_settlement_yuan"],
        "diff_pct": regions["diff_pct"] * 100,
    })
    left, right = st.columns(2)
    left.altair_chart(alt.Chart(chart_df).mark_bar().encode(
        x=alt.X("region:N", title="统筹区", sort=None),
        y=alt.Y("pv:Q", title="结算点值（元/分）"),
        tooltip=[alt.Tooltip("region:N", title="统筹区"),
                 alt.Tooltip("pv:Q", title="结算点值", format=".4f")]))
    right.altair_chart(alt.Chart(chart_df).mark_bar().encode(
        x=alt.X("region:N", title="统筹区", sort=None),
        y=alt.Y("diff_pct:Q", title="DIP 较按项目付费（%）"),
        tooltip=[alt.Tooltip("region:N", title="统筹区"),
                 alt.Tooltip("diff_pct:Q", title="差额率（%）", format=".2f")]))
    common.show_table(regions, REGION_COLUMNS, table_name="point_values")
    st.caption("每个统筹区分别测算目录、预算与点值；差额 = DIP 支付 − 按项目付费统筹支付。"
               "侧栏的“统筹区”选择本页其余部分与其他页面显示的统筹区。")


def _by_level_and_insurance(scenario: str) -> None:
    """DIP against fee-for-service by hospital level and by insurance type (tables)."""
    try:
        by_level = data.settlement_by(scenario, "level")
        by_insurance = data.settlement_by(scenario, "insurance_type")
    except data.DataUnavailable:  # a results-only warehouse: no case table to split by
        return
    if by_level.empty:
        return
    left, right = st.columns(2)
    with left:
        st.caption("按医院等级")
        common.show_table(by_level, ["level", *SPLIT_COLUMNS])
    with right:
        st.caption("按险种")
        common.show_table(by_insurance, ["insurance_type", *SPLIT_COLUMNS])


POOL_COLUMNS = ["pool", "dip_fund_yuan", "reserve_yuan", "fund_ratio", "total_points",
                "pv_settlement_yuan"]


def _reserve_and_pools(scenario: str) -> None:
    """The 调剂金 over the year and, when the fund was split by insurance, each pool's point
    value: the bureau's fund management (region-wide figures, not shown in hospital mode)."""
    try:
        fund = data.fund_year_end(scenario)
        pools = data.fund_pools(scenario)
    except data.DataUnavailable:  # results of an earlier version: the rest of the page shows
        return
    if not fund.empty and pd.notna(fund["reserve_yuan"].iloc[0]):
        r = fund.iloc[0]
        st.subheader("调剂金")
        cols = st.columns(4)
        cols[0].metric("预留调剂金", fmt.fmt_yuan(r["reserve_yuan"]),
                       help="从测算的基金中预留、不参与点值计算（参数 budget.reserve_rate）")
        cols[1].metric("本年流入", fmt.fmt_yuan(r["reserve_inflow_yuan"]),
                       help="考核扣减、审核扣款、未返还的质量保证金与收回的结余")
        cols[2].metric("用于合理超支分担", fmt.fmt_yuan(r["reserve_paid_yuan"]),
                       help="年终付给超支医院的分担额（调剂金不足时按比例）")
        cols[3].metric("年末余额", fmt.fmt_yuan(r["reserve_left_yuan"]),
                       help="预留 + 本年流入 − 超支分担")
    if pools.empty:
        return
    st.subheader("职工与居民基金分池")
    cols = st.columns(len(pools))
    for col, (_, pool) in zip(cols, pools.iterrows(), strict=True):
        col.metric(f"{fmt.label(fmt.POOL_LABELS, pool['pool'])}结算点值",
                   fmt.fmt_point_value(pool["pv_settlement_yuan"]))
    common.show_table(pools, POOL_COLUMNS)
    st.caption("按险种分别测算 DIP 基金、医保支付比例与结算点值（参数 budget.split_by_insurance）；"
               "病例按险种归池。")


def _point_value_years(years: pd.DataFrame) -> None:
    """The point value over the years, as a line and a table."""
    st.subheader("点值历年变化")
    shown = years.assign(kind=years["kind"].map({"history": "历史年度点均费用",
                                                  "settlement": "结算点值"}))
    chart, table = st.columns([2, 1])
    # years as labels, not numbers (no thousands separator: 2020, not 2,020)
    chart.line_chart(shown.assign(year=shown["year"].astype(str)).set_index("year")[
        "value_per_point"], x_label="年度",
                     y_label="元/分")
    with table:
        common.show_table(shown, ["year", "kind", "value_per_point"])


def _winners_and_losers(settlement: pd.DataFrame) -> None:
    """The hospitals that gain and lose most under DIP against fee-for-service."""
    st.subheader("获益与受损最多的医院")
    ranked = settlement.sort_values("diff_yuan")
    gain, lose = st.columns(2)
    with gain:
        st.caption("获益最多（DIP − 按项目付费 最大）")
        common.show_table(ranked.tail(5).iloc[::-1], WINNER_COLUMNS)
    with lose:
        st.caption("受损最多")
        common.show_table(ranked.head(5), WINNER_COLUMNS)


if __name__ == "__main__":
    render()
