-- Month by month: the simulation year's cases, points and catalogue points (rw) up to the
-- month monitored (monitoring.through_month, or the last month loaded when the data stop
-- earlier), beside the mean rw of the same month over the history years and the mean share of
-- a history year's rw reached by the end of the month (its seasonality).
-- Sums of doubles are taken exactly, as DECIMAL (see catalog/int_keyed.sql).
WITH t AS (
    SELECT least((SELECT p.monitoring.through_month FROM run_params p),
                 (SELECT max(last_month) FROM mart_monitor_cells)) AS through_month
), history AS (
    SELECT year, month, CAST(sum(CAST(rw AS DECIMAL(38, 10))) AS DOUBLE) AS rw
    FROM mart_monitor_cells WHERE year <> getvariable('run.sim_year')
    GROUP BY year, month
), history_share AS (
    SELECT year, month, rw,
           CAST(sum(CAST(rw AS DECIMAL(38, 10))) OVER (PARTITION BY year ORDER BY month)
                AS DOUBLE)
           / CAST(sum(CAST(rw AS DECIMAL(38, 10))) OVER (PARTITION BY year) AS DOUBLE)
               AS cum_share
    FROM history
), history_month AS (
    SELECT month, CAST(sum(CAST(rw AS DECIMAL(38, 10))) AS DOUBLE) / count(rw) AS history_rw,
           CAST(sum(CAST(cum_share AS DECIMAL(38, 10))) AS DOUBLE) / count(cum_share)
               AS history_cum_share
    FROM history_share GROUP BY month
), sim AS (
    SELECT c.month, sum(c.n_cases) AS n_cases,
           CAST(sum(CAST(c.points AS DECIMAL(38, 10))) AS DOUBLE) AS points,
           CAST(sum(CAST(c.rw AS DECIMAL(38, 10))) AS DOUBLE) AS rw
    FROM mart_monitor_cells c CROSS JOIN t
    WHERE c.year = getvariable('run.sim_year') AND c.month <= t.through_month
    GROUP BY c.month
), months AS (
    SELECT unnest(generate_series(1, 12)) AS month
)
SELECT p.run.scenario, m.month, m.month <= t.through_month AS monitored,
       coalesce(s.n_cases, 0) AS n_cases, s.points, s.rw, h.history_rw, h.history_cum_share
FROM months m
LEFT JOIN sim s ON s.month = m.month
LEFT JOIN history_month h ON h.month = m.month
CROSS JOIN t
CROSS JOIN run_params p
ORDER BY m.month
