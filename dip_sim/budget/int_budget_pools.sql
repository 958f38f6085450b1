-- The fund pools (budget.split_by_insurance): separate funds, R and point values for employee
-- and resident insurance. Per pool: growth = its last-year grouped fund payments × (1 + g) ×
-- (1 − reserve rate); the other methods share the fund out by those payments. R_p = its fund
-- payments ÷ its costs this year. Without the split, one pool 'all' holds int_budget's fund,
-- reserve and R.
WITH prev AS (
    SELECT CASE WHEN p.budget.split_by_insurance THEN coalesce(f.insurance_type, 'unknown')
                ELSE 'all' END AS pool,
           CAST(sum(h.fund_paid_yuan) AS DOUBLE) AS fund_paid_yuan
    FROM int_history_grouped h JOIN case_features f USING (case_id) CROSS JOIN run_params p
    -- read only with the split (a constant, so the scan is left out without it)
    WHERE getvariable('budget.split_by_insurance') AND h.year = p.run.sim_year - 1
    GROUP BY ALL
), sim AS (  -- the grouped cases of the simulation year (as int_budget reads them)
    SELECT pool, CAST(sum(fund_paid_yuan) AS DOUBLE) AS fund_paid_yuan,
           CAST(sum(total_cost_yuan) AS DOUBLE) AS total_cost_yuan
    FROM mart_case_score_cells WHERE grouped GROUP BY pool
)
SELECT s.pool,
       CASE WHEN NOT p.budget.split_by_insurance THEN b.dip_fund_yuan
            WHEN p.budget.method = 'growth'
                THEN coalesce(pr.fund_paid_yuan, 0) * (1 + p.budget.growth_rate) * (1 - p.budget.reserve_rate)
            ELSE b.dip_fund_yuan * coalesce(pr.fund_paid_yuan, 0)
                 / NULLIF(sum(pr.fund_paid_yuan) OVER (), 0) END AS dip_fund_yuan,
       CASE WHEN NOT p.budget.split_by_insurance THEN b.reserve_yuan
            WHEN p.budget.method = 'growth'
                THEN coalesce(pr.fund_paid_yuan, 0) * (1 + p.budget.growth_rate) * p.budget.reserve_rate
            ELSE b.reserve_yuan * coalesce(pr.fund_paid_yuan, 0)
                 / NULLIF(sum(pr.fund_paid_yuan) OVER (), 0) END AS reserve_yuan,
       CASE WHEN NOT p.budget.split_by_insurance THEN b.fund_ratio
            ELSE s.fund_paid_yuan / s.total_cost_yuan END AS fund_ratio
FROM sim s LEFT JOIN prev pr USING (pool) CROSS JOIN run_params p CROSS JOIN int_budget b
