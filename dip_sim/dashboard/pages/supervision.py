"""监管与考核: the supervision indices by hospital against the region, flagged
cases to review, the 绩效考核 score's breakdown, the anomaly screen and 编码高套 by category.

Bureau and expert see every hospital; a hospital user its own rows only (the data layer
filters them), beside the region's rate and its rank among the hospitals.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dip_sim.dashboard import data
from dip_sim.dashboard import format as fmt
from dip_sim.dashboard import supervision_data as sv
from dip_sim.dashboard.pages import common
from dip_sim.supervise.tables import INDEX_LABELS, index_label

INDEX_COLUMNS = ["hospital_name", "level", "n_base", "n_flagged", "index_value", "region_value",
                 "ratio_to_region", "z_score", "prev_value", "rank"]
OWN_COLUMNS = ["index_name", "n_base", "n_flagged", "index_value", "region_value",
               "ratio_to_region", "z_score", "prev_value", "rank_of"]
SCORE_COLUMNS = ["hospital_name", "level", "score", "n_indicators", "assessment_coefficient",
                 "withhold_release"]
BREAKDOWN_COLUMNS = ["indicator_label", "measure", "weight", "full_at", "zero_at",
                     "indicator_value", "indicator_points"]
CASE_COLUMNS = ["case_id", "hospital_id", "month", "related_case_id", "related_hospital_id",
                "flag_value", "detail"]
ANOMALY_COLUMNS = ["hospital_name", "month", "n_cases", "anomaly_score", "anomaly_rank",
                   "anomaly_reasons"]
UPCODE_COLUMNS = ["dx3", "n_cases", "mean_rw", "region_mean_rw", "prev_mean_rw", "proc_rate",
                  "region_proc_rate",
                  "prev_proc_rate", "severity_rate", "region_severity_rate",
                  "prev_severity_rate", "excess_proc_cases", "excess_severity_cases"]
# the indices that flag cases (the others are rates of coding or costs)
CASE_INDICES = ("split_admission", "readmit_15d_same", "readmit_15d_any", "readmit_31d_same",
                "readmit_31d_any", "low_standard", "long_stay", "low_risk_death")
# the indices whose value is a share of cases or of costs
SHARE_INDICES = (*CASE_INDICES, "upcode_procedure", "upcode_severity", "drug_share",
                 "consumable_share", "oop_share", "cost_growth")
MEASURE_LABELS = {"value": "取值", "ratio": "与全市之比", "z": "偏离评分 z"}


def index_chart(table: pd.DataFrame) -> alt.Chart:
    """Bars of each hospital's ratio to the region (1 = the region), most suspicious on top."""
    shown = table.assign(hospital=table["hospital_name"].fillna(table["hospital_id"]),
                         ratio=table["ratio_to_region"].fillna(0.0))
    return (
        alt.Chart(shown)
        .mark_bar()
        .encode(
            y=alt.Y("hospital:N", sort=list(shown["hospital"]), title=None,
                    axis=alt.Axis(labelLimit=240, labelOverlap=False)),
            x=alt.X("ratio:Q", title="与全市之比（1 = 全市水平）"),
            color=alt.condition(alt.datum.ratio > 1, alt.value("#c62828"), alt.value("#90a4ae")),
            tooltip=[alt.Tooltip("hospital:N", title="医院"),
                     alt.Tooltip("ratio:Q", title="与全市之比", format=".2f"),
                     alt.Tooltip("z_score:Q", title="偏离评分 z", format=".2f"),
                     alt.Tooltip("rank:Q", title="排名")],
        )
        .properties(height=max(160, 26 * len(shown)))  # a label for every hospital
    )


@common.guarded
def render() -> None:
    """Draw the 监管与考核 page."""
    st.title("监管与考核")
    common.hospital_mode_note()
    runs = sv.supervision_runs()
    if runs.empty:
        st.info("尚无监管指标：请运行 `dip-sim supervise`（`make run` 会为基线运行）。")
        return
    left, right = st.columns(2)
    scenarios = list(dict.fromkeys(runs["scenario"]))
    scenario = left.selectbox("情景", scenarios, key="sv_scenario")
    years = runs.loc[runs["scenario"] == scenario, "year"].astype(int).tolist()
    year = right.selectbox("年度", years, key="sv_year")
    st.caption("指数定义、参数与来源见 docs/supervision.md；阈值在 data/policy/supervision.yaml。"
               "偏离评分 z = 2(√标记数 − √按全市应有数)，约 2 以上值得关注。")

    hospital_id = data.hospital_scope()
    _report_download(scenario, year, hospital_id)
    tabs = st.tabs(["监管指数", "绩效考核", "标记病例", "异常筛查", "编码高套"])
    with tabs[0]:
        if hospital_id:
            _own_indices(scenario, year, hospital_id)
        else:
            _indices(scenario, year)
    with tabs[1]:
        _assessment(scenario, year, hospital_id)
    with tabs[2]:
        _cases(scenario, year, hospital_id)
    with tabs[3]:
        _anomalies(scenario, year)
    with tabs[4]:
        _upcoding(scenario, year, hospital_id)


def _report_download(scenario: str, year: int, hospital_id: str | None) -> None:
    """The report as Excel: the own hospital's for a hospital user, else the city's."""
    common.excel_download(
        lambda: sv.supervision_report_xlsx(scenario, year, hospital_id),
        f"sv_report_{scenario}_{year}_{hospital_id or 'all'}",
        "生成本院监管与考核报告（Excel）" if hospital_id else "生成全市监管与考核报告（Excel）",
        "sv_report", "下载报告（.xlsx）", f"监管与考核_{hospital_id or '全市'}_{scenario}_{year}.xlsx",
        "sv_report_download", "正在生成报告…")


def _shown(code: str, value: float) -> str:
    """An index value as people read it: shares of cases in %, the others as numbers."""
    if code in SHARE_INDICES:
        return fmt.fmt_pct(value, 3)
    return f"{value:.4g}"


def _hospital_choice(key: str, label: str = "医院") -> str | None:
    """A hospital picker (bureau and expert); the own hospital for a hospital user."""
    own = data.hospital_scope()
    if own:
        return own
    labels = common.hospital_labels()
    return st.selectbox(label, list(labels), format_func=labels.get, key=key)


def _indices(scenario: str, year: int) -> None:
    """One index across the hospitals: a chart of the ratio to the region and the table."""
    codes = sv.index_codes(scenario, year)
    default = codes.index("split_admission") if "split_admission" in codes else 0
    code = st.selectbox("指数", codes, index=default, format_func=index_label, key="sv_index")
    table = sv.index_by_hospital(scenario, year, code)
    if table.empty:
        st.info("该指数没有结果。")
        return
    region = table["region_value"].dropna()
    if not region.empty:
        st.metric(f"全市：{index_label(code)}", _shown(code, region.iloc[0]))
    chart, side = st.columns([3, 2])
    if common.nothing_to_draw(table["index_value"]):  # nothing to draw and nothing to rank
        chart.info("所有医院该指数均为 0（或无取值）：没有可比较的差异，不作图、不排名。")
    else:
        chart.altair_chart(index_chart(table))
    with side:
        common.show_table(table, INDEX_COLUMNS, table_name="supervision_hospitals")
    st.caption("排名 1 为最应关注的医院：有偏离评分 z 的指数按 z，其余按与全市之比（病案质量指数按"
               "最低）。上年取值为同一医院上一年度的指数。")


def _own_indices(scenario: str, year: int, hospital_id: str) -> None:
    """A hospital user's every index beside the region's, with its rank."""
    table = sv.hospital_indices(scenario, year, hospital_id)
    if table.empty:
        st.info("本院在该年度没有监管指标。")
        return
    order = {code: i for i, code in enumerate(INDEX_LABELS)}  # the order of docs/supervision.md
    table = table.sort_values("index_code", key=lambda c: c.map(order).fillna(len(order)))
    table = table.assign(index_name=table["index_code"].map(index_label),
                         rank_of=[fmt.fmt_rank(r, n) for r, n in zip(table["rank"],
                                                                     table["n_ranked"],
                                                                     strict=True)])
    common.show_table(table, OWN_COLUMNS, table_name="supervision_hospitals")
    st.caption("排名：在全市各医院中的位次（1 为最应关注）；全市取值为全市合计。"
               "所有医院取值均为 0 的指数不排名（“—”）。")


def _assessment(scenario: str, year: int, hospital_id: str | None) -> None:
    """The scores with their coefficient and release, and one hospital's breakdown."""
    scores = sv.assessment_scores(scenario, year)
    if scores.empty:
        st.info("该年度没有考核结果。")
        return
    if not hospital_id and common.nothing_to_draw(scores["score"]):
        st.info("各医院考核得分均为 0 或无取值，不作图。")
        common.show_table(scores, SCORE_COLUMNS, table_name="assessment")
    elif not hospital_id:
        chart, side = st.columns([2, 3])
        shown = scores.assign(hospital=scores["hospital_name"].fillna(scores["hospital_id"]))
        chart.altair_chart(alt.Chart(shown).mark_bar().encode(
            y=alt.Y("hospital:N", sort=list(shown["hospital"]), title=None,
                    axis=alt.Axis(labelLimit=200, labelOverlap=False)),
            x=alt.X("score:Q", title="考核得分", scale=alt.Scale(domain=[0, 100])),
            tooltip=[alt.Tooltip("hospital:N", title="医院"),
                     alt.Tooltip("score:Q", title="得分", format=".1f"),
                     alt.Tooltip("assessment_coefficient:Q", title="考核系数")],
        ).properties(height=max(160, 26 * len(shown))))
        with side:
            common.show_table(scores, SCORE_COLUMNS, table_name="assessment")
    else:
        row = scores.iloc[0]
        cols = st.columns(3)
        cols[0].metric("考核得分", fmt.fmt_number(row["score"], 1))
        cols[1].metric("考核系数", fmt.fmt_number(row["assessment_coefficient"], 2))
        cols[2].metric("质量保证金返还比例", fmt.fmt_pct(row["withhold_release"], 0))
    chosen = _hospital_choice("sv_assess_hospital", "得分明细：医院")
    breakdown = sv.assessment_breakdown(scenario, year, chosen)
    if breakdown.empty:
        return
    breakdown = breakdown.assign(measure=breakdown["measure"].map(MEASURE_LABELS))
    common.show_table(breakdown, BREAKDOWN_COLUMNS, table_name="assessment_indicators")
    st.caption("指标得分 = 权重 × (零分点 − 指标值) ÷ (零分点 − 满分点)，限于 0 与权重之间；考核得分 = "
               "100 × Σ得分 ÷ Σ有取值指标的权重。方案：data/policy/lists/assessment_scheme.csv；"
               "得分分档见 data/policy/assessment.yaml。情景的 settlement.assessment_source 为 "
               "scheme 时，年终清算使用此系数与返还比例。")


def _cases(scenario: str, year: int, hospital_id: str | None) -> None:
    """Flagged cases of one index (de-identified), one hospital or all."""
    counts = sv.flagged_counts(scenario, year)
    if counts.empty:
        st.info("该年度没有标记病例。")
        return
    n = dict(zip(counts["index_code"], counts["n_flagged"], strict=True))
    codes = [c for c in CASE_INDICES if c in n]
    left, right = st.columns(2)
    with left:
        code = st.selectbox("指数", codes, key="sv_case_index",
                            format_func=lambda c: f"{index_label(c)}（{n[c]:,} 例）")
    with right:
        chosen = hospital_id or _all_or_one("sv_case_hospital")
    cases = sv.flagged_cases(scenario, year, code, chosen)
    common.show_table_or_note(cases, CASE_COLUMNS, "没有标记病例。",
                              f"按标记值从高到低，最多 {sv.LIST_LIMIT} 例；病例已去标识（无患者信息），"
                              "关联病例为再入院的前次住院。")


def _all_or_one(key: str) -> str | None:
    """A picker of every hospital or one (bureau and expert); None for all."""
    labels = {"": "全部医院", **common.hospital_labels()}
    return st.selectbox("医院", list(labels), format_func=labels.get, key=key) or None


def _anomalies(scenario: str, year: int) -> None:
    """The isolation forest's hospital-months to review, with the features that stand out."""
    table = sv.anomalies(scenario, year)
    common.show_table_or_note(
        table, ANOMALY_COLUMNS, "该年度没有列入复核的医院-月份。",
        "孤立森林（scikit-learn IsolationForest）对医院-月份指标向量的异常评分，作为规则指数之外的"
        "第二意见；突出的特征：与本院常态或同级医院同月相比偏离最大的三项。")


def _upcoding(scenario: str, year: int, hospital_id: str | None) -> None:
    """编码高套 by diagnosis category for one hospital."""
    chosen = hospital_id or _hospital_choice("sv_upcode_hospital")
    table = sv.upcoding_categories(scenario, year, chosen)
    common.show_table_or_note(
        table, UPCODE_COLUMNS, "没有按诊断类目的编码高套结果。",
        "按诊断类目（前 3 位）：手术操作与严重并发症编码率，与全市同类目及本院上年相比；"
        "超出的病例 = 病例数 × (本年比率 − 本院上年比率，无上年时用全市比率)。")


if __name__ == "__main__":
    render()
