-- Each hospital's year to date (docs/rules.md#运行监测): its cases and points up to the month
-- monitored, its share of the points against its share of the annual budget indicator, its
-- outlier rate (cases outside the cost band ÷ scored cases) and ungrouped rate (cases not
-- grouped ÷ its cases of those months), and the growth of its catalogue points (rw) over the
-- same months of the last history year against its history pace (the yearly growth of its rw
-- from the first history year to the last); an alert when the growth exceeds the pace by more
-- than monitoring.hospital_growth_alert.
WITH t AS (
    SELECT least((SELECT p.monitoring.through_month FROM run_params p),
                 (SELECT max(last_month) FROM mart_monitor_cells)) AS through_month
), fl AS (
    SELECT min(year) AS first_year, max(year) AS last_year FROM run_history
), sim AS (
    SELECT c.hospital_id, sum(c.n_cases) AS n_cases,
           CAST(sum(CAST(c.points AS DECIMAL(38, 10))) AS DOUBLE) AS points,
           CAST(sum(CAST(c.rw AS DECIMAL(38, 10))) AS DOUBLE) AS rw,
           sum(c.n_outliers) AS n_outliers, sum(c.n_all) AS n_all,
           sum(c.n_ungrouped) AS n_ungrouped
    FROM mart_monitor_cells c CROSS JOIN t
    WHERE c.year = getvariable('run.sim_year') AND c.month <= t.through_month
    GROUP BY c.hospital_id
), hist AS (
    SELECT c.hospital_id,
           CAST(sum(CAST(c.rw AS DECIMAL(38, 10))) FILTER (
               WHERE c.year = fl.last_year AND c.month <= t.through_month) AS DOUBLE)
               AS rw_last_same_months,
           CAST(sum(CAST(c.rw AS DECIMAL(38, 10))) FILTER (WHERE c.year = fl.last_year)
                AS DOUBLE) AS rw_last,
           CAST(sum(CAST(c.rw AS DECIMAL(38, 10))) FILTER (WHERE c.year = fl.first_year)
                AS DOUBLE) AS rw_first
    FROM mart_monitor_cells c CROSS JOIN t CROSS JOIN fl
    WHERE c.year <> getvariable('run.sim_year')
    GROUP BY c.hospital_id
), span AS (
    SELECT max(year) - min(year) AS years FROM run_history
), joined AS (
    SELECT s.hospital_id, s.n_cases, coalesce(s.points, 0) AS points, s.rw, s.n_outliers,
           s.n_all, s.n_ungrouped, h.rw_last_same_months, h.rw_last, h.rw_first,
           i.share AS indicator_share
    FROM sim s
    LEFT JOIN hist h ON h.hospital_id = s.hospital_id
    LEFT JOIN mart_hospital_budget_indicators i ON i.hospital_id = s.hospital_id
), rated AS (
    SELECT j.*,
           -- the total taken exactly, as DECIMAL: the same in whatever order the rows come
           j.points / NULLIF(CAST(sum(CAST(j.points AS DECIMAL(38, 10))) OVER () AS DOUBLE), 0)
               AS points_share,
           j.n_outliers / NULLIF(j.n_cases, 0) AS outlier_rate,
           j.n_ungrouped / NULLIF(j.n_all, 0) AS ungrouped_rate,
           j.rw / NULLIF(j.rw_last_same_months, 0) - 1 AS growth_to_date,
           CASE WHEN sp.years > 0 AND j.rw_first > 0
                THEN pow(j.rw_last / j.rw_first, 1.0 / sp.years) - 1 END AS history_pace
    FROM joined j CROSS JOIN span sp
)
SELECT p.run.scenario, r.hospital_id, t.through_month, r.n_cases, r.points AS points_to_date,
       r.points_share, r.indicator_share, r.outlier_rate, r.ungrouped_rate, r.growth_to_date,
       r.history_pace,
       coalesce(r.growth_to_date - coalesce(r.history_pace, 0)
                > p.monitoring.hospital_growth_alert, false) AS growth_alert
FROM rated r CROSS JOIN t CROSS JOIN run_params p
ORDER BY r.hospital_id
