"""An anomaly screen of hospital-months: a second opinion beside the rule indices.

Each hospital-month with at least ``supervision.anomaly_min_cases`` cases is described by
indicators computed in SQL (CMI, cost and time indices, procedure and severity coding
rates, short stays, deaths, drug and out-of-pocket shares, and the shares of split
admissions, readmissions, low-standard admissions and over-long stays). Each becomes two z
scores (:func:`anomaly_features`): against the hospital's own months (a change of behaviour)
and against hospitals of the same level in the same month (unlike its peers). A
scikit-learn ``IsolationForest`` (seeded) scores the vectors; the ``anomaly_contamination``
share with the most isolated vectors is flagged, and each hospital-month names the three
features that stand out most.
"""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

# feature → Chinese name (the reasons a month is listed)
FEATURES: dict[str, str] = {
    "cmi": "CMI",
    "cost_index": "费用消耗指数",
    "time_index": "时间消耗指数",
    "proc_rate": "手术操作编码率",
    "severity_rate": "严重并发症编码率",
    "short_stay_rate": "3 日内出院占比",
    "death_rate": "死亡率",
    "drug_share": "药品费占比",
    "oop_share": "个人负担比例",
    "split_admission": "分解住院占比",
    "readmit_15d_same": "15 日同病种再入院占比",
    "low_standard": "低标入院占比",
    "long_stay": "超长住院占比",
}
_FLAG_FEATURES = ("split_admission", "readmit_15d_same", "low_standard", "long_stay")
# features that are shares of the month's cases (their z is a count's; see anomaly_features)
COUNT_FEATURES = frozenset({"proc_rate", "severity_rate", "short_stay_rate", "death_rate",
                            *_FLAG_FEATURES})
MAD_SCALE = 1.4826  # MAD × 1.4826 estimates the standard deviation of normal data


def _exact_sum(expression: str) -> str:
    """SQL of the sum of a DOUBLE ``expression`` taken exactly, as DECIMAL (the convention of
    catalog/int_keyed.sql): the same cases in another order give the same bits."""
    return f"CAST(sum(CAST({expression} AS DECIMAL(38, 10))) AS DOUBLE)"


def _monthly(con: duckdb.DuckDBPyConnection, min_cases: int) -> pd.DataFrame:
    flags = ", ".join(
        f"coalesce(count(DISTINCT f.case_id) FILTER (WHERE f.index_code = '{code}'), 0) "
        f"/ any_value(m.n_cases) AS {code}" for code in _FLAG_FEATURES)
    cost = "CAST(sum(b.total_cost_yuan) AS DOUBLE)"  # DECIMAL in sv_base: exact
    return con.execute(f"""
        WITH m AS (
            SELECT b.year, b.month, b.hospital_id, any_value(b.level) AS level,
                   count(*) AS n_cases, {_exact_sum("b.rw")} / nullif(count(b.rw), 0) AS cmi,
                   {cost} / nullif({_exact_sum("b.group_mean_cost_yuan")}, 0) AS cost_index,
                   sum(b.los_days) / nullif({_exact_sum("b.group_mean_los_days")}, 0)
                       AS time_index,
                   avg(b.has_proc::INTEGER) AS proc_rate,
                   avg(b.severity_coded::INTEGER) AS severity_rate,
                   avg((b.los_days <= 3)::INTEGER) AS short_stay_rate,
                   avg(b.died::INTEGER) AS death_rate,
                   CAST(sum(b.drug_yuan) AS DOUBLE) / nullif({cost}, 0) AS drug_share,
                   coalesce(CAST(sum(b.patient_paid_yuan) AS DOUBLE) / nullif({cost}, 0), 0)
                       AS oop_share
            FROM sv_base b
            GROUP BY b.year, b.month, b.hospital_id
            HAVING count(*) >= ?
        )
        SELECT m.*, {flags}
        FROM m LEFT JOIN mart_supervision_cases f
          ON f.hospital_id = m.hospital_id AND f.year = m.year AND f.month = m.month
        GROUP BY ALL
        ORDER BY m.year, m.month, m.hospital_id""", [min_cases]).df()


def _robust_z(deviation: pd.Series) -> pd.Series:
    scale = MAD_SCALE * (deviation - deviation.median()).abs().median()
    if not np.isfinite(scale) or scale <= 0:
        scale = deviation.std() or 1.0
    return deviation / scale


def _count_z(count: pd.Series, n: pd.Series, keys: list[pd.Series]) -> pd.Series:
    """2(√count − √expected), expected = n × the pooled rate of the rows sharing ``keys``."""
    rate = count.groupby(keys).transform("sum") / n.groupby(keys).transform("sum")
    return 2 * (np.sqrt(count) - np.sqrt(n * rate))


def anomaly_features(monthly: pd.DataFrame) -> pd.DataFrame:
    """Each feature's z against the hospital's own months and against its peers' month.

    Rates of cases (coding rates, short stays, deaths, flagged shares) are counts: their z is
    the variance-stabilised Poisson deviation 2(√count − √expected), expected from the
    hospital's own rate over all its months, or from the rate of hospitals of its level in
    that month, so that one flagged case in a small month does not look extreme. The other
    features (CMI, indices, cost shares) get a robust z of their distance to the median
    (own months, or the peers' month), scaled by the pooled MAD.
    """
    n = monthly["n_cases"].astype(float)
    own_keys = [monthly["hospital_id"]]
    peer_keys = [monthly["year"], monthly["month"], monthly["level"]]
    out = {}
    for feature in FEATURES:
        x = monthly[feature].astype(float).fillna(0.0)
        if feature in COUNT_FEATURES:
            count = (x * n).round()
            out[f"{feature}:own"] = _count_z(count, n, own_keys)
            out[f"{feature}:peers"] = _count_z(count, n, peer_keys)
        else:
            out[f"{feature}:own"] = _robust_z(x - x.groupby(own_keys).transform("median"))
            out[f"{feature}:peers"] = _robust_z(x - x.groupby(peer_keys).transform("median"))
    return pd.DataFrame(out, index=monthly.index)


def _reasons(row: pd.Series, top: int = 3) -> str:
    """The ``top`` features that stand out most, in Chinese: ``分解住院占比 高于本院常态 (z = 5.1)``."""
    parts = []
    for name in row.abs().sort_values(ascending=False).head(top).index:
        feature, against = name.split(":")
        side = "高于" if row[name] > 0 else "低于"
        where = "本院常态" if against == "own" else "同级医院"
        parts.append(f"{FEATURES[feature]}{side}{where}（z = {row[name]:.1f}）")
    return "；".join(parts)


def screen_anomalies(con: duckdb.DuckDBPyConnection, scenario: str, min_cases: int,
                     contamination: float, seed: int) -> None:
    """``mart_supervision_anomalies``: every scored hospital-month, the flagged ones ranked.

    Hospital-months with fewer than ``min_cases`` cases are not scored; ``contamination`` is
    the share the isolation forest flags; ``seed`` makes its trees the same run after run.
    """
    monthly = _monthly(con, min_cases)
    columns = ["scenario", "year", "month", "hospital_id", "n_cases", "anomaly_score", "flagged",
               "rank", "reasons"]
    if len(monthly) < 10:  # too few hospital-months to learn what is usual
        result = pd.DataFrame(columns=columns)
    else:
        features = anomaly_features(monthly)
        forest = IsolationForest(n_estimators=200,
                                 contamination=contamination, random_state=seed)
        labels = forest.fit_predict(features.to_numpy())
        score = -forest.score_samples(features.to_numpy())  # higher: more unusual
        result = monthly[["year", "month", "hospital_id", "n_cases"]].copy()
        result.insert(0, "scenario", scenario)
        result["anomaly_score"] = score
        result["flagged"] = labels == -1
        result["rank"] = result["anomaly_score"].rank(ascending=False, method="first").astype(int)
        result["reasons"] = [_reasons(row) for _, row in features.iterrows()]
    con.register("sv_anomaly_frame", result[columns])
    con.execute("""CREATE OR REPLACE TEMP TABLE mart_supervision_anomalies AS
                   SELECT scenario::VARCHAR AS scenario, year::INTEGER AS year,
                          month::INTEGER AS month, hospital_id::VARCHAR AS hospital_id,
                          n_cases::BIGINT AS n_cases, anomaly_score::DOUBLE AS anomaly_score,
                          flagged::BOOLEAN AS flagged, rank::INTEGER AS rank,
                          reasons::VARCHAR AS reasons
                   FROM sv_anomaly_frame""")
    con.unregister("sv_anomaly_frame")


def anomaly_table(con: duckdb.DuckDBPyConnection, run: Any) -> None:
    """The anomaly screen as a model of the run (``mart_supervision_anomalies``)."""
    screen_anomalies(con, run.scenario, run.values["supervision.anomaly_min_cases"],
                     run.values["supervision.anomaly_contamination"],
                     run.values["supervision.anomaly_seed"])
