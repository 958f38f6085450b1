-- The year's DIP fund (区域总额预算) by budget.method, the reserve, the fund ratio R, and the
-- budget point value beside them (int_budget_point_value).
WITH prev AS (
    -- fund payments of the grouped cases of the year before the simulation year (none when it
    -- is no history year)
    SELECT coalesce(sum(fund_paid_yuan), 0) AS fund_paid_yuan,
           CAST(coalesce(sum(n_cases), 0) AS BIGINT) AS n_cases
    FROM mart_history_costs
    WHERE year = getvariable('run.sim_year') - 1
), prev_all AS (
    -- every inpatient fund payment of that year, grouped or not (for the proportion method)
    SELECT CAST(coalesce(sum(fund_paid_yuan), 0) AS DOUBLE) AS fund_paid_yuan
    FROM case_features WHERE year = getvariable('run.sim_year') - 1
), sim AS (
    -- the grouped cases of the simulation year, read from their scores (one per grouped case:
    -- the data test every_grouped_case_scored) summed by cell, which a budget does not change
    SELECT CAST(sum(fund_paid_yuan) AS DOUBLE) AS fund_paid_yuan,
           CAST(sum(total_cost_yuan) AS DOUBLE) AS total_cost_yuan,
           CAST(coalesce(sum(n_cases), 0) AS BIGINT) AS n_cases
    FROM mart_case_score_cells WHERE grouped
), base AS (
    -- the fund before the reserve, by budget.method [3.0]:
    --   growth: last year's DIP fund payments × (1 + g); fixed: the given amount;
    --   items: inpatient fund budget − out-of-area − non-DIP items;
    --   proportion: this year's inpatient fund × last year's DIP share of inpatient payments
    SELECT CASE p.budget.method
               WHEN 'fixed' THEN p.budget.fixed_fund_yuan
               WHEN 'items' THEN p.budget.inpatient_fund_yuan - p.budget.out_of_area_yuan - p.budget.non_dip_yuan
               WHEN 'proportion' THEN p.budget.inpatient_fund_yuan * prev.fund_paid_yuan
                                      / NULLIF(prev_all.fund_paid_yuan, 0)
               ELSE prev.fund_paid_yuan * (1 + p.budget.growth_rate) END AS base_fund_yuan,
           prev.fund_paid_yuan / NULLIF(prev_all.fund_paid_yuan, 0) AS dip_share_prev
    FROM run_params p, prev, prev_all
)
SELECT
    -- 预算点值 (int_budget_point_value)
    v.pv_budget_yuan, v.pv_budget_standard_yuan,
    -- the reserve (调剂金) is kept back from the fund: DIP fund = base × (1 − reserve rate)
    b.base_fund_yuan * (1 - p.budget.reserve_rate) AS dip_fund_yuan,
    b.base_fund_yuan * p.budget.reserve_rate AS reserve_yuan,
    b.dip_share_prev,
    -- 医保支付比例 R = Σ fund payments ÷ Σ total cost of the year's grouped cases
    sim.fund_paid_yuan / sim.total_cost_yuan AS fund_ratio,
    prev.n_cases AS n_cases_prev_year,
    sim.n_cases AS n_cases_sim_year,
    v.pv_prev_year_yuan
FROM run_params p, prev, sim, base b, int_budget_point_value v
