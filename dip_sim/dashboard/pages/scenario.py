"""预算情景 (bureau): edit the main parameters, run a what-if beside the baseline, save it.

The run is read-only against the warehouse (``dip_sim.dashboard.whatif``): nothing the batch
pipeline wrote changes. A scenario worth keeping is saved as ``data/scenarios/NAME.yaml``
(and can be downloaded); ``dip-sim simulate --scenario`` then runs it for good, and
情景对比 / ``dip-sim compare`` compare the saved ones.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

from dip_sim.dashboard import data
from dip_sim.dashboard import format as fmt
from dip_sim.dashboard.pages import common
from dip_sim.dashboard.whatif import (
    run_scenario_file,
    run_what_if,
    scenario_dir,
    scenario_files,
    scenario_yaml,
)
from dip_sim.paths import PROJECT_ROOT
from dip_sim.policy import PolicyError, load_baseline, parameters_for_year
from dip_sim.simulation import SimulationError

RESULT_KEY = "what_if_result"
SAVED_KEY = "saved_scenarios_result"
SAVED_COLUMNS = ["scenario", "file", "dip_fund_yuan", "pv_budget_yuan", "pv_settlement_yuan",
                 "year_end_total_yuan"]
_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,40}$")
MODE_LABELS = {"floating": "浮动点值", "fixed": "固定点值", "elastic": "弹性点值"}
COEF_LABELS = {"fixed": "协商值（按等级）", "cost_ratio": "费用比例法", "per_group": "分病种"}
HOSPITAL_COLUMNS = ["hospital_id", "hospital_name", "baseline_yuan", "what_if_yuan", "change_yuan"]


def _inputs(base: dict) -> dict:
    """The parameter widgets; the changes against the baseline values."""
    left, mid, right = st.columns(3)
    values = {
        "budget.growth_rate": left.number_input(
            "基金增长率（%）", value=base["budget.growth_rate"] * 100, step=0.5,
            key="wi_growth") / 100,
        "budget.reserve_rate": left.number_input(
            "调剂金比例（%）", value=base["budget.reserve_rate"] * 100, min_value=0.0,
            max_value=100.0, step=1.0, key="wi_reserve") / 100,
        "point_value.mode": mid.selectbox(
            "点值方式", list(MODE_LABELS), index=list(MODE_LABELS).index(base["point_value.mode"]),
            format_func=MODE_LABELS.get, key="wi_mode"),
        "coefficients.method": mid.selectbox(
            "等级系数", list(COEF_LABELS),
            index=list(COEF_LABELS).index(base["coefficients.method"]),
            format_func=COEF_LABELS.get, key="wi_coef"),
        "outliers.low_ratio": right.number_input(
            "费用超低界（倍）", value=base["outliers.low_ratio"], min_value=0.0, step=0.1,
            key="wi_low"),
        "outliers.high_ratio": right.number_input(
            "费用超高界（倍）", value=base["outliers.high_ratio"], min_value=0.0, step=0.1,
            key="wi_high"),
        "catalog.core_min_cases": left.number_input(
            "核心病种阈值（例）", value=int(base["catalog.core_min_cases"]), min_value=1, step=1,
            key="wi_core"),
    }
    if values["point_value.mode"] == "elastic":
        values["point_value.elastic_base_share"] = mid.number_input(
            "弹性点值：基础分值比例", value=base["point_value.elastic_base_share"],
            min_value=0.0, max_value=1.0, step=0.05, key="wi_share")
        cap = mid.number_input("弹性点值：浮动点值上限（预算点值的倍数，0 为不设）", value=0.0,
                               min_value=0.0, step=0.1, key="wi_cap")
        values["point_value.elastic_cap"] = cap or None
    return {k: v for k, v in values.items()
            if not (isinstance(v, float) and isinstance(base.get(k), float)
                    and abs(v - base[k]) < 1e-12) and v != base.get(k)}


@common.guarded
def render() -> None:
    """Draw the 预算情景 page."""
    st.title("预算情景")
    table = data.scenarios()
    if table.empty or "baseline" not in set(table["scenario"]):
        st.info(data.NO_RESULTS_MESSAGE)
        return
    year = int(table.loc[table["scenario"] == "baseline", "year"].iloc[0])
    base = parameters_for_year(load_baseline(), year)
    st.caption(f"在基线（{year} 年）上修改参数并试算，结果与基线并列；试算不改动数据仓库。")
    changes = _inputs(base)
    st.caption("改动：" + ("；".join(f"{k} = {v}" for k, v in changes.items()) or "无（即基线）"))
    if st.button("运行试算", type="primary", key="wi_run"):
        with st.spinner("试算中（示例数据约 2 秒）…"):
            started = dt.datetime.now()
            row, hospitals = run_what_if(data.warehouse_path(), changes, year,
                                         region=data.region_scope())
            seconds = (dt.datetime.now() - started).total_seconds()
        st.session_state[RESULT_KEY] = {"changes": changes, "row": row,
                                        "hospitals": hospitals, "seconds": seconds}
    result = st.session_state.get(RESULT_KEY)
    if result:
        _show(result)
        _save(result["changes"])
    _compare_saved(year)


def _show(result: dict) -> None:
    """The what-if's figures beside the baseline's, and each hospital's change."""
    base = data.point_values().set_index("scenario").loc["baseline"]
    row = result["row"]
    st.subheader(f"试算结果（用时 {result['seconds']:.1f} 秒）")
    cols = st.columns(4)
    cols[0].metric("DIP 基金", fmt.fmt_yuan(row["dip_fund_yuan"]),
                   fmt.fmt_delta_pct(row["dip_fund_yuan"] / base["dip_fund_yuan"] - 1))
    cols[1].metric("结算点值（元/分）", f"{row['pv_settlement_yuan']:.4f}",
                   fmt.fmt_delta_pct(row["pv_settlement_yuan"] / base["pv_settlement_yuan"] - 1))
    cols[2].metric("预算点值（元/分）", f"{row['pv_budget_yuan']:.4f}",
                   fmt.fmt_delta_pct(row["pv_budget_yuan"] / base["pv_budget_yuan"] - 1))
    cols[3].metric("年终结算合计", fmt.fmt_yuan(row["year_end_total_yuan"]),
                   help="浮动点值下等于 DIP 基金；固定或弹性点值可有结余或超支")
    baseline = data.hospital_settlement("baseline")[["hospital_id", "hospital_name",
                                                      "dip_amount_yuan"]]
    what_if = result["hospitals"][["hospital_id", "year_end_amount_yuan"]]
    if data.hospital_scope():  # a deployment restricted to one hospital shows only its row
        what_if = what_if[what_if["hospital_id"] == data.hospital_scope()]
    merged = baseline.merge(what_if, on="hospital_id", how="outer").rename(
        columns={"dip_amount_yuan": "baseline_yuan", "year_end_amount_yuan": "what_if_yuan"})
    merged["change_yuan"] = merged["what_if_yuan"] - merged["baseline_yuan"]
    merged = merged.sort_values("change_yuan")
    chart, table = st.columns([3, 2])
    chart.bar_chart(merged.set_index("hospital_name")["change_yuan"] / fmt.WAN,
                    y_label="变化（万元）", horizontal=True)
    with table:
        common.show_table(merged, HOSPITAL_COLUMNS)


def _save(changes: dict) -> None:
    """Save the edited scenario as data/scenarios/NAME.yaml, or download it."""
    st.subheader("保存情景")
    left, right = st.columns(2)
    name = left.text_input("情景名（字母、数字、_ -）", key="wi_name", placeholder="growth_6pct")
    description = right.text_input("说明", key="wi_desc", placeholder="基金增长率 6%")
    text = scenario_yaml(name or "what_if", description or "预算情景页面保存", changes)
    st.download_button("下载 YAML", text, file_name=f"{name or 'what_if'}.yaml",
                       mime="text/yaml", key="wi_download")
    if st.button("保存到 data/scenarios/", key="wi_save"):
        if not _NAME.match(name or "") or name == "baseline":
            st.error("情景名须为 1–40 个字母、数字、_ 或 -，且不能是 baseline。")
            return
        path = scenario_dir() / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        st.success(f"已保存 {path}；运行 dip-sim simulate --year … --scenario {path} 后可在"
                   "情景对比中比较。")


def _file_label(path: Path) -> str:
    """``growth_8pct.yaml（data/scenarios）``: the file and its folder."""
    folder = path.parent.resolve()
    shown = folder.relative_to(PROJECT_ROOT) if folder.is_relative_to(PROJECT_ROOT) else folder
    return f"{path.name}（{shown}）"


def _compare_saved(year: int) -> None:
    """Saved scenario files run as what-ifs, side by side with the baseline's results."""
    files = scenario_files()
    if not files:
        return
    st.subheader("已保存情景比较")
    labels = {str(p): _file_label(p) for p in files}
    chosen = st.multiselect("情景文件", list(labels), format_func=labels.get,
                            key="saved_files", placeholder="选择要比较的情景文件")
    if st.button("试算并比较", key="saved_run", disabled=not chosen):
        rows, errors = [], []
        with st.spinner(f"逐个试算 {len(chosen)} 个情景（每个约 2 秒）…"):
            for name in chosen:
                path = Path(name)
                try:
                    rows.append({**run_scenario_file(data.warehouse_path(), path, year,
                                                     data.region_scope()),
                                 "file": path.name})
                except (PolicyError, SimulationError, ValueError, OSError,
                        duckdb.Error) as exc:  # a file that cannot be run: say which and why
                    errors.append((path.name, str(exc)))
        st.session_state[SAVED_KEY] = {"rows": rows, "errors": errors}
    result = st.session_state.get(SAVED_KEY)
    if not result:
        st.caption("所选情景文件逐个在基线上试算（只读，不改动数据仓库），与基线的模拟结果并列。")
        return
    for name, message in result["errors"]:
        st.error(f"情景文件 {name} 无法试算：{message}")
    if result["rows"]:
        baseline = data.fund_year_end(data.BASELINE).assign(scenario=data.BASELINE, file="—")
        table = pd.concat([baseline, pd.DataFrame(result["rows"])], ignore_index=True)
        common.show_table(table, SAVED_COLUMNS)
        st.caption("第一行为数据仓库中基线的模拟结果；其余为各情景文件的试算（不写入数据仓库）。"
                   "年终结算合计：各医院年终结算额之和（含考核扣减、审核扣款、结余留用与超支分担）。")


if __name__ == "__main__":
    render()

