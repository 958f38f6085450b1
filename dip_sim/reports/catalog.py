"""The catalogue report for the expert panel (分组质量报告).

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

from dip_sim.contract import column_label
from dip_sim.reports import HOSPITAL_NAMES
from dip_sim.workbook import write_workbook

# the stored table each sheet's columns come from (their labels and code names)
SOURCES = {"病种组": "catalog_groups", "CV大于0.7的组": "catalog_groups",
           "辅助分型": "catalog_subtypes", "基层病种候选与中医病种": "catalog_groups",
           "各年病例": "catalog_group_years", "医院CMI与消耗指数": "hospital_indices"}

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
    summary["metric"] = summary["metric"].map(lambda m: column_label(m, "catalog_summary"))
    groups = con.execute(f"""
        SELECT {', '.join(GROUP_COLUMNS)} FROM catalog_groups WHERE scenario = ?
        ORDER BY group_type <> 'core', n_cases DESC, group_code""", [scenario]).df()
    years = con.execute("""
        SELECT group_code, year, n_cases, mean_cost_yuan FROM catalog_group_years
        WHERE scenario = ? ORDER BY group_code, year""", [scenario]).df()
    hospitals = con.execute(f"""
        WITH region AS (SELECT sum(cmi * n_cases) / NULLIF(sum(n_cases), 0) AS cmi
                        FROM hospital_indices WHERE scenario = ?)
        SELECT i.hospital_id, h.hospital_name, h.level, i.n_cases,
               i.cmi / NULLIF(region.cmi, 0) AS cmi_relative, i.cmi, i.cost_index,
               i.time_index, i.n_primary_cases, i.n_tcm_cases, i.tcm_points
        FROM hospital_indices i CROSS JOIN region
        LEFT JOIN {HOSPITAL_NAMES} h USING (hospital_id)
        WHERE i.scenario = ? ORDER BY i.cmi DESC""", [scenario, scenario]).df()
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
        SELECT group_code, dimension, subtype, n_cases, mean_cost_yuan, aux_coefficient, cv_before,
               cv_after, cv_reduction, forced_by
        FROM catalog_subtypes WHERE scenario = ? ORDER BY group_code, aux_coefficient""",
        [scenario]).df()
    return {"目录概况": summary.rename(columns={"metric": "指标", "value": "数值"}),
            "病种组": groups, "CV大于0.7的组": unstable, "辅助分型": subtypes,
            "基层病种候选与中医病种": primary, "各年病例": years, "医院CMI与消耗指数": hospitals}


def write_catalog_report(con: duckdb.DuckDBPyConnection, scenario: str,
                         out: Path) -> dict[str, int]:
    """Write the catalogue report workbook to ``out``; return the rows of each sheet."""
    return write_workbook(catalog_tables(con, scenario), out, sources=SOURCES)
