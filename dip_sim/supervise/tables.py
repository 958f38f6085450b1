"""The output tables of supervision and assessment (one set of rows per scenario).

Each is replaced for a scenario by :func:`dip_sim.supervise.run.supervise` (or by a
simulation run whose settlement uses the assessment scheme). Index codes and their Chinese
names are in :data:`INDEX_LABELS`.
"""

from __future__ import annotations

SUPERVISION_DDL: dict[str, str] = {
    # one row per flagged case and index it meets
    "supervision_cases": """
CREATE TABLE IF NOT EXISTS supervision_cases (
    scenario VARCHAR,
    year INTEGER,
    case_id VARCHAR,
    hospital_id VARCHAR,
    month INTEGER,
    index_code VARCHAR,
    related_case_id VARCHAR,
    related_hospital_id VARCHAR,
    value DOUBLE,
    detail VARCHAR
)""",
    # one row per hospital, year and index
    "supervision_hospitals": """
CREATE TABLE IF NOT EXISTS supervision_hospitals (
    scenario VARCHAR,
    year INTEGER,
    hospital_id VARCHAR,
    index_code VARCHAR,
    n_base BIGINT,
    n_flagged BIGINT,
    value DOUBLE,
    region_value DOUBLE,
    ratio_to_region DOUBLE,
    expected DOUBLE,
    z_score DOUBLE,
    prev_value DOUBLE,
    rank INTEGER
)""",
    # 编码高套 by diagnosis category: where the shift is
    "supervision_upcoding": """
CREATE TABLE IF NOT EXISTS supervision_upcoding (
    scenario VARCHAR,
    year INTEGER,
    hospital_id VARCHAR,
    dx3 VARCHAR,
    n_cases BIGINT,
    mean_rw DOUBLE,
    region_mean_rw DOUBLE,
    prev_mean_rw DOUBLE,
    proc_rate DOUBLE,
    region_proc_rate DOUBLE,
    prev_proc_rate DOUBLE,
    severity_rate DOUBLE,
    region_severity_rate DOUBLE,
    prev_severity_rate DOUBLE,
    excess_proc_cases DOUBLE,
    excess_severity_cases DOUBLE
)""",
    # the isolation forest's verdict on each hospital-month
    "supervision_anomalies": """
CREATE TABLE IF NOT EXISTS supervision_anomalies (
    scenario VARCHAR,
    year INTEGER,
    month INTEGER,
    hospital_id VARCHAR,
    n_cases BIGINT,
    anomaly_score DOUBLE,
    flagged BOOLEAN,
    rank INTEGER,
    reasons VARCHAR
)""",
    "assessment_indicators": """
CREATE TABLE IF NOT EXISTS assessment_indicators (
    scenario VARCHAR,
    year INTEGER,
    hospital_id VARCHAR,
    indicator VARCHAR,
    label VARCHAR,
    measure VARCHAR,
    weight DOUBLE,
    full_at DOUBLE,
    zero_at DOUBLE,
    x DOUBLE,
    points DOUBLE
)""",
    "assessment": """
CREATE TABLE IF NOT EXISTS assessment (
    scenario VARCHAR,
    year INTEGER,
    hospital_id VARCHAR,
    score DOUBLE,
    n_indicators BIGINT,
    coefficient DOUBLE,
    withhold_release DOUBLE
)""",
}

# output table ← the temp table that holds a run's rows
SUPERVISION_MARTS: dict[str, str] = {name: f"mart_{name}" for name in SUPERVISION_DDL}

# index code → Chinese name (the UI and the reports)
INDEX_LABELS: dict[str, str] = {
    "readmit_15d_any": "15 日再入院（任一病种）",
    "readmit_15d_same": "15 日同病种再入院",
    "readmit_31d_any": "31 日再入院（任一病种）",
    "readmit_31d_same": "31 日同病种再入院",
    "split_admission": "分解住院",
    "low_standard": "低标入院",
    "long_stay": "超长住院",
    "low_risk_death": "低风险组死亡",
    "upcode_procedure": "编码高套：手术操作编码率",
    "upcode_severity": "编码高套：严重并发症编码率",
    "upcode_cmi": "编码高套：同类目 CMI",
    "upcode_score": "编码高套评分",
    "quality_index": "病案质量指数",
    "drug_share": "药品费占比",
    "consumable_share": "耗材费占比",
    "oop_share": "个人负担比例",
    "cost_growth": "次均费用增长（超出全市）",
}


def index_label(code: str) -> str:
    """The Chinese name of an index code (windows other than 15/31 days named generically)."""
    if code in INDEX_LABELS:
        return INDEX_LABELS[code]
    if code.startswith("readmit_"):
        days, kind = code[len("readmit_"):].split("d_")
        return f"{days} 日{'同病种' if kind == 'same' else ''}再入院"
    return code
