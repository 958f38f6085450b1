"""Many scenarios side by side (``dip-sim compare baseline s1 s2 …``).

For each scenario: its key figures (DIP fund, point values, R, total points, reserve, what
was paid at year end, 总额准确度 = DIP fund ÷ the year-end amounts paid), the parameters it
changed against the first scenario named, and each hospital's year-end amount under each.
"""

from __future__ import annotations

import json

import duckdb
import pandas as pd

from dip_sim.contract import column_label
from dip_sim.reports import HOSPITAL_NAMES
from dip_sim.text import cell

# the key figures, in order (point_values' columns, labelled by its contract)
KEY_FIGURES: tuple[str, ...] = (
    "dip_fund_yuan", "fund_ratio", "total_points", "pv_budget_yuan", "pv_settlement_yuan",
    "pv_gap", "reserve_yuan", "reserve_left_yuan", "year_end_total_yuan", "budget_accuracy")
# the one figure computed here
BUDGET_ACCURACY = "总额准确度（基金 ÷ 结算合计）"


def _check(con: duckdb.DuckDBPyConnection, scenarios: list[str]) -> None:
    there = {r[0] for r in con.execute("SELECT scenario FROM point_values").fetchall()}
    missing = [s for s in scenarios if s not in there]
    if missing:
        raise ValueError(f"情景 {', '.join(missing)} 没有模拟结果（已有: "
                         f"{', '.join(sorted(there)) or '无'}）：请先运行 dip-sim simulate")


def compare_tables(con: duckdb.DuckDBPyConnection, scenarios: list[str]) -> dict[str, pd.DataFrame]:
    """The comparison's tables: key figures, parameter changes, hospitals (Chinese sheet names)."""
    _check(con, scenarios)
    marks = ", ".join("?" for _ in scenarios)
    figures = con.execute(f"""
        SELECT scenario, dip_fund_yuan, fund_ratio, total_points, pv_budget_yuan,
               pv_settlement_yuan, pv_gap, reserve_yuan, reserve_left_yuan, year_end_total_yuan,
               dip_fund_yuan / NULLIF(year_end_total_yuan, 0) AS budget_accuracy
        FROM point_values WHERE scenario IN ({marks})""", scenarios).df()
    figures = figures.set_index("scenario").reindex(scenarios).T.reset_index(names="metric")
    figures["metric"] = [BUDGET_ACCURACY if m == "budget_accuracy"
                         else column_label(m, "point_values") for m in figures["metric"]]
    runs = dict(con.execute(f"SELECT scenario, params_json FROM runs WHERE scenario IN ({marks})",
                            scenarios).fetchall())
    base = json.loads(runs.get(scenarios[0]) or "{}")
    changes = []
    for name in scenarios[1:]:
        values = json.loads(runs.get(name) or "{}")
        for key in sorted(set(base) | set(values)):
            if base.get(key) != values.get(key):
                changes.append((name, key, json.dumps(base.get(key), ensure_ascii=False),
                                json.dumps(values.get(key), ensure_ascii=False)))
    params = pd.DataFrame(changes, columns=["scenario", "parameter", "value_base", "value"])
    amounts = con.execute(f"""
        SELECT hospital_id, scenario, year_end_amount_yuan FROM hospital_settlement
        WHERE scenario IN ({marks})""", scenarios).df()
    names = con.execute(f"SELECT * FROM {HOSPITAL_NAMES}").df()
    wide = (amounts.pivot(index="hospital_id", columns="scenario",
                          values="year_end_amount_yuan")
            .reindex(columns=scenarios).reset_index())
    wide.columns.name = None
    wide = names.merge(wide, on="hospital_id", how="right").sort_values("hospital_id")
    for name in scenarios[1:]:
        wide[f"{name} − {scenarios[0]}"] = wide[name] - wide[scenarios[0]]
    return {"关键指标": figures, "参数变化": params, "医院年终结算额": wide}


def format_compare(tables: dict[str, pd.DataFrame], scenarios: list[str]) -> str:
    """The comparison as text for the terminal."""
    width = 20
    lines = ["情景比较：" + "、".join(scenarios), "",
             f"{'指标':<22}" + "".join(f"{s:>{width}}" for s in scenarios)]
    for _, row in tables["关键指标"].iterrows():
        lines.append(f"{row['metric']:<22}" + "".join(f"{cell(row[s]):>{width}}" for s in scenarios))
    lines += ["", "各情景改变的参数（相对 " + scenarios[0] + "）:"]
    params = tables["参数变化"]
    if params.empty:
        lines.append("  无")
    lines += [f"  {r.scenario}: {r.parameter} {r.value_base} → {r.value}" for r in params.itertuples()]
    hospitals = tables["医院年终结算额"]
    lines += ["", "医院年终结算额（元）:"]
    for _, row in hospitals.iterrows():
        lines.append(f"  {row['hospital_id']:<14}{str(row['hospital_name'] or ''):<14}"
                     + "".join(f"{cell(row[s]):>{width}}" for s in scenarios))
    return "\n".join(lines)

