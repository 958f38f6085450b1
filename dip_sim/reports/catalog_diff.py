"""Comparing two catalogues: what changed between two scenarios' runs, and why.

Each scenario's last run is in the warehouse with its catalogue version, parameters and the
panel's adjustments. :func:`catalog_diff` returns, for scenarios A and B: their summaries
side by side; the parameters that differ; groups added, removed and re-pointed (points
changed, with the adjustment that touched the group); cases moved between groups (with B's
rule path for them, which names a merge or an adjusted key); and each hospital's points and
DIP amount under both. ``dip-sim catalog-diff A B`` prints them (``--out`` writes them all to
Excel).
"""

from __future__ import annotations

import json

import duckdb
import pandas as pd

from dip_sim.text import cell

SUMMARY_FIELDS = ("catalog_version", "adjustments_file", "procedure_key", "core_threshold_method",
                  "core_threshold", "n_core", "n_comprehensive", "core_coverage",
                  "grouping_rate_year", "mean_cv", "riv")


def _check(con: duckdb.DuckDBPyConnection, *scenarios: str) -> None:
    there = {r[0] for r in con.execute("SELECT DISTINCT scenario FROM catalog_summary").fetchall()}
    missing = [s for s in scenarios if s not in there]
    if missing:
        raise ValueError(f"情景 {', '.join(missing)} 没有目录结果（已有: "
                         f"{', '.join(sorted(there)) or '无'}）：请先运行 dip-sim simulate")


def parameter_changes(con: duckdb.DuckDBPyConnection, a: str, b: str) -> pd.DataFrame:
    """Parameters whose values differ between the two runs (columns parameter, value_a, value_b)."""
    runs = dict(con.execute("SELECT scenario, params_json FROM runs WHERE scenario IN (?, ?)",
                            [a, b]).fetchall())
    values_a, values_b = (json.loads(runs.get(s) or "{}") for s in (a, b))
    rows = [(name, json.dumps(values_a.get(name), ensure_ascii=False),
             json.dumps(values_b.get(name), ensure_ascii=False))
            for name in sorted(set(values_a) | set(values_b))
            if values_a.get(name) != values_b.get(name)]
    return pd.DataFrame(rows, columns=["parameter", "value_a", "value_b"])


def catalog_diff(con: duckdb.DuckDBPyConnection, a: str, b: str) -> dict[str, pd.DataFrame]:
    """The differences between scenario ``a``'s and ``b``'s catalogues, as named tables."""
    _check(con, a, b)
    fields = ", ".join(SUMMARY_FIELDS)
    summary = con.execute(f"SELECT scenario, {fields} FROM catalog_summary "
                          "WHERE scenario IN (?, ?)", [a, b]).df().set_index("scenario")
    summary = summary.T.reindex(columns=[a, b]).reset_index(names="metric")
    groups = con.execute("""
        WITH ga AS (SELECT * FROM catalog_groups WHERE scenario = ?),
             gb AS (SELECT * FROM catalog_groups WHERE scenario = ?)
        SELECT coalesce(gb.group_code, ga.group_code) AS group_code,
               coalesce(gb.group_type, ga.group_type) AS group_type,
               CASE WHEN ga.group_code IS NULL THEN 'added'
                    WHEN gb.group_code IS NULL THEN 'removed'
                    WHEN abs(ga.rw - gb.rw) > 1e-9 * greatest(abs(ga.rw), 1) THEN 'repointed'
                    ELSE 'same' END AS change,
               ga.n_cases AS n_cases_a, gb.n_cases AS n_cases_b, ga.rw AS rw_a, gb.rw AS rw_b,
               gb.rw / ga.rw - 1 AS rw_change, gb.adjusted_by
        FROM ga FULL OUTER JOIN gb USING (group_code)
        ORDER BY change, abs(coalesce(gb.rw, 0) - coalesce(ga.rw, 0)) DESC, group_code
    """, [a, b]).df()
    moves = con.execute("""
        SELECT ca.group_code AS group_a, cb.group_code AS group_b, count(*) AS n_cases,
               count(*) FILTER (WHERE ca.year = (SELECT max(year) FROM case_groups
                                                 WHERE scenario = ?)) AS n_cases_year,
               any_value(cb.trace) AS trace_b
        FROM (SELECT case_id, year, group_code FROM case_groups WHERE scenario = ?) ca
        JOIN (SELECT case_id, group_code, trace FROM case_groups WHERE scenario = ?) cb
          USING (case_id)
        WHERE ca.group_code IS DISTINCT FROM cb.group_code
        GROUP BY ALL ORDER BY n_cases DESC, group_a, group_b
    """, [b, a, b]).df()
    hospitals = con.execute("""
        WITH h AS (SELECT hospital_id, any_value(hospital_name) AS hospital_name
                   FROM hospitals GROUP BY ALL)
        SELECT coalesce(sb.hospital_id, sa.hospital_id) AS hospital_id, h.hospital_name,
               sa.total_points AS points_a, sb.total_points AS points_b,
               sb.total_points - sa.total_points AS points_change,
               sa.dip_amount_yuan AS dip_amount_a_yuan, sb.dip_amount_yuan AS dip_amount_b_yuan,
               sb.dip_amount_yuan - sa.dip_amount_yuan AS dip_change_yuan
        FROM (SELECT * FROM hospital_settlement WHERE scenario = ?) sa
        FULL OUTER JOIN (SELECT * FROM hospital_settlement WHERE scenario = ?) sb
          USING (hospital_id)
        LEFT JOIN h ON h.hospital_id = coalesce(sb.hospital_id, sa.hospital_id)
        ORDER BY abs(coalesce(dip_change_yuan, 0)) DESC, hospital_id
    """, [a, b]).df()
    adjustments = con.execute("""
        SELECT scenario, adjustment_id, action, target, author, date, reason, applied,
               not_applied_reason
        FROM catalog_adjustments WHERE scenario IN (?, ?) ORDER BY scenario = ?, seq
    """, [a, b, b]).df()
    return {"概况": summary, "参数差异": parameter_changes(con, a, b),
            "病种变化": groups[groups["change"] != "same"].reset_index(drop=True),
            "病例流向": moves, "医院影响": hospitals, "专家调整": adjustments}


CHANGE_ZH = {"added": "新增", "removed": "删除", "repointed": "分值变化"}


def format_diff(tables: dict[str, pd.DataFrame], a: str, b: str, limit: int = 15) -> str:
    """The differences as text for the terminal (the first ``limit`` rows of each list)."""
    lines = [f"目录比较：A = {a}，B = {b}", ""]
    summary = tables["概况"]
    for _, row in summary.iterrows():
        lines.append(f"  {row['metric']:<24}{cell(row[a]):>20}{cell(row[b]):>20}")
    params = tables["参数差异"]
    lines += ["", f"参数差异（{len(params)} 项）:"]
    lines += [f"  {r.parameter}: {r.value_a} → {r.value_b}" for r in params.itertuples()]
    groups = tables["病种变化"]
    counts = groups["change"].value_counts()
    lines += ["", "病种: " + "，".join(f"{CHANGE_ZH[k]} {counts.get(k, 0)} 组"
                                        for k in ("added", "removed", "repointed"))]
    for r in groups.head(limit).itertuples():
        why = f"（调整 {r.adjusted_by}）" if isinstance(r.adjusted_by, str) and r.adjusted_by else ""
        lines.append(f"  {CHANGE_ZH[r.change]:<6}{r.group_code:<32} "
                     f"分值 {cell(r.rw_a)} → {cell(r.rw_b)}{why}")
    moves = tables["病例流向"]
    lines += ["", f"病例改变病种（{int(moves['n_cases'].sum()) if len(moves) else 0:,} 例，"
                  f"{len(moves)} 种流向）:"]
    for r in moves.head(limit).itertuples():
        lines.append(f"  {cell(r.group_a)} → {cell(r.group_b)}: {r.n_cases:,} 例   {r.trace_b}")
    hospitals = tables["医院影响"]
    lines += ["", "医院影响（按 DIP 支付变化排序）:"]
    for r in hospitals.head(limit).itertuples():
        lines.append(f"  {r.hospital_id} {cell(r.hospital_name)}: 分值 {cell(r.points_change)}，"
                     f"DIP 支付 {cell(r.dip_change_yuan)} 元")
    adjustments = tables["专家调整"]
    if len(adjustments):
        lines += ["", "专家调整:"]
        for r in adjustments.itertuples():
            state = "已应用" if r.applied else f"未应用：{r.not_applied_reason}"
            lines.append(f"  [{r.scenario}] {r.adjustment_id} {r.action} {r.target}（{r.author}，"
                         f"{r.date:%Y-%m-%d}：{r.reason}）{state}")
    return "\n".join(lines)

