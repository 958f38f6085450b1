"""Monthly monitoring of the simulation year (``dip-sim monitor``, page 运行监测).

The stored monitoring is that of each simulate: the cases up to ``monitoring.through_month``
(or the last month loaded). :func:`monitoring_tables` reads it, or, for another month, runs the
monitor stage again on the stored baseline without writing anything (a what-if reusing the
baseline's results: :func:`dip_sim.simulation.run_scenario` with ``persist=False``).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from dip_sim.pipeline.regions import results_in_region
from dip_sim.reports import HOSPITAL_NAMES
from dip_sim.text import cell

MARTS = {"点值估计": "mart_monitor_estimate", "逐月": "mart_monitor_months",
         "医院": "mart_monitor_hospitals"}
# the stored table each sheet's columns are labelled from
SOURCES = {"点值估计": "monitor_estimate", "逐月": "monitor_months", "医院": "monitor_hospitals"}


def _stored(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    return {sheet: con.execute(f"SELECT * EXCLUDE (scenario, region) FROM {table} "
                               "WHERE scenario = 'baseline'").df()
            for sheet, table in SOURCES.items()}


def _rerun(db: Path, year: int, through_month: int, region: str | None
           ) -> dict[str, pd.DataFrame]:
    from dip_sim.policy import Scenario, load_baseline
    from dip_sim.simulation import default_history, run_scenario

    con = duckdb.connect(config={"python_enable_replacements": False})
    try:
        con.execute("ATTACH ? AS wh (READ_ONLY)", [str(db)])
        con.execute("USE wh")
        row = run_scenario(con, Scenario("monitor", "运行监测", {"monitoring.through_month":
                                                               through_month}),
                           load_baseline(), year, default_history(year),
                           progress=lambda message: None, persist=False,
                           keep=tuple(MARTS.values()), region_code=region)
    finally:
        con.close()
    return {sheet: row[mart].drop(columns=["scenario"], errors="ignore")
            for sheet, mart in MARTS.items()}


def monitoring_tables(db: Path, year: int, through_month: int | None = None,
                      region: str | None = None) -> dict[str, pd.DataFrame]:
    """The baseline's monitoring of ``year`` (Chinese sheet names: 点值估计, 逐月, 医院, 预警):
    as stored, or through ``through_month`` computed now."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        with results_in_region(con, region) as shown:
            found = con.execute("SELECT year FROM runs WHERE scenario = 'baseline'").fetchall()
            if not found or found[0][0] != year:
                raise ValueError(f"仓库中没有基线情景 {year} 年的模拟结果：请先运行 "
                                 f"dip-sim simulate --year {year}")
            tables = _stored(con) if through_month is None else None
            names = con.execute(f"SELECT * FROM {HOSPITAL_NAMES}").df()
    finally:
        con.close()
    if tables is None:
        tables = _rerun(db, year, through_month, shown)
    hospitals = names.merge(tables["医院"], on="hospital_id", how="right")
    tables["医院"] = hospitals
    tables["预警"] = alerts(tables)
    return tables


def alerts(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The alerts of the monitoring's tables: the point value, then each hospital."""
    rows = []
    for _, e in tables["点值估计"].iterrows():
        if e["pv_alert"]:
            rows.append({"alert": "结算点值估计低于预算点值", "hospital_id": None,
                         "hospital_name": None, "alert_value": e["pv_gap"]})
    flagged = tables["医院"][tables["医院"]["growth_alert"].fillna(False).astype(bool)]
    for _, h in flagged.iterrows():
        rows.append({"alert": "医院分值增长超过历史年均增长", "hospital_id": h["hospital_id"],
                     "hospital_name": h.get("hospital_name"),
                     "alert_value": h["growth_to_date"] - (0 if pd.isna(h["history_pace"])
                                                           else h["history_pace"])})
    return pd.DataFrame(rows, columns=["alert", "hospital_id", "hospital_name", "alert_value"])


def format_monitoring(tables: dict[str, pd.DataFrame]) -> str:
    """The monitoring as text for the terminal."""
    e = tables["点值估计"].iloc[0]
    lines = [f"运行监测：截至 {int(e['through_month'])} 月，病例 {int(e['n_cases']):,} 例，"
             f"年初至今分值 {cell(e['points_to_date'])}",
             f"全年分值估计 {cell(e['points_estimate'])}（{cell(e['points_low'])} – "
             f"{cell(e['points_high'])}），结算点值估计 {e['pv_estimate_yuan']:.4f} 元/分"
             f"（{e['pv_low_yuan']:.4f} – {e['pv_high_yuan']:.4f}），预算点值 "
             f"{e['pv_budget_yuan']:.4f}，偏离 {e['pv_gap']:+.1%}", "", "预警:"]
    lines += [f"  {line}" for line in alert_lines(tables)] or ["  无"]
    return "\n".join(lines)


def alert_lines(tables: dict[str, pd.DataFrame]) -> list[str]:
    """Each alert as one line: what, whose (全市 for the point value), by how much."""
    out = []
    for _, a in tables["预警"].iterrows():
        who = f"{a['hospital_name'] or ''}（{a['hospital_id']}）" if a["hospital_id"] else "全市"
        out.append(f"{a['alert']}：{who} {a['alert_value']:+.1%}")
    return out
