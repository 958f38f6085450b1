-- DIP fund, fund ratio and budget point value (dip_rules.md §4, issue 2 §3).
-- Reads: int_history_grouped, mart_catalog_groups, mart_case_groups, case_features,
--   int_pv_refined (pv_refine.sql; empty without a refinement), run_params, run_history.
-- Writes temp tables int_year_cases (grain: grouped case of the simulation year),
--   int_budget (1 row); pools.sql splits the fund by insurance when asked.

CREATE OR REPLACE TEMP TABLE int_year_cases AS
SELECT f.* EXCLUDE (status, severity, reason, has_case, has_settlement),
       g.group_code, g.group_type,
       -- the fund pool: employee / resident insurance when budget.split_by_insurance
       CASE WHEN (SELECT split_by_insurance FROM run_params)
            THEN coalesce(f.insurance_type, 'unknown') ELSE 'all' END AS pool
FROM (SELECT * FROM case_features WHERE year = (SELECT sim_year FROM run_params)) f
JOIN mart_case_groups g USING (case_id)
WHERE g.grouped;

CREATE OR REPLACE TEMP TABLE int_budget AS
WITH hist AS (
    -- per history year: total cost of its grouped cases and the Σ of their groups' rw
    SELECT h.year, any_value(h.weight) AS weight,
           CAST(sum(h.total_cost_yuan) AS DOUBLE) AS total_cost_yuan,
           CAST(sum(CAST(c.rw AS DECIMAL(38, 10))) AS DOUBLE) AS total_rw  -- exact sum: see catalog.sql
    FROM int_history_grouped h JOIN mart_catalog_groups c USING (group_code)
    GROUP BY h.year
), prev AS (
    -- fund payments of the grouped cases of the year before the simulation year
    SELECT CAST(coalesce(sum(h.fund_paid_yuan), 0) AS DOUBLE) AS fund_paid_yuan,
           count(*) AS n_cases
    FROM int_history_grouped h
    WHERE h.year = (SELECT sim_year - 1 FROM run_params)
), prev_all AS (
    -- every inpatient fund payment of that year, grouped or not (for the proportion method)
    SELECT CAST(coalesce(sum(fund_paid_yuan), 0) AS DOUBLE) AS fund_paid_yuan
    FROM case_features WHERE year = (SELECT sim_year - 1 FROM run_params)
), sim AS (
    SELECT CAST(sum(fund_paid_yuan) AS DOUBLE) AS fund_paid_yuan,
           CAST(sum(total_cost_yuan) AS DOUBLE) AS total_cost_yuan,
           count(*) AS n_cases
    FROM int_year_cases
), base AS (
    -- the fund before the reserve, by budget.method [3.0]:
    --   growth: last year's DIP fund payments × (1 + g); fixed: the given amount;
    --   items: inpatient fund budget − out-of-area − non-DIP items;
    --   proportion: this year's inpatient fund × last year's DIP share of inpatient payments
    SELECT CASE p.budget_method
               WHEN 'fixed' THEN p.fixed_fund_yuan
               WHEN 'items' THEN p.inpatient_fund_yuan - p.out_of_area_yuan - p.non_dip_yuan
               WHEN 'proportion' THEN p.inpatient_fund_yuan * prev.fund_paid_yuan
                                      / NULLIF(prev_all.fund_paid_yuan, 0)
               ELSE prev.fund_paid_yuan * (1 + p.growth_rate) END AS base_fund_yuan,
           prev.fund_paid_yuan / NULLIF(prev_all.fund_paid_yuan, 0) AS dip_share_prev
    FROM run_params p, prev, prev_all
)
SELECT
    -- 预算点值 = Σ_y w_y·cost_y / Σ_y w_y·points_y (1:2:7) [2020, 3.0], or as refined by
    -- point_value.budget_refinement
    -- (pv_refine.sql; without a refinement, or when it finds no value, the standard)
    coalesce((SELECT pv FROM int_pv_refined), std.pv) AS pv_budget_yuan,
    std.pv AS pv_budget_standard_yuan,
    -- the reserve (调剂金) is kept back from the fund: DIP fund = base × (1 − reserve rate)
    b.base_fund_yuan * (1 - p.reserve_rate) AS dip_fund_yuan,
    b.base_fund_yuan * p.reserve_rate AS reserve_yuan,
    b.dip_share_prev,
    -- 医保支付比例 R = Σ fund payments ÷ Σ total cost of the year's grouped cases
    sim.fund_paid_yuan / sim.total_cost_yuan AS fund_ratio,
    prev.n_cases AS n_cases_prev_year,
    sim.n_cases AS n_cases_sim_year,
    -- the last history year's cost per point, to compare the point value with
    (SELECT total_cost_yuan / total_rw FROM hist
     WHERE year = (SELECT max(year) FROM run_history)) AS pv_prev_year_yuan
FROM run_params p, prev, sim, base b,
     (SELECT CAST(sum(CAST(weight * total_cost_yuan AS DECIMAL(38, 10))) AS DOUBLE)
             / CAST(sum(CAST(weight * total_rw AS DECIMAL(38, 10))) AS DOUBLE) AS pv
      FROM hist) std;

