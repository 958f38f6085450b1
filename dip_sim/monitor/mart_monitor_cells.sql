-- What the monitoring counts, by hospital, year and discharge month (its other models read
-- these sums, so that a change of the month monitored or of the budget recounts no case):
-- the simulation year's scored cases with their points, catalogue points (rw), cost, fund
-- payments and cases outside the cost band, and its cases grouped or not; the grouped history
-- cases with their rw. last_month: the last month of the simulation year loaded. The scored
-- cases are read with their points (mart_case_scores), which a budget does not change.
-- Sums of doubles are taken exactly, as DECIMAL (see catalog/int_keyed.sql).
WITH sim AS (
    SELECT hospital_id, getvariable('run.sim_year') AS year, month, count(*) AS n_cases,
           CAST(sum(CAST(case_points AS DECIMAL(38, 10))) AS DOUBLE) AS points,
           CAST(sum(CAST(coalesce(rw, 0) AS DECIMAL(38, 10))) AS DOUBLE) AS rw,
           CAST(sum(total_cost_yuan) AS DOUBLE) AS total_cost_yuan,
           CAST(sum(fund_paid_yuan) AS DOUBLE) AS fund_paid_yuan,
           count(*) FILTER (WHERE outlier IN ('low', 'high', 'extreme')) AS n_outliers
    FROM mart_case_scores
    GROUP BY hospital_id, month
), year_cases AS (
    SELECT hospital_id, month, count(*) AS n_all, count(*) FILTER (WHERE NOT grouped) AS n_ungrouped
    FROM mart_case_groups
    WHERE year = getvariable('run.sim_year')
    GROUP BY hospital_id, month
), history AS (
    SELECT h.hospital_id, h.year, h.month, count(*) AS n_cases,
           CAST(sum(CAST(c.rw AS DECIMAL(38, 10))) AS DOUBLE) AS rw
    FROM int_history_grouped h
    JOIN mart_catalog_groups c USING (group_code)
    GROUP BY h.hospital_id, h.year, h.month
), last AS (
    SELECT max(month) AS last_month FROM mart_case_scores
)
SELECT getvariable('run.scenario') AS scenario, coalesce(s.hospital_id, y.hospital_id) AS hospital_id,
       getvariable('run.sim_year') AS year, coalesce(s.month, y.month) AS month,
       coalesce(s.n_cases, 0) AS n_cases, s.points, s.rw, s.total_cost_yuan, s.fund_paid_yuan,
       coalesce(s.n_outliers, 0) AS n_outliers, coalesce(y.n_all, 0) AS n_all,
       coalesce(y.n_ungrouped, 0) AS n_ungrouped, l.last_month
FROM sim s
FULL JOIN year_cases y ON y.hospital_id = s.hospital_id AND y.month = s.month
CROSS JOIN last l
UNION ALL
SELECT getvariable('run.scenario'), h.hospital_id, h.year, h.month, h.n_cases, NULL, h.rw, NULL,
       NULL, 0, 0, 0, l.last_month
FROM history h CROSS JOIN last l
