-- Year-end amounts, clearing, each case's share, and the point-value summary (issue 5 §5).
-- year-end amount = assessed amount − clawback + overspend share paid − unreleased deposit;
-- clearing = year-end amount − Σ net prepayments − the advance.
-- Reads: int_year_end, int_sharing, int_reserve, mart_case_scores, int_hospital_points,
--   int_point_values, run_params.
-- Writes mart_hospital_settlement (grain: hospital), int_case_amounts (grain: case; also
--   mart_case_scores.case_amount_yuan), mart_point_values (1 row).
CREATE OR REPLACE TEMP TABLE mart_hospital_settlement AS
WITH x AS (
    SELECT y.*, s.surplus_retained_yuan, s.clawback_yuan,
           s.overspend_requested_yuan * r.overspend_paid_share AS overspend_shared_yuan
    FROM int_year_end y JOIN int_sharing s USING (hospital_id) CROSS JOIN int_reserve r
), z AS (
    SELECT x.*, x.assessed_amount_yuan - x.clawback_yuan + x.overspend_shared_yuan
                - x.withhold_kept_yuan AS year_end_amount_yuan
    FROM x
)
SELECT p.scenario, p.sim_year AS year, z.hospital_id, z.n_cases, z.total_points,
       z.dip_amount_yuan, z.ffs_fund_paid_yuan,
       z.dip_amount_yuan - z.ffs_fund_paid_yuan AS diff_yuan,
       z.prepaid_yuan,
       z.year_end_amount_yuan - z.prepaid_yuan - z.advance_yuan AS clearing_yuan,
       z.assessment_coefficient, z.deductions_yuan, z.assessed_amount_yuan,
       z.surplus_retained_yuan, z.clawback_yuan, z.overspend_shared_yuan, z.withheld_yuan,
       z.withhold_released_yuan, z.advance_yuan, z.year_end_amount_yuan
FROM z CROSS JOIN run_params p;

-- each case's share of its hospital's DIP amount (by points): Σ over a hospital's cases = its
-- DIP amount; the year-end amount = that + the adjustments above (a test holds the sums)
CREATE OR REPLACE TEMP TABLE int_case_amounts AS
SELECT s.case_id, s.case_points / NULLIF(hp.points, 0) * h.dip_amount_yuan AS case_amount_yuan
FROM mart_case_scores s
JOIN int_hospital_points hp USING (hospital_id)
JOIN mart_hospital_settlement h USING (hospital_id);

UPDATE mart_case_scores s SET case_amount_yuan = a.case_amount_yuan
FROM int_case_amounts a WHERE a.case_id = s.case_id;

-- What the point values say (issue 5 §2): the gap between the settlement and the budget
-- point value, the change from the last history year's cost per point, and what the fund
-- kept or lacked under a non-floating mode.
CREATE OR REPLACE TEMP TABLE mart_point_values AS
WITH paid AS (
    SELECT CAST(sum(CAST(dip_amount_yuan AS DECIMAL(38, 10))) AS DOUBLE) AS amount,
           CAST(sum(CAST(year_end_amount_yuan AS DECIMAL(38, 10))) AS DOUBLE) AS year_end,
           sum(overspend_shared_yuan) AS shared
    FROM mart_hospital_settlement
), pv AS (
    SELECT v.*, CASE WHEN v.pv_mode = 'floating'
                          AND NOT (SELECT split_by_insurance FROM run_params) THEN v.pv_floating
                     ELSE paid.amount / v.fund_ratio / v.total_points END AS pv_settlement_yuan,
           v.dip_fund_yuan - paid.amount AS budget_balance_yuan,
           paid.year_end AS year_end_total_yuan, r.inflow_yuan AS reserve_inflow_yuan,
           paid.shared AS reserve_paid_yuan,
           v.reserve_yuan + r.inflow_yuan - paid.shared AS reserve_left_yuan,
           -- 结余留用覆盖率: the share of the hospitals' surpluses they keep
           r.retained_yuan / NULLIF(r.surplus_yuan, 0) AS surplus_retention_rate
    FROM int_point_values v, paid, int_reserve r
)
SELECT pv.* EXCLUDE (pv_floating),
       pv.pv_settlement_yuan / pv.pv_budget_yuan - 1 AS pv_gap,
       pv.pv_settlement_yuan / pv.pv_prev_year_yuan - 1 AS pv_yoy_change
FROM pv;

-- each fund pool's fund, R, points and point value ('all' without the insurance split)
CREATE OR REPLACE TEMP TABLE mart_pool_point_values AS
SELECT p.scenario, p.sim_year AS year, pl.pool, pl.dip_fund_yuan, pl.reserve_yuan, pl.fund_ratio,
       pl.total_points,
       CASE WHEN p.pv_mode = 'fixed' THEN v.pv_budget_yuan ELSE pl.pv_floating END
           AS pv_settlement_yuan
FROM int_pools pl CROSS JOIN run_params p CROSS JOIN int_point_values v;

-- the point value over the years: each history year's cost per point (its grouped cases'
-- cost ÷ their catalogue points) and the simulation year's settlement point value
CREATE OR REPLACE TEMP TABLE mart_point_value_years AS
SELECT p.scenario, h.year, 'history' AS kind,
       CAST(sum(h.total_cost_yuan) AS DOUBLE)
       / CAST(sum(CAST(c.rw AS DECIMAL(38, 10))) AS DOUBLE) AS value_per_point
FROM int_history_grouped h JOIN mart_catalog_groups c USING (group_code) CROSS JOIN run_params p
GROUP BY p.scenario, h.year
UNION ALL
SELECT scenario, year, 'settlement', pv_settlement_yuan FROM mart_point_values;
