-- Point values and hospital settlement (dip_rules.md §4 and §6, issue 2 §3, issue 5 §2).
-- Reads: mart_case_scores, mart_case_groups, mart_catalog_groups, run_levels, int_budget,
--   run_params, run_history.
-- Writes temp tables int_hospital_points (grain: hospital), int_point_values (1 row),
--   mart_hospital_monthly (grain: hospital × month), mart_hospital_settlement (grain:
--   hospital), mart_point_values (1 row).
--
-- point_value.mode [2020, 3.0]; P_h = hospital h's case points, P = Σ P_h, F = DIP fund,
-- R = 医保支付比例, pv_b = 预算点值. DIP amount_h = paid value of its points × R:
--   floating: every point at 结算点值 = (F ÷ R) ÷ P, so that Σ amounts = F;
--   fixed:    every point at pv_b;
--   elastic:  h's base volume, B_h = elastic_base_share × its points of the last history
--             year (Σ rw × level coefficient), is paid at pv_b up to P_h; the points beyond
--             it at a floating value pv_f = (F ÷ R − pv_b·Σ min(P_h, B_h)) ÷ Σ (P_h − B_h)⁺,
--             held within [floor, cap] × pv_b when set. Hospitals that grow past their base
--             share what is left of the fund.
-- 结算点值 is then Σ amounts ÷ R ÷ P (the value a point was paid on average). Floating, and
-- elastic within its bounds, pay out exactly F; otherwise budget_balance_yuan = F − Σ amounts
-- (negative: the fund overspent).
CREATE OR REPLACE TEMP TABLE int_hospital_points AS
WITH cur AS (
    SELECT hospital_id, CAST(sum(CAST(case_points AS DECIMAL(38, 10))) AS DOUBLE) AS points
    FROM mart_case_scores GROUP BY hospital_id
), prev AS (  -- its points in the last history year, at the catalogue's rw
    SELECT g.hospital_id,
           CAST(sum(CAST(c.rw * l.coefficient AS DECIMAL(38, 10))) AS DOUBLE) AS points
    FROM mart_case_groups g
    JOIN mart_catalog_groups c USING (group_code)
    JOIN run_levels l ON l.level = g.level
    WHERE g.grouped AND g.eligible AND g.year = (SELECT max(year) FROM run_history)
    GROUP BY g.hospital_id
)
SELECT cur.hospital_id, cur.points,
       least(cur.points, p.elastic_base_share * coalesce(prev.points, 0)) AS base_points,
       cur.points - least(cur.points, p.elastic_base_share * coalesce(prev.points, 0))
           AS excess_points
FROM cur LEFT JOIN prev USING (hospital_id) CROSS JOIN run_params p;

CREATE OR REPLACE TEMP TABLE int_point_values AS
WITH t AS (
    -- exact sums (see grouping/catalog.sql): the same inputs give the same bits
    SELECT CAST(sum(CAST(case_points AS DECIMAL(38, 10))) AS DOUBLE) AS total_points
    FROM mart_case_scores
), hp AS (
    SELECT CAST(sum(CAST(base_points AS DECIMAL(38, 10))) AS DOUBLE) AS base_points,
           CAST(sum(CAST(excess_points AS DECIMAL(38, 10))) AS DOUBLE) AS excess_points
    FROM int_hospital_points
), v AS (
    SELECT b.*, t.total_points, p.pv_mode,
           (b.dip_fund_yuan / b.fund_ratio) / t.total_points AS pv_floating,
           (b.dip_fund_yuan / b.fund_ratio - hp.base_points * b.pv_budget_yuan)
           / NULLIF(hp.excess_points, 0) AS pv_float_raw,
           p.elastic_floor, p.elastic_cap
    FROM int_budget b, t, hp, run_params p
)
SELECT p.scenario, p.sim_year AS year, v.dip_fund_yuan, v.fund_ratio, v.total_points,
       v.pv_budget_yuan, v.pv_mode, v.pv_floating,
       CASE WHEN v.pv_mode = 'elastic'
            THEN least(greatest(v.pv_float_raw,
                                coalesce(v.elastic_floor * v.pv_budget_yuan, v.pv_float_raw)),
                       coalesce(v.elastic_cap * v.pv_budget_yuan, v.pv_float_raw)) END
           AS pv_float_yuan,
       v.pv_budget_standard_yuan, v.reserve_yuan, v.pv_prev_year_yuan
FROM v CROSS JOIN run_params p;

-- monthly prepayment = the month's points × 预算点值 × R × (1 − withhold)
CREATE OR REPLACE TEMP TABLE mart_hospital_monthly AS
WITH m AS (
    SELECT hospital_id, month, count(*) AS n_cases, CAST(sum(CAST(case_points AS DECIMAL(38, 10))) AS DOUBLE) AS points,
           CAST(sum(CAST(fund_paid_yuan AS DECIMAL(38, 10))) AS DOUBLE) AS ffs_fund_paid_yuan
    FROM mart_case_scores GROUP BY hospital_id, month
)
SELECT p.scenario, p.sim_year AS year, m.hospital_id, m.month, m.n_cases, m.points,
       m.points * v.pv_budget_yuan * v.fund_ratio * (1 - p.withhold_rate) AS prepaid_yuan,
       m.ffs_fund_paid_yuan
FROM m CROSS JOIN int_point_values v CROSS JOIN run_params p;

-- DIP amount: the hospital's points paid as point_value.mode says, × R (above);
-- FFS = Σ fund payments of its grouped cases; clearing = DIP amount − Σ prepayments
CREATE OR REPLACE TEMP TABLE mart_hospital_settlement AS
WITH h AS (
    SELECT hospital_id, sum(n_cases) AS n_cases, CAST(sum(CAST(points AS DECIMAL(38, 10))) AS DOUBLE) AS total_points,
           CAST(sum(CAST(ffs_fund_paid_yuan AS DECIMAL(38, 10))) AS DOUBLE) AS ffs_fund_paid_yuan,
           CAST(sum(CAST(prepaid_yuan AS DECIMAL(38, 10))) AS DOUBLE) AS prepaid_yuan
    FROM mart_hospital_monthly GROUP BY hospital_id
), a AS (
    SELECT h.*,
           CASE v.pv_mode
               WHEN 'fixed' THEN h.total_points * v.pv_budget_yuan
               WHEN 'elastic' THEN hp.base_points * v.pv_budget_yuan
                                   + hp.excess_points * coalesce(v.pv_float_yuan, 0)
               ELSE h.total_points * v.pv_floating END * v.fund_ratio AS dip_amount_yuan
    FROM h JOIN int_hospital_points hp USING (hospital_id) CROSS JOIN int_point_values v
)
SELECT p.scenario, p.sim_year AS year, a.hospital_id, a.n_cases, a.total_points,
       a.dip_amount_yuan, a.ffs_fund_paid_yuan,
       a.dip_amount_yuan - a.ffs_fund_paid_yuan AS diff_yuan,
       a.prepaid_yuan,
       a.dip_amount_yuan - a.prepaid_yuan AS clearing_yuan
FROM a CROSS JOIN run_params p;

-- What the point values say (issue 5 §2): the gap between the settlement and the budget
-- point value, the change from the last history year's cost per point, and what the fund
-- kept or lacked under a non-floating mode.
CREATE OR REPLACE TEMP TABLE mart_point_values AS
WITH paid AS (
    SELECT CAST(sum(CAST(dip_amount_yuan AS DECIMAL(38, 10))) AS DOUBLE) AS amount
    FROM mart_hospital_settlement
), pv AS (
    SELECT v.*, CASE WHEN v.pv_mode = 'floating' THEN v.pv_floating
                     ELSE paid.amount / v.fund_ratio / v.total_points END AS pv_settlement_yuan,
           v.dip_fund_yuan - paid.amount AS budget_balance_yuan
    FROM int_point_values v, paid
)
SELECT pv.* EXCLUDE (pv_floating),
       pv.pv_settlement_yuan / pv.pv_budget_yuan - 1 AS pv_gap,
       pv.pv_settlement_yuan / pv.pv_prev_year_yuan - 1 AS pv_yoy_change
FROM pv;
