-- A figure shown in a detail is rounded as a decimal (CAST … AS DECIMAL, then round): the
-- same text on DuckDB and Spark, whose rounding of a binary double differs at a tie (8.95).
WITH p AS (SELECT * FROM run_params)
-- 二次入院 within each window: any diagnosis, and the same diagnosis category (前 3 位)
SELECT (SELECT p.run.scenario FROM p) AS scenario, r.year, r.case_id, r.hospital_id, r.month,
       'readmit_' || w.days || 'd_' || kind.k AS index_code, r.prev_case_id AS related_case_id,
       r.prev_hospital_id AS related_hospital_id, r.gap_days::DOUBLE AS value,
       '距上次出院 ' || r.gap_days || ' 天' || CASE WHEN r.same_hospital THEN '（同院）'
                                                ELSE '（他院）' END AS detail
FROM sv_readmissions r
CROSS JOIN run_sv_windows w
CROSS JOIN (VALUES ('any'), ('same')) kind(k)
WHERE r.gap_days <= w.days AND (kind.k = 'any' OR r.same_dx3)
UNION ALL
-- 分解住院: back in the same hospital with the same diagnosis category within the gap
SELECT (SELECT p.run.scenario FROM p), r.year, r.case_id, r.hospital_id, r.month, 'split_admission',
       r.prev_case_id, r.prev_hospital_id, r.gap_days::DOUBLE,
       '同院同病种，距上次出院 ' || r.gap_days || ' 天'
FROM sv_readmissions r
WHERE r.same_hospital AND r.same_dx3 AND r.gap_days <= (SELECT p.supervision.split_max_gap_days FROM p)
UNION ALL
-- 低标入院: a short, cheap stay for a condition usually treated as an outpatient
SELECT p.run.scenario, b.year, b.case_id, b.hospital_id, b.month, 'low_standard', NULL, NULL,
       b.total_cost_yuan / b.group_mean_cost_yuan,
       '住院 ' || b.los_days || ' 天，费用为病种均值的 '
           || CAST(round(CAST(100 * b.total_cost_yuan / b.group_mean_cost_yuan AS DECIMAL(18, 6)), 1) AS DOUBLE) || '%'
FROM sv_base b CROSS JOIN p
WHERE b.los_days <= p.supervision.low_admission_max_los_days
  AND b.total_cost_yuan < p.supervision.low_admission_ratio * b.group_mean_cost_yuan
  AND (p.supervision.outpatient_conditions_file IS NULL
       OR EXISTS (SELECT 1 FROM run_sv_outpatient o WHERE starts_with(b.dx5, o.dx_prefix)))
UNION ALL
-- 超长住院: longer than a multiple of the group's mean LOS, or at least long_stay_days
SELECT p.run.scenario, b.year, b.case_id, b.hospital_id, b.month, 'long_stay', NULL, NULL,
       b.los_days / b.group_mean_los_days,
       '住院 ' || b.los_days || ' 天，病种平均 ' || CAST(round(CAST(b.group_mean_los_days AS DECIMAL(18, 6)), 1) AS DOUBLE) || ' 天'
FROM sv_base b CROSS JOIN p
WHERE b.los_days > p.supervision.long_stay_multiple * b.group_mean_los_days
   OR b.los_days >= p.supervision.long_stay_days
UNION ALL
-- 死亡风险: a death in a group whose regional mortality is low
SELECT p.run.scenario, b.year, b.case_id, b.hospital_id, b.month, 'low_risk_death', NULL, NULL,
       m.mortality, '低风险病种组（全市死亡率 ' || CAST(round(CAST(100 * m.mortality AS DECIMAL(18, 6)), 2) AS DOUBLE) || '%）死亡'
FROM sv_base b JOIN sv_group_mortality m USING (group_code) CROSS JOIN p
WHERE b.died AND m.low_risk
