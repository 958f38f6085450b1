"""情景对比: a scenario's point values and hospital payments against another (the baseline
unless the user picks another 基准情景)."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dip_sim.dashboard import data
from dip_sim.dashboard import format as fmt
from dip_sim.dashboard.pages import common

METRIC_LABELS = {
    "dip_fund_yuan": "DIP 基金总额",
    "fund_ratio": "医保支付比例",
    "total_points": "总分值",
    "pv_budget_yuan": "预算点值",
    "pv_settlement_yuan": "结算点值",
    "year_end_total_yuan": "年终结算合计",
}
METRIC_FORMATS = {
    "dip_fund_yuan": fmt.fmt_yuan,
    "fund_ratio": fmt.fmt_pct,
    "total_points": fmt.fmt_number,
    "pv_budget_yuan": fmt.fmt_point_value,
    "pv_settlement_yuan": fmt.fmt_point_value,
    "year_end_total_yuan": fmt.fmt_yuan,
}
HOSPITAL_COLUMNS = [
    "hospital_name",
    "level",
    "points_base",
    "points_scenario",
    "dip_base_yuan",
    "dip_scenario_yuan",
    "change_yuan",
    "change_pct",
    "year_end_base_yuan",
    "year_end_scenario_yuan",
    "year_end_change_yuan",
]


def point_value_table(comparison: pd.DataFrame) -> pd.DataFrame:
    """The point-value comparison as text: 指标, 基准, 对比, 变化率."""
    return pd.DataFrame(
        {
            "指标": [METRIC_LABELS.get(m, m) for m in comparison["metric"]],
            "基准": [
                METRIC_FORMATS.get(m, fmt.fmt_number)(v)
                for m, v in zip(comparison["metric"], comparison["base_value"], strict=True)
            ],
            "对比": [
                METRIC_FORMATS.get(m, fmt.fmt_number)(v)
                for m, v in zip(comparison["metric"], comparison["scenario_value"], strict=True)
            ],
            "变化率": [fmt.fmt_pct(v, signed=True) for v in comparison["change_pct"]],
        }
    )


def dip_chart(comparison: pd.DataFrame, scenario: str, base: str = data.BASELINE) -> alt.Chart:
    """Grouped bars: DIP amount (万元) per hospital under ``base`` and ``scenario``."""
    long = pd.concat(
        [
            pd.DataFrame(
                {
                    "hospital": comparison["hospital_name"].astype(str),
                    "scenario": name,
                    "dip_wan": comparison[col] / fmt.WAN,
                }
            )
            for name, col in ((base, "dip_base_yuan"), (scenario, "dip_scenario_yuan"))
        ],
        ignore_index=True,
    )
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            y=alt.Y("hospital:N", title=None, sort=None, axis=alt.Axis(labelLimit=240)),
            yOffset=alt.YOffset("scenario:N", sort=[base, scenario]),
            x=alt.X("dip_wan:Q", title="DIP 支付（万元）"),
            color=alt.Color(
                "scenario:N",
                title="情景",
                sort=[base, scenario],
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                alt.Tooltip("hospital:N", title="医院"),
                alt.Tooltip("scenario:N", title="情景"),
                alt.Tooltip("dip_wan:Q", title="DIP 支付（万元）", format=",.2f"),
            ],
        )
        .properties(height=max(160, 36 * len(comparison)))
    )


@common.guarded
def render() -> None:
    """Draw the 情景对比 page."""
    st.title("情景对比")
    common.hospital_mode_note()
    scenario_table = data.scenarios()
    names = set(scenario_table["scenario"])
    if not names:
        raise data.DataUnavailable(data.NO_RESULTS_MESSAGE)
    if len(names) == 1:
        only = "基线情景（baseline）" if names == {data.BASELINE} else f"情景 {next(iter(names))}"
        st.info(
            f"目前只有{only}。运行其他情景后可在此对比，例如 "
            "`dip-sim simulate --year 2020 --scenario data/scenarios/growth_8pct.yaml`。"
        )
        return
    left, right = st.columns(2)
    with left:  # the baseline unless another is picked
        base = common.scenario_select("compare_base", label="基准情景", scenarios=scenario_table)
        common.run_caption(base, scenario_table)
    with right:
        scenario = common.scenario_select(
            "compare_scenario", label="对比情景", exclude=[base], scenarios=scenario_table
        )
        common.run_caption(scenario, scenario_table)

    st.subheader(f"点值对比：{base} vs {scenario}")
    comparison = data.point_value_comparison(scenario, base)
    # three metrics a row: more in one row cut the long values off
    cols = [c for _ in range(0, len(comparison), 3) for c in st.columns(3)]
    for col, (_, row) in zip(cols, comparison.iterrows(), strict=False):
        show = METRIC_FORMATS.get(row["metric"], fmt.fmt_number)
        col.metric(
            METRIC_LABELS.get(row["metric"], row["metric"]),
            show(row["scenario_value"]),
            delta=fmt.fmt_delta_pct(row["change_pct"]),
            delta_color="off",
            help=f"基准（{base}）：{show(row['base_value'])}",
        )
    st.dataframe(point_value_table(comparison), hide_index=True)

    st.subheader(f"各医院 DIP 支付：{base} vs {scenario}")
    hospitals = data.scenario_comparison(scenario, base)
    if hospitals.empty:
        st.info("两个情景都没有医院结算结果。")
        return
    st.altair_chart(dip_chart(hospitals, scenario, base))
    common.show_table(hospitals, HOSPITAL_COLUMNS)
    st.caption("变化 = 对比情景 DIP 支付 − 基准情景 DIP 支付；变化率 = 变化 ÷ 基准情景 DIP 支付。")


if __name__ == "__main__":
    render()
