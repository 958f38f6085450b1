-- The cases the monitoring sees, by discharge month: the simulation year's scored cases up to
-- the month monitored (monitoring.through_month, or the last month loaded when the data stop
-- earlier), with their points and catalogue points (rw); and the grouped history cases of
-- every month with their rw, to compare the same months.
WITH through AS (
    SELECT least(p.monitoring.through_month,
                 (SELECT max(month) FROM mart_case_scores)) AS through_month
    FROM run_params p
)
SELECT s.hospital_id, getvariable('run.sim_year') AS year, s.month, s.case_points,
       coalesce(s.rw, 0) AS rw, s.outlier, s.group_type, s.total_cost_yuan, s.fund_paid_yuan,
       t.through_month
FROM mart_case_scores s CROSS JOIN through t
WHERE s.month <= t.through_month
UNION ALL
SELECT h.hospital_id, h.year, f.month, NULL AS case_points, c.rw, NULL AS outlier,
       h.group_type, NULL AS total_cost_yuan, NULL AS fund_paid_yuan, t.through_month
FROM int_history_grouped h
JOIN case_features f USING (case_id)
JOIN mart_catalog_groups c USING (group_code)
CROSS JOIN through t
