-- The point value over the coming years (点值预测, docs/rules.md#点值预测): the simulation year
-- (years_ahead 0) and each projected year.
-- - DIP fund: the simulation year's, grown at budget.growth_rate a year (the growth method on a
--   year whose DIP payments are its fund; the other methods' inpatient fund taken to grow at
--   the same rate); fixed: the same fund every year.
-- - 医保支付比例 R: the simulation year's.
-- - settlement point value = (fund ÷ R) ÷ total points [2020, 3.0]: the floating value, whose
--   fall year after year is 点值贬值 (in the simulation year it equals the settlement's under
--   point_value.mode floating).
-- - budget point value: the simulation year's; for a projected year, Σ w·cost ÷ Σ w·rw over the
--   years before it, weighted by catalog.history_weights (earliest first), history years as
--   loaded and later years as projected [2020, 3.0].
-- - below_risk_line: the settlement point value below projection.risk_share of the simulation
--   year's.
WITH years AS (
    SELECT year, k,
           CAST(sum(CAST(n_cases AS DECIMAL(38, 10))) AS DOUBLE) AS n_cases,
           CAST(sum(CAST(points AS DECIMAL(38, 10))) AS DOUBLE) AS total_points,
           CAST(sum(CAST(rw_sum AS DECIMAL(38, 10))) AS DOUBLE) AS total_rw,
           CAST(sum(CAST(total_cost_yuan AS DECIMAL(38, 10))) AS DOUBLE) AS total_cost_yuan
    FROM int_projection_hospital_years
    GROUP BY year, k
), funded AS (
    SELECT y.*, v.fund_ratio, v.pv_budget_yuan AS pv_budget_sim_yuan,
           CASE WHEN getvariable('budget.method') = 'fixed' THEN v.dip_fund_yuan
                ELSE v.dip_fund_yuan * pow(1 + getvariable('budget.growth_rate'), y.k) END
               AS dip_fund_yuan
    FROM years y CROSS JOIN mart_point_values v
), costs AS (
    SELECT year, total_cost_yuan, total_rw FROM mart_history_costs
    WHERE year < getvariable('run.sim_year')
    UNION ALL
    SELECT year, total_cost_yuan, total_rw FROM years
), n_weights AS (
    SELECT count(*) AS n FROM param_catalog_history_weights
), budget AS (
    SELECT f.year,
           CAST(sum(CAST(w.value * c.total_cost_yuan AS DECIMAL(38, 10))) AS DOUBLE)
           / CAST(sum(CAST(w.value * c.total_rw AS DECIMAL(38, 10))) AS DOUBLE) AS pv_budget_yuan
    FROM funded f
    CROSS JOIN n_weights nw
    CROSS JOIN param_catalog_history_weights w
    JOIN costs c ON c.year = f.year - nw.n + w.position - 1
    WHERE f.k > 0
    GROUP BY f.year
), valued AS (
    SELECT f.*, f.dip_fund_yuan / f.fund_ratio / f.total_points AS pv_settlement_yuan
    FROM funded f
)
SELECT p.run.scenario, v.year, v.k AS years_ahead, v.n_cases, v.total_points, v.total_cost_yuan,
       v.dip_fund_yuan, v.fund_ratio,
       CASE WHEN v.k = 0 THEN v.pv_budget_sim_yuan ELSE b.pv_budget_yuan END AS pv_budget_yuan,
       v.pv_settlement_yuan,
       v.pv_settlement_yuan / s.pv_settlement_yuan AS pv_share,
       v.pv_settlement_yuan < p.projection.risk_share * s.pv_settlement_yuan AS below_risk_line
FROM valued v
LEFT JOIN budget b USING (year)
CROSS JOIN (SELECT pv_settlement_yuan FROM valued WHERE k = 0) s
CROSS JOIN run_params p
ORDER BY v.year
