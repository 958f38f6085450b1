-- The running estimate of the year's settlement point value (docs/rules.md#运行监测): the
-- points to date, grossed up to a full year by the share of a history year's rw its months up
-- to the month monitored held (weighted by catalog.history_weights for the estimate; the
-- history years' smallest and largest shares give the range), against the year's DIP fund and
-- 医保支付比例 R of the cases to date: pv = (fund ÷ R) ÷ points of the year [2020, 3.0]. An
-- alert when the estimate is below the budget point value by more than
-- monitoring.pv_below_budget_alert.
WITH t AS (
    SELECT least((SELECT p.monitoring.through_month FROM run_params p),
                 (SELECT max(last_month) FROM mart_monitor_cells)) AS through_month
), to_date AS (
    SELECT sum(c.n_cases) AS n_cases,
           CAST(sum(CAST(c.points AS DECIMAL(38, 10))) AS DOUBLE) AS points,
           CAST(sum(CAST(c.fund_paid_yuan AS DECIMAL(38, 10))) AS DOUBLE)
           / CAST(sum(CAST(c.total_cost_yuan AS DECIMAL(38, 10))) AS DOUBLE) AS fund_ratio
    FROM mart_monitor_cells c CROSS JOIN t
    WHERE c.year = getvariable('run.sim_year') AND c.month <= t.through_month
), shares AS (
    SELECT c.year, max(h.weight) AS weight,
           CAST(sum(CAST(c.rw AS DECIMAL(38, 10))) FILTER (WHERE c.month <= t.through_month)
                AS DOUBLE)
           / CAST(sum(CAST(c.rw AS DECIMAL(38, 10))) AS DOUBLE) AS share
    FROM mart_monitor_cells c JOIN run_history h USING (year) CROSS JOIN t
    GROUP BY c.year
), gross AS (
    SELECT CAST(sum(CAST(weight * share AS DECIMAL(38, 10))) AS DOUBLE)
           / CAST(sum(CAST(weight AS DECIMAL(38, 10))) AS DOUBLE) AS share,
           min(share) AS share_min,
           max(share) AS share_max
    FROM shares
), est AS (
    SELECT d.n_cases, d.points, d.fund_ratio, b.dip_fund_yuan, v.pv_budget_yuan,
           d.points / g.share AS points_estimate, d.points / g.share_max AS points_low,
           d.points / g.share_min AS points_high, g.share
    FROM to_date d, gross g, int_budget b, int_budget_point_value v
)
SELECT p.run.scenario, t.through_month, e.n_cases, e.points AS points_to_date, e.share AS history_share,
       e.points_estimate, e.points_low, e.points_high, e.dip_fund_yuan, e.fund_ratio,
       e.pv_budget_yuan,
       e.dip_fund_yuan / e.fund_ratio / e.points_estimate AS pv_estimate_yuan,
       e.dip_fund_yuan / e.fund_ratio / e.points_high AS pv_low_yuan,
       e.dip_fund_yuan / e.fund_ratio / e.points_low AS pv_high_yuan,
       e.dip_fund_yuan / e.fund_ratio / e.points_estimate / e.pv_budget_yuan - 1 AS pv_gap,
       e.dip_fund_yuan / e.fund_ratio / e.points_estimate / e.pv_budget_yuan - 1
           < -p.monitoring.pv_below_budget_alert AS pv_alert
FROM est e CROSS JOIN t CROSS JOIN run_params p
