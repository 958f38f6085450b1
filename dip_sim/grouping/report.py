"""The catalogue report for the expert panel (分组质量报告, issue 4 §4).

Reads what ``dip-sim simulate`` wrote for one scenario: ``catalog_summary`` (the whole
catalogue: groups, core coverage, 入组率, the CV distribution, RIV), ``catalog_groups`` (per
group: cases, weighted mean cost, SD, CV, median and P5/P95 cost, mean LOS, share of outliers,
hospital-level mix), ``catalog_group_years`` (cases per history year) and
``hospital_indices`` (CMI, cost and time consumption indices). :func:`write_catalog_report`
writes them as an Excel workbook (``dip-sim catalog-report``); the dashboard's 病种目录 page
shows the same figures.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from dip_sim.workbook import write_workbook

# column headers of the workbook (the tables keep English names)
COLUMN_LABELS: dict[str, str] = {
    "scenario": "情景", "year": "模拟年度", "procedure_key": "手术操作取法",
    "core_threshold_method": "核心病种阈值取法", "core_threshold": "核心病种阈值（例）",
    "n_core": "核心病种组数", "n_comprehensive": "综合病种组数",
    "n_history_cases": "历史病例数（可入组）", "n_history_grouped": "历史入组病例数",
    "core_coverage": "核心病种覆盖率", "grouping_rate_history": "历史入组率",
    "grouping_rate_year": "模拟年度入组率", "mean_cv": "平均变异系数",
    "case_weighted_cv": "按病例加权变异系数", "n_cv_below_05": "CV<0.5 组数",
    "n_cv_05_to_1": "CV 0.5–1 组数", "n_cv_above_1": "CV>1 组数", "riv": "RIV（R²）",
    "group_code": "病种编码", "group_type": "病种类型", "dx_key": "诊断", "proc_key": "手术操作",
    "proc_class": "操作类别", "n_cases": "病例数", "mean_cost_yuan": "加权次均费用（元）",
    "sd_cost_yuan": "费用标准差（元）", "cv": "变异系数", "rw": "分值",
    "median_cost_yuan": "费用中位数（元）", "p5_cost_yuan": "费用 P5（元）",
    "p95_cost_yuan": "费用 P95（元）", "mean_los_days": "平均住院日",
    "outlier_share": "费用偏差病例占比", "share_level3": "三级医院占比",
    "share_level2": "二级医院占比", "share_level1": "一级医院占比",
    "hospital_id": "定点医疗机构代码", "hospital_name": "医疗机构名称", "level": "医院等级",
    "cmi": "CMI", "cost_index": "费用消耗指数", "time_index": "时间消耗指数",
    "n_primary_cases": "基层病种病例数", "n_tcm_cases": "中医优势病种病例数",
    "tcm_points": "中医优势病种分值", "primary_group": "基层病种（已采用）",
    "primary_candidate": "基层病种候选", "tcm_group": "中医优势病种",
    "n_primary_candidates": "基层病种候选组数", "n_primary": "基层病种组数",
    "n_tcm": "中医优势病种组数", "dimension": "分型维度", "subtype": "细分类型",
    "coefficient": "辅助分型系数", "cv_before": "细分前 CV", "cv_after": "细分后 CV",
    "cv_reduction": "CV 降幅", "forced_by": "专家指定（调整编号）",
    "catalog_version": "目录版本", "adjustments_file": "专家调整文件", "metric": "指标",
    "parameter": "参数", "value_a": "A 取值", "value_b": "B 取值", "change": "变化",
    "n_cases_a": "A 病例数", "n_cases_b": "B 病例数", "rw_a": "A 分值", "rw_b": "B 分值",
    "rw_change": "分值变化率", "adjusted_by": "专家调整", "rw_computed": "测算分值",
    "group_a": "A 病种", "group_b": "B 病种", "n_cases_year": "其中模拟年度",
    "trace_b": "B 分组路径", "points_a": "A 分值合计", "points_b": "B 分值合计",
    "points_change": "分值变化", "dip_amount_a_yuan": "A DIP 支付（元）",
    "dip_amount_b_yuan": "B DIP 支付（元）", "dip_change_yuan": "DIP 支付变化（元）",
    "adjustment_id": "调整编号", "action": "调整类型", "target": "对象", "author": "作者",
    "date": "日期", "reason": "理由", "applied": "已应用", "not_applied_reason": "未应用原因",
}

GROUP_COLUMNS = ("group_code", "group_type", "dx_key", "proc_key", "proc_class", "n_cases",
                 "mean_cost_yuan", "sd_cost_yuan", "cv", "median_cost_yuan", "p5_cost_yuan",
                 "p95_cost_yuan", "mean_los_days", "outlier_share", "share_level3",
                 "share_level2", "share_level1", "rw")


def catalog_tables(con: duckdb.DuckDBPyConnection, scenario: str) -> dict[str, pd.DataFrame]:
    """The report's tables for ``scenario``, keyed by their (Chinese) sheet names.

    Raises ``ValueError`` naming the scenarios there are when ``scenario`` has no catalogue.
    """
    summary = con.execute("SELECT * FROM catalog_summary WHERE scenario = ?", [scenario]).df()
    if summary.empty:
        there = [r[0] for r in con.execute(
            "SELECT DISTINCT scenario FROM catalog_summary ORDER BY 1").fetchall()]
        raise ValueError(f"情景 {scenario} 没有分组质量结果（已有: {', '.join(there) or '无'}）："
                         "请先运行 dip-sim simulate")
    summary = summary.melt(id_vars=["scenario"], var_name="metric", value_name="value")
    summary["metric"] = summary["metric"].map(lambda m: COLUMN_LABELS.get(m, m))
    groups = con.execute(f"""
        SELECT {', '.join(GROUP_COLUMNS)} FROM catalog_groups WHERE scenario = ?
        ORDER BY group_type <> 'core', n_cases DESC, group_code""", [scenario]).df()
    years = con.execute("""
        SELECT group_code, year, n_cases, mean_cost_yuan FROM catalog_group_years
        WHERE scenario = ? ORDER BY group_code, year""", [scenario]).df()
    hospitals = con.execute("""
        SELECT i.hospital_id, h.hospital_name, h.level, i.n_cases, i.cmi, i.cost_index,
               i.time_index, i.n_primary_cases, i.n_tcm_cases, i.tcm_points
        FROM hospital_indices i
        LEFT JOIN (SELECT hospital_id, any_value(hospital_name) AS hospital_name,
                          any_value(level) AS level FROM hospitals GROUP BY ALL) h
               USING (hospital_id)
        WHERE i.scenario = ? ORDER BY i.cmi DESC""", [scenario]).df()
    unstable = con.execute("""
        SELECT group_code, group_type, n_cases, cv, outlier_share, mean_cost_yuan, rw
        FROM catalog_groups WHERE scenario = ? AND cv > 0.7
        ORDER BY cv DESC, group_code""", [scenario]).df()
    primary = con.execute("""
        SELECT group_code, group_type, n_cases, cv, share_level1, share_level2, share_level3,
               primary_group, tcm_group, rw
        FROM catalog_groups WHERE scenario = ? AND (primary_candidate OR primary_group OR tcm_group)
        ORDER BY primary_group DESC, n_cases DESC, group_code""", [scenario]).df()
    subtypes = con.execute("""
        SELECT group_code, dimension, subtype, n_cases, mean_cost_yuan, coefficient, cv_before,
               cv_after, cv_reduction, forced_by
        FROM catalog_subtypes WHERE scenario = ? ORDER BY group_code, coefficient""",
        [scenario]).df()
    return {"目录概况": summary.rename(columns={"metric": "指标", "value": "数值"}),
            "病种组": groups, "CV大于0.7的组": unstable, "辅助分型": subtypes,
            "基层病种候选与中医病种": primary, "各年病例": years, "医院CMI与消耗指数": hospitals}


def write_catalog_report(con: duckdb.DuckDBPyConnection, scenario: str,
                         out: Path) -> dict[str, int]:
    """Write the catalogue report workbook to ``out``; return the rows of each sheet."""
    return write_workbook(catalog_tables(con, scenario), out, COLUMN_LABELS)
