"""Settlement statements: a hospital's, and the bureau's.

``dip-sim report --scenario S --hospital H --out FILE.xlsx``: the hospital's summary (points,
DIP amount and its adjustments, prepayments, clearing), its annual budget indicator
(医院年度支付预算指标) against its prepayments and year-end amount, its groups with DIP against
fee-for-service, its outlier and special cases, and its monthly statement.
``dip-sim report --scenario S --out FILE.xlsx`` (no hospital): the bureau's report — the fund
and point values, every hospital, every hospital's budget indicator against its year-end
amount, DIP against fee-for-service by hospital level, insurance type, month and group, and
the hospitals and groups that gain and lose most.
DIP amounts per group and per insurance type come from each case's share of its hospital's
DIP amount (``case_scores.case_amount_yuan``); fee-for-service is the fund payments the cases
had (``fund_paid_yuan``).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from dip_sim.contract import code_label, column_label
from dip_sim.reports import HOSPITAL_NAMES
from dip_sim.workbook import write_workbook

# the summary's figures, from hospital_settlement (labels from its contract)
_SUMMARY_FIELDS = (
    "n_cases", "total_points", "dip_amount_yuan", "assessment_coefficient", "deductions_yuan",
    "assessed_amount_yuan", "surplus_retained_yuan", "clawback_yuan", "overspend_shared_yuan",
    "withheld_yuan", "withhold_released_yuan", "year_end_amount_yuan", "prepaid_yuan",
    "advance_yuan", "clearing_yuan", "ffs_fund_paid_yuan", "diff_yuan",
)
# the stored table each sheet's columns come from (their labels and code names)
HOSPITAL_SOURCES = {"年度支付预算指标": "hospital_budget_indicators",
                    "病种明细": "case_scores", "费用偏差病例": "case_scores",
                    "特例单议": "special_cases", "月度预付": "hospital_monthly"}
BUREAU_SOURCES = {"医院": "hospital_settlement", "年度支付预算指标": "hospital_budget_indicators",
                  "按医院等级": "hospital_settlement",
                  "按险种": "case_scores", "按月份": "hospital_monthly",
                  "获益最多的病种": "case_scores", "受损最多的病种": "case_scores",
                  "等级系数": "level_coefficients", "基金池": "point_values_by_insurance"}


def _scenario_exists(con: duckdb.DuckDBPyConnection, scenario: str) -> None:
    there = [r[0] for r in con.execute("SELECT scenario FROM point_values ORDER BY 1").fetchall()]
    if scenario not in there:
        raise ValueError(f"情景 {scenario} 没有模拟结果（已有: {', '.join(there) or '无'}）")


# the indicator sheet's figures, from hospital_budget_indicators and hospital_settlement
_INDICATOR_FIELDS = (
    "method", "basis", "history_cases", "trend_factor", "expected_points", "base_yuan", "share",
    "dip_fund_yuan", "indicator_yuan", "prepaid_yuan", "year_end_amount_yuan",
    "indicator_diff_yuan", "indicator_ratio",
)
_INDICATOR_SQL = """
    SELECT i.*, s.prepaid_yuan, s.year_end_amount_yuan,
           s.year_end_amount_yuan - CAST(i.indicator_yuan AS DOUBLE) AS indicator_diff_yuan,
           s.year_end_amount_yuan / NULLIF(CAST(i.indicator_yuan AS DOUBLE), 0) AS indicator_ratio
    FROM hospital_budget_indicators i
    LEFT JOIN hospital_settlement s USING (scenario, hospital_id)
    WHERE i.scenario = ?"""


def indicator_tables(con: duckdb.DuckDBPyConnection, scenario: str,
                     hospital_id: str | None = None) -> pd.DataFrame | None:
    """The budget indicators of ``scenario`` (of ``hospital_id`` only, as metric/value rows,
    when given) against the prepayments and year-end amounts; None when the warehouse was
    made before the indicator existed."""
    try:
        if hospital_id is None:
            return con.execute(f"""
                SELECT x.hospital_id, h.hospital_name, x.level, x.method, x.basis, x.share,
                       x.indicator_yuan, x.prepaid_yuan, x.year_end_amount_yuan,
                       x.indicator_diff_yuan, x.indicator_ratio
                FROM ({_INDICATOR_SQL}) x LEFT JOIN {HOSPITAL_NAMES} h USING (hospital_id)
                ORDER BY x.indicator_yuan DESC, x.hospital_id""", [scenario]).df()
        row = con.execute(_INDICATOR_SQL + " AND i.hospital_id = ?", [scenario, hospital_id]).df()
    except duckdb.CatalogException:
        return None
    if row.empty:
        return None
    r = row.iloc[0]
    return pd.DataFrame(
        [(column_label(f, "hospital_budget_indicators"),
          code_label(f, r[f], "hospital_budget_indicators") if f in ("method", "basis") else r[f])
         for f in _INDICATOR_FIELDS], columns=["metric", "value"])


def hospital_statement(con: duckdb.DuckDBPyConnection, scenario: str,
                       hospital_id: str) -> dict[str, pd.DataFrame]:
    """A hospital's statement tables (Chinese sheet names)."""
    _scenario_exists(con, scenario)
    row = con.execute("SELECT * FROM hospital_settlement WHERE scenario = ? AND hospital_id = ?",
                      [scenario, hospital_id]).df()
    if row.empty:
        raise ValueError(f"情景 {scenario} 中没有医院 {hospital_id} 的结算结果")
    name = con.execute("SELECT any_value(hospital_name), any_value(level) FROM hospitals "
                       "WHERE hospital_id = ?", [hospital_id]).fetchall()[0]
    summary = pd.DataFrame(
        [(column_label("hospital_id"), hospital_id), (column_label("hospital_name"), name[0]),
         (column_label("level"), code_label("level", name[1])),
         (column_label("scenario"), scenario)]
        + [(column_label(field, "hospital_settlement"), row.iloc[0][field])
           for field in _SUMMARY_FIELDS],
        columns=["metric", "value"])
    groups = con.execute("""
        SELECT group_code, any_value(group_type) AS group_type, count(*) AS n_cases,
               sum(case_points) AS points, sum(case_amount_yuan) AS dip_amount_yuan,
               sum(fund_paid_yuan) AS ffs_fund_paid_yuan,
               sum(case_amount_yuan) - sum(fund_paid_yuan) AS diff_yuan
        FROM case_scores WHERE scenario = ? AND hospital_id = ?
        GROUP BY group_code ORDER BY dip_amount_yuan DESC""", [scenario, hospital_id]).df()
    outliers = con.execute("""
        SELECT case_id, month, group_code, outlier, cost_ratio, total_cost_yuan, case_points
        FROM case_scores WHERE scenario = ? AND hospital_id = ? AND outlier <> 'none'
        ORDER BY outlier, cost_ratio DESC""", [scenario, hospital_id]).df()
    special = con.execute("""
        SELECT case_id, group_code, reasons, decision, paid_as_special, points_special, cap_note
        FROM special_cases WHERE scenario = ? AND hospital_id = ? ORDER BY case_id""",
        [scenario, hospital_id]).df()
    monthly = con.execute("""
        SELECT month, n_cases, points, gross_prepay_yuan, withheld_yuan, deductions_yuan,
               prepaid_yuan, cum_prepaid_yuan, ffs_fund_paid_yuan
        FROM hospital_monthly WHERE scenario = ? AND hospital_id = ? ORDER BY month""",
        [scenario, hospital_id]).df()
    tables = {"结算汇总": summary, "病种明细": groups, "费用偏差病例": outliers,
              "特例单议": special, "月度预付": monthly}
    indicator = indicator_tables(con, scenario, hospital_id)
    if indicator is not None:
        tables = {"结算汇总": summary, "年度支付预算指标": indicator, **tables}
    return tables


def bureau_report(con: duckdb.DuckDBPyConnection, scenario: str) -> dict[str, pd.DataFrame]:
    """The bureau's report tables (Chinese sheet names)."""
    _scenario_exists(con, scenario)
    pv = con.execute("SELECT * FROM point_values WHERE scenario = ?", [scenario]).df()
    overview = pv.T.reset_index()
    overview.columns = ["metric", "value"]
    overview["value"] = [code_label(m, v, "point_values") if m == "pv_mode" else v
                         for m, v in zip(overview["metric"], overview["value"], strict=True)]
    overview["metric"] = [column_label(m, "point_values") for m in overview["metric"]]
    hospitals = con.execute(f"""
        SELECT s.hospital_id, h.hospital_name, h.level, s.n_cases, s.total_points,
               s.dip_amount_yuan, s.year_end_amount_yuan,
               s.year_end_amount_yuan / 10000 AS year_end_amount_wan,
               s.ffs_fund_paid_yuan, s.diff_yuan,
               s.diff_yuan / NULLIF(s.ffs_fund_paid_yuan, 0) AS diff_pct,
               s.prepaid_yuan, s.clearing_yuan
        FROM hospital_settlement s
        LEFT JOIN {HOSPITAL_NAMES} h USING (hospital_id)
        WHERE s.scenario = ? ORDER BY s.diff_yuan DESC""", [scenario]).df()
    by_level = con.execute(f"""
        SELECT h.level, count(*) AS n_hospitals, sum(s.n_cases) AS n_cases,
               sum(s.dip_amount_yuan) AS dip_amount_yuan,
               sum(s.ffs_fund_paid_yuan) AS ffs_fund_paid_yuan, sum(s.diff_yuan) AS diff_yuan
        FROM hospital_settlement s
        LEFT JOIN {HOSPITAL_NAMES} h USING (hospital_id)
        WHERE s.scenario = ? GROUP BY h.level ORDER BY h.level DESC""", [scenario]).df()
    by_insurance = con.execute("""
        SELECT f.insurance_type, count(*) AS n_cases, sum(s.case_amount_yuan) AS dip_amount_yuan,
               sum(s.fund_paid_yuan) AS ffs_fund_paid_yuan,
               sum(s.case_amount_yuan) - sum(s.fund_paid_yuan) AS diff_yuan
        FROM case_scores s JOIN case_features f USING (case_id)
        WHERE s.scenario = ? GROUP BY f.insurance_type ORDER BY 1""", [scenario]).df()
    by_month = con.execute("""
        SELECT month, sum(n_cases) AS n_cases, sum(points) AS points,
               sum(prepaid_yuan) AS prepaid_yuan, sum(ffs_fund_paid_yuan) AS ffs_fund_paid_yuan
        FROM hospital_monthly WHERE scenario = ? GROUP BY month ORDER BY month""",
        [scenario]).df()
    by_group = con.execute("""
        SELECT group_code, any_value(group_type) AS group_type, count(*) AS n_cases,
               sum(case_amount_yuan) AS dip_amount_yuan, sum(fund_paid_yuan) AS ffs_fund_paid_yuan,
               sum(case_amount_yuan) - sum(fund_paid_yuan) AS diff_yuan
        FROM case_scores WHERE scenario = ? GROUP BY group_code""", [scenario]).df()
    coefficients = con.execute("""
        SELECT level, fixed_coefficient, cost_ratio_coefficient, n_history_cases,
               coefficient_in_force, method
        FROM level_coefficients WHERE scenario = ? ORDER BY level DESC""", [scenario]).df()
    pools = con.execute("""
        SELECT pool, dip_fund_yuan, dip_fund_yuan / 10000 AS dip_fund_wan, fund_ratio,
               total_points, pv_settlement_yuan
        FROM point_values_by_insurance WHERE scenario = ? ORDER BY pool""", [scenario]).df()
    gain = by_group.sort_values("diff_yuan", ascending=False).head(20)
    lose = by_group.sort_values("diff_yuan").head(20)
    indicators = indicator_tables(con, scenario)
    extra = {"年度支付预算指标": indicators} if indicators is not None else {}
    return {"基金与点值": overview, "医院": hospitals, **extra, "按医院等级": by_level,
            "按险种": by_insurance, "按月份": by_month, "获益最多的病种": gain,
            "受损最多的病种": lose, "等级系数": coefficients, "基金池": pools}


def write_report(con: duckdb.DuckDBPyConnection, scenario: str, hospital_id: str | None,
                 out: Path) -> dict[str, int]:
    """Write the hospital's statement (or, without ``hospital_id``, the bureau's report)."""
    tables = (hospital_statement(con, scenario, hospital_id) if hospital_id
              else bureau_report(con, scenario))
    return write_workbook(tables, out,
                          sources=HOSPITAL_SOURCES if hospital_id else BUREAU_SOURCES)
