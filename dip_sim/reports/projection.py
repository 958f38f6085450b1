"""The point-value projection of simulated scenarios (``dip-sim project``, page 预测).

Reads what ``dip-sim simulate`` stored (``projection_years``, ``projection_hospitals``,
docs/rules.md#点值预测): each scenario's point values over the coming years side by side, its
risk line (the first year its settlement point value falls below ``projection.risk_share`` of
the simulation year's, and the hospitals driving the points growth), and each hospital's
points and amount from the simulation year to the last projected one.
"""

from __future__ import annotations

import json

import duckdb
import pandas as pd

from dip_sim.contract import column_label
from dip_sim.reports import HOSPITAL_NAMES
from dip_sim.text import cell

# the workbook's headers of the columns not labelled by projection_hospitals' contract
LABELS = {"metric": "指标", "scenario": "情景", "risk": "风险线", "hospital_name": "医院名称"}
# the stored table each sheet's columns are labelled from
SOURCES = {"点值预测": "projection_years", "医院预测": "projection_hospitals"}
# the yearly figures shown per scenario, in order (projection_years' columns)
YEAR_FIGURES: tuple[str, ...] = ("pv_settlement_yuan", "pv_share", "pv_budget_yuan",
                                 "dip_fund_yuan", "total_points", "n_cases")


def projected_scenarios(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The scenarios with a stored projection, the baseline first."""
    names = [r[0] for r in con.execute(
        "SELECT DISTINCT scenario FROM projection_years ORDER BY scenario").fetchall()]
    return sorted(names, key=lambda s: s != "baseline")


def _check(con: duckdb.DuckDBPyConnection, scenarios: list[str]) -> None:
    there = projected_scenarios(con)
    missing = [s for s in scenarios if s not in there]
    if missing:
        raise ValueError(f"情景 {', '.join(missing)} 没有点值预测（已有: {', '.join(there) or '无'}）："
                         "请先运行 dip-sim simulate --scenario ...")


def risk_share(con: duckdb.DuckDBPyConnection, scenario: str) -> float:
    """The scenario's ``projection.risk_share`` as its run recorded it."""
    found = con.execute("SELECT params_json FROM runs WHERE scenario = ?", [scenario]).fetchall()
    return float(json.loads(found[0][0])["projection.risk_share"])


def risk_line(con: duckdb.DuckDBPyConnection, scenario: str, drivers: int = 5) -> str:
    """One sentence: the first projected year below the risk line with the hospitals driving
    the points growth to it, or the lowest share reached when none is below."""
    share = risk_share(con, scenario)
    rows = con.execute("""
        SELECT year, pv_settlement_yuan, pv_share, below_risk_line FROM projection_years
        WHERE scenario = ? AND years_ahead > 0 ORDER BY year""", [scenario]).fetchall()
    below = [r for r in rows if r[3]]
    if not below:
        low = min(rows, key=lambda r: r[2])
        return (f"{scenario}：预测期内结算点值不低于模拟年度的 {share:.0%}（风险线），最低为 {low[0]} 年的 "
                f"{low[1]:.4f}（{low[2]:.1%}）")
    year, pv, pv_share, _ = below[0]
    top = con.execute(f"""
        SELECT coalesce(n.hospital_name, p.hospital_id), p.hospital_id, p.growth_share
        FROM projection_hospitals p LEFT JOIN {HOSPITAL_NAMES} n USING (hospital_id)
        WHERE p.scenario = ? AND p.year = ? AND p.growth_share > 0
        ORDER BY p.growth_share DESC, p.hospital_id LIMIT ?""", [scenario, year, drivers]).fetchall()
    named = "、".join(f"{name}（{hid}，{g:.1%}）" for name, hid, g in top)
    return (f"{scenario}：结算点值将在 {year} 年降至 {pv:.4f}，为模拟年度的 {pv_share:.1%}，低于风险线 "
            f"{share:.0%}" + (f"；分值增长主要来自 {named}" if named else ""))


def projection_tables(con: duckdb.DuckDBPyConnection, scenarios: list[str],
                      drivers: int = 5) -> dict[str, pd.DataFrame]:
    """The projection's tables (Chinese sheet names): the yearly figures of every scenario
    side by side, the risk lines, and each hospital's points and amounts per scenario."""
    _check(con, scenarios)
    marks = ", ".join("?" for _ in scenarios)
    years = con.execute(f"""
        SELECT scenario, year, {', '.join(YEAR_FIGURES)} FROM projection_years
        WHERE scenario IN ({marks}) ORDER BY year""", scenarios).df()
    long = years.melt(id_vars=["scenario", "year"], var_name="metric")
    wide = long.pivot_table(index=["metric", "year"], columns="scenario", values="value",
                            sort=False).reindex(columns=scenarios).reset_index()
    wide.columns.name = None
    wide["metric"] = [column_label(m, "projection_years") for m in wide["metric"]]
    risks = pd.DataFrame({"scenario": scenarios,
                          "risk": [risk_line(con, s, drivers) for s in scenarios]})
    hospitals = con.execute(f"""
        SELECT p.scenario, p.hospital_id, n.hospital_name, p.year, p.n_cases, p.points,
               p.amount_yuan, p.points_change, p.growth_share
        FROM projection_hospitals p LEFT JOIN {HOSPITAL_NAMES} n USING (hospital_id)
        WHERE p.scenario IN ({marks}) ORDER BY p.scenario, p.hospital_id, p.year""",
                            scenarios).df()
    return {"点值预测": wide, "风险线": risks, "医院预测": hospitals}


def format_projection(tables: dict[str, pd.DataFrame], scenarios: list[str]) -> str:
    """The projection as text for the terminal: the point values per year and the risk lines."""
    figures = tables["点值预测"].rename(columns={"metric": "指标", "year": "年度"})
    text = figures.to_string(index=False, formatters={s: cell for s in scenarios})
    risks = [f"  {r}" for r in tables["风险线"]["risk"]]
    return "\n".join(["点值预测：" + "、".join(scenarios), "", text, "", "风险线:", *risks])
