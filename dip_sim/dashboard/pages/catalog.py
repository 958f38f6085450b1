"""病种目录: a scenario's DIP group catalogue, its grouping quality, and each group's stability.

For the expert panel: core coverage, 入组率, mean CV, RIV and the CV
distribution; the groups with their spread, LOS, outlier share and hospital-level mix; a
group's cases per history year; each hospital's CMI and consumption indices. The Excel version
is ``dip-sim catalog-report``.
"""

from __future__ import annotations

import altair as alt
import streamlit as st

from dip_sim.dashboard import catalog_data, data
from dip_sim.dashboard import format as fmt
from dip_sim.dashboard.pages import common, feedback_forms

CATALOG_COLUMNS = [
    "group_code",
    "dx_name",
    "group_type",
    "dx_key",
    "proc_key",
    "proc_class",
    "n_cases",
    "mean_cost_yuan",
    "cv",
    "median_cost_yuan",
    "p5_cost_yuan",
    "p95_cost_yuan",
    "mean_los_days",
    "outlier_share",
    "share_level3",
    "share_level2",
    "share_level1",
    "rw",
]
CV_COLUMNS = ["cv_band", "n_groups", "n_cases"]
YEAR_COLUMNS = ["year", "n_cases", "mean_cost_yuan"]
DIFF_GROUP_COLUMNS = ["group_code", "change", "rw_a", "rw_b", "n_cases_a", "n_cases_b",
                      "adjusted_by"]
DIFF_HOSPITAL_COLUMNS = ["hospital_id", "hospital_name", "points_change", "dip_change_yuan"]
LEVEL_COLUMNS = ["level", "n_cases", "mean_cost_yuan", "p5_cost_yuan", "p25_cost_yuan",
                 "median_cost_yuan", "p75_cost_yuan", "p95_cost_yuan"]
INDEX_COLUMNS = ["hospital_id", "hospital_name", "level", "n_cases", "cmi_relative", "cmi",
                 "cost_index",
                 "time_index", "n_primary_cases", "n_tcm_cases", "tcm_points"]


@common.guarded
def render() -> None:
    """Draw the 病种目录 page."""
    st.title("病种目录")
    scenario_table = data.scenarios()
    scenario = common.scenario_select("catalog_scenario", scenarios=scenario_table)
    common.run_caption(scenario, scenario_table)
    feedback_forms.confirmation_caption(scenario)

    summary = catalog_data.catalog_summary(scenario)
    if summary.empty:
        st.info(f"情景 {scenario} 没有病种目录。")
        return
    by_type = summary.set_index("group_type")
    cols = st.columns(4)
    for col, code in zip(cols, ("core", "comprehensive"), strict=False):
        n = by_type["n_groups"].get(code, 0)
        col.metric(f"{fmt.GROUP_TYPE_LABELS[code]}组数", fmt.fmt_number(n))
    cols[2].metric("历史病例数", fmt.fmt_number(summary["n_cases"].sum(min_count=len(summary))))
    cols[3].metric(
        "核心病种病例占比",
        fmt.fmt_pct(by_type["case_share"].get("core", 0.0)),
        help="目录测算所用历史病例中，落入核心病种的比例",
    )
    if summary["suppressed"].any():
        st.caption(data.suppressed_note())

    _quality(scenario)

    st.subheader("病种组")
    left, mid, right = st.columns(3)
    group_types = left.multiselect(
        "病种类型",
        list(fmt.GROUP_TYPE_LABELS),
        format_func=fmt.GROUP_TYPE_LABELS.get,
        key="catalog_group_types",
        placeholder="全部",
    )
    proc_classes = mid.multiselect(
        "操作类别",
        list(fmt.PROC_CLASS_LABELS),
        format_func=fmt.PROC_CLASS_LABELS.get,
        key="catalog_proc_classes",
        placeholder="全部",
    )
    text = right.text_input("病种编码或诊断名称包含", key="catalog_code",
                            placeholder="例如 I21 或 心肌梗死")
    groups = catalog_data.catalog(scenario, group_types, proc_classes, text or "")
    st.caption(f"符合条件的病种：{len(groups):,} 组")
    if groups.empty:
        st.info("没有符合条件的病种。")
        return
    common.show_table(groups, CATALOG_COLUMNS)
    st.caption("病例数、次均费用（按历史年度加权）、变异系数、分位数、平均住院日、偏差病例占比与"
               "医院等级构成均按目录测算所用的历史病例计算；偏差病例：费用低于组均费用 × 费用超低界"
               "或高于 × 费用超高界。")
    feedback_forms.group_objection_form(scenario, groups)
    _group_years(scenario, groups)
    _hospital_indices(scenario)
    _versions_compared(scenario, scenario_table)


def _quality(scenario: str) -> None:
    """The grouping-quality figures of the whole catalogue and its CV distribution."""
    quality = catalog_data.catalog_quality(scenario)
    if quality.empty:
        return
    q = quality.iloc[0]
    cols = st.columns(4)
    cols[0].metric("入组率（模拟年度）", fmt.fmt_pct(q["grouping_rate_year"]),
                   help="模拟年度全部病例中入组的比例（未入组：质控严重问题或综合病种无历史病例）")
    cols[1].metric("核心病种覆盖率", fmt.fmt_pct(q["core_coverage"]),
                   help=f"可入组的历史病例中落入核心病种的比例；核心病种阈值 {int(q['core_threshold'])} 例"
                        f"（{q['core_threshold_method']}）")
    cols[2].metric("平均变异系数 CV", fmt.fmt_number(q["mean_cv"], 3),
                   help=f"各组 CV 的简单平均；按病例加权 {fmt.fmt_number(q['case_weighted_cv'], 3)}")
    cols[3].metric("RIV（R²）", fmt.fmt_number(q["riv"], 3),
                   help="分组对历史病例费用差异的解释程度：组间平方和 ÷ 总平方和")
    st.subheader("变异系数分布")
    bands = catalog_data.catalog_cv_bands(scenario)
    if not bands.empty:
        chart, table = st.columns([2, 1])
        # bands in their order (< 0.5, 0.5–1, > 1), not sorted as text
        chart.altair_chart(alt.Chart(bands).mark_bar().encode(
            x=alt.X("cv_band:N", sort=list(bands["cv_band"]), title="变异系数区间",
                    axis=alt.Axis(labelAngle=0)),
            y=alt.Y("n_groups:Q", title="病种组数"),
            tooltip=[alt.Tooltip("cv_band:N", title="变异系数区间"),
                     alt.Tooltip("n_groups:Q", title="病种组数", format=",")]))
        with table:
            common.show_table(bands, CV_COLUMNS)
        st.caption("CV > 0.7 的组是辅助分型的候选；清单见 dip-sim catalog-report。")


def _group_years(scenario: str, groups) -> None:
    """One chosen group's history cases and mean cost per year: is it stable?"""
    st.subheader("病种组历年稳定性与按等级的费用分布")
    code = st.selectbox("选择病种", groups["group_code"].head(500).tolist(),
                        key="catalog_group_years")
    if not code:
        return
    years = catalog_data.catalog_group_years(scenario, code)
    common.show_table_or_note(years, YEAR_COLUMNS, "该病种没有历年数据。",
                              caption=f"{code}：历史各年病例数与次均费用")
    try:
        by_level = catalog_data.group_cost_by_level(scenario, code)
    except data.DataUnavailable:  # a warehouse without the case tables (results only)
        return
    if not by_level.empty:
        st.caption(f"{code}：历史病例费用按医院等级的分布（元）")
        chart, table = st.columns([1, 2])
        shown = by_level.assign(level=by_level["level"].map(fmt.level_label)).dropna(
            subset=["median_cost_yuan"])
        if shown.empty:
            chart.info("没有可显示的等级数据（均已抑制）。")
        else:
            chart.bar_chart(shown.set_index("level")["median_cost_yuan"], x_label="医院等级",
                            y_label="费用中位数（元）")
        with table:
            common.show_table(by_level, LEVEL_COLUMNS)


def _versions_compared(scenario: str, scenario_table) -> None:
    """This catalogue against another scenario's: what changed, why, and for whom."""
    others = [s for s in scenario_table["scenario"] if s != scenario]
    if not others:
        return
    st.subheader("目录版本比较")
    other = st.selectbox("与此情景的目录比较", others, key="catalog_compare_with")
    with st.spinner("比较中…"):
        diff = catalog_data.catalogue_comparison(other, scenario)
    changes = diff["病种变化"]
    counts = changes["change"].value_counts()
    cols = st.columns(4)
    for col, (code, label) in zip(cols, (("added", "新增病种"), ("removed", "删除病种"),
                                         ("repointed", "分值变化")), strict=False):
        col.metric(label, fmt.fmt_number(counts.get(code, 0)))
    cols[3].metric("改变病种的病例", fmt.fmt_number(
        diff["病例流向"]["n_cases"].sum(min_count=len(diff["病例流向"])) if len(diff["病例流向"])
        else 0))  # "—" when a move's count is suppressed for a hospital user
    params = diff["参数差异"]
    st.caption("参数差异：" + ("；".join(f"{r.parameter}: {r.value_a} → {r.value_b}"
                                     for r in params.itertuples()) or "无"))
    left, right = st.columns(2)
    with left:
        st.caption(f"分值变化最大的病种（{other} → {scenario}）")
        common.show_table(changes.head(50), DIFF_GROUP_COLUMNS)
    with right:
        st.caption("医院分值与 DIP 支付的变化")
        common.show_table(diff["医院影响"], DIFF_HOSPITAL_COLUMNS)
    adjustments = diff["专家调整"]
    if len(adjustments):
        st.caption("专家调整")
        common.show_table(adjustments.rename(columns={"reason": "adjustment_reason"}),
                          ["scenario", "adjustment_id", "action", "target", "author",
                           "adjustment_reason", "applied"])


def _hospital_indices(scenario: str) -> None:
    """Each hospital's CMI and cost and time consumption indices in the simulation year."""
    st.subheader("医院 CMI 与消耗指数")
    indices = data.hospital_indices(scenario)
    if indices.empty:
        st.info("没有医院指标（请重新运行模拟）。")
        return
    st.caption("模拟年度入组病例：CMI 以全市平均病例为 1.00（本院平均病种分值 ÷ 全市平均病种分值）；"
               "CMI（分值）= 病种分值之和 ÷ 病例数；费用（时间）消耗指数 = 各病例费用（住院日）÷ "
               "全市该病种同年均值，再取平均（全市为 1）。")
    common.show_table(indices, INDEX_COLUMNS, helps={
        "cmi_relative": "病例组合指数：平均病种分值 ÷ 全市平均病种分值，全市平均病例 = 1.00",
        "cmi": "分值尺度：病种分值 = 组均费用 ÷ 全部病例均费用 × points.scale（历史平均病例约 "
               "1000 分）"})


if __name__ == "__main__":
    render()
