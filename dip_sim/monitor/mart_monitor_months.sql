-- Month by month: the simulation year's cases, points and catalogue points (rw) up to the
-- month monitored, beside the mean rw of the same month over the history years and the mean
-- share of a history year's rw reached by the end of the month (its seasonality).
-- Sums of doubles are taken exactly, as DECIMAL (see catalog/int_keyed.sql).
WITH history AS (
    SELECT year, month, CAST(sum(CAST(rw AS DECIMAL(38, 10))) AS DOUBLE) AS rw
    FROM int_monitor_cases WHERE year <> getvariable('run.sim_year')
    GROUP BY year, month
), history_share AS (
    SELECT year, month, rw,
           sum(rw) OVER (PARTITION BY year ORDER BY month) / sum(rw) OVER (PARTITION BY year)
               AS cum_share
    FROM history
), sim AS (
    SELECT month, count(*) AS n_cases,
           CAST(sum(CAST(case_points AS DECIMAL(38, 10))) AS DOUBLE) AS points,
           CAST(sum(CAST(rw AS DECIMAL(38, 10))) AS DOUBLE) AS rw
    FROM int_monitor_cases WHERE year = getvariable('run.sim_year')
    GROUP BY month
), history_month AS (
    SELECT month, avg(rw) AS history_rw, avg(cum_share) AS history_cum_share
    FROM history_share GROUP BY month
), months AS (
    SELECT unnest(generate_series(1, 12)) AS month
), t AS (
    SELECT max(through_month) AS through_month FROM int_monitor_cases
)
SELECT p.run.scenario, m.month, m.month <= t.through_month AS monitored,
       coalesce(s.n_cases, 0) AS n_cases, s.points, s.rw, h.history_rw, h.history_cum_share
FROM months m
LEFT JOIN sim s ON s.month = m.month
LEFT JOIN history_month h ON h.month = m.month
CROSS JOIN t
CROSS JOIN run_params p
ORDER BY m.month
