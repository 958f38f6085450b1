"""病种目录: the DIP group catalog of a scenario, with filters and summary figures."""

from __future__ import annotations

import streamlit as st

from dip_sim.dashboard import data
from dip_sim.dashboard import format as fmt
from dip_sim.dashboard.pages import common

CATALOG_COLUMNS = [
    "group_code",
    "group_type",
    "dx_key",
    "proc_key",
    "proc_class",
    "n_cases",
    "mean_cost_yuan",
    "cv",
    "rw",
]


@common.guarded
def render() -> None:
    """Draw the 病种目录 page."""
    st.title("病种目录")
    scenario_table = data.scenarios()
    scenario = common.scenario_select("catalog_scenario", scenarios=scenario_table)
    common.run_caption(scenario, scenario_table)

    summary = data.catalog_summary(scenario)
    if summary.empty:
        st.info(f"情景 {scenario} 没有病种目录。")
        return
    by_type = summary.set_index("group_type")
    cols = st.columns(4)
    for col, code in zip(cols, ("core", "comprehensive"), strict=False):
        n = by_type["n_groups"].get(code, 0)
        col.metric(f"{fmt.GROUP_TYPE_LABELS[code]}组数", fmt.fmt_number(n))
    cols[2].metric("历史病例数", fmt.fmt_number(summary["n_cases"].sum()))
    cols[3].metric(
        "核心病种病例占比",
        fmt.fmt_pct(by_type["case_share"].get("core", 0.0)),
        help="目录测算所用历史病例中，落入核心病种的比例",
    )

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
    text = right.text_input("病种编码包含", key="catalog_code", placeholder="例如 I21")
    groups = data.catalog(scenario, group_types, proc_classes, text or "")
    st.caption(f"符合条件的病种：{len(groups):,} 组")
    if groups.empty:
        st.info("没有符合条件的病种。")
        return
    common.show_table(groups, CATALOG_COLUMNS)
    st.caption("病例数、次均费用与变异系数按目录测算所用的历史病例计算。")


if __name__ == "__main__":
    render()
