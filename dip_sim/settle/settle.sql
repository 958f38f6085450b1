-- Point values and hospital settlement (dip_rules.md §4 and §6, issue 2 §3, issue 5 §2).
-- Reads: mart_case_scores, mart_case_groups, mart_catalog_groups, run_levels, int_budget,
--   run_params, run_history, run_assessment, run_deductions (dip_sim/settle/lists.py).
-- Writes temp tables int_hospital_points (grain: hospital), int_point_values (1 row),
--   mart_hospital_monthly (grain: hospital × month), int_year_end (grain: hospital: the DIP
--   and assessed amounts); sharing.sql and clearing.sql finish the year.
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

-- each fund pool (int_budget_pools: 'all', or employee / resident): its points and its
-- floating point value (F_p ÷ R_p) ÷ P_p; a hospital's points per pool
CREATE OR REPLACE TEMP TABLE int_pool_points AS
SELECT hospital_id, pool, CAST(sum(CAST(case_points AS DECIMAL(38, 10))) AS DOUBLE) AS points
FROM mart_case_scores GROUP BY hospital_id, pool;

CREATE OR REPLACE TEMP TABLE int_pools AS
SELECT b.pool, b.dip_fund_yuan, b.reserve_yuan, b.fund_ratio, t.points AS total_points,
       (b.dip_fund_yuan / b.fund_ratio) / t.points AS pv_floating
FROM int_budget_pools b
JOIN (SELECT pool, CAST(sum(CAST(case_points AS DECIMAL(38, 10))) AS DOUBLE) AS points
      FROM mart_case_scores GROUP BY pool) t USING (pool);

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
            -- raised to the floor, then lowered to the cap (each when set)
            THEN least(greatest(v.pv_float_raw,
                                coalesce(v.elastic_floor * v.pv_budget_yuan, v.pv_float_raw)),
                       coalesce(v.elastic_cap * v.pv_budget_yuan,
                                greatest(v.pv_float_raw,
                                         coalesce(v.elastic_floor * v.pv_budget_yuan,
                                                  v.pv_float_raw)))) END
           AS pv_float_yuan,
       v.pv_budget_standard_yuan, v.reserve_yuan, v.pv_prev_year_yuan
FROM v CROSS JOIN run_params p;

-- Monthly prepayment (月度预付) per hospital and month: gross = the month's points × 预算点值 ×
-- R (or, prepay_basis = minus_patient_paid, points × 预算点值 − the patients' payments of those
-- cases); the quality deposit withheld = gross × withhold rate; the month's review deductions;
-- prepaid (net) = gross − withheld − deductions; and the running total.
CREATE OR REPLACE TEMP TABLE mart_hospital_monthly AS
WITH m AS (
    SELECT s.hospital_id, s.month, count(*) AS n_cases,
           CAST(sum(CAST(s.case_points AS DECIMAL(38, 10))) AS DOUBLE) AS points,
           -- the month's points valued at the budget point value × R of each case's pool
           sum(s.case_points * pl.fund_ratio) AS points_r,
           CAST(sum(CAST(s.fund_paid_yuan AS DECIMAL(38, 10))) AS DOUBLE) AS ffs_fund_paid_yuan,
           CAST(sum(CAST(s.total_cost_yuan - s.fund_paid_yuan AS DECIMAL(38, 10))) AS DOUBLE)
               AS patient_paid_yuan
    FROM mart_case_scores s JOIN int_pools pl USING (pool)
    GROUP BY s.hospital_id, s.month
), d AS (
    SELECT hospital_id, month, sum(amount_yuan) AS deductions_yuan
    FROM run_deductions GROUP BY hospital_id, month
), md AS (  -- a month with deductions and no case still counts
    SELECT coalesce(m.hospital_id, d.hospital_id) AS hospital_id,
           coalesce(m.month, d.month) AS month, coalesce(m.n_cases, 0) AS n_cases,
           coalesce(m.points, 0) AS points, coalesce(m.points_r, 0) AS points_r,
           coalesce(m.ffs_fund_paid_yuan, 0) AS ffs_fund_paid_yuan,
           coalesce(m.patient_paid_yuan, 0) AS patient_paid_yuan,
           coalesce(d.deductions_yuan, 0) AS deductions_yuan
    FROM m FULL OUTER JOIN d ON d.hospital_id = m.hospital_id AND d.month = m.month
), g AS (
    SELECT md.*,
           CASE WHEN p.prepay_basis = 'minus_patient_paid'
                THEN greatest(md.points * v.pv_budget_yuan - md.patient_paid_yuan, 0)
                ELSE md.points_r * v.pv_budget_yuan END AS gross_prepay_yuan
    FROM md CROSS JOIN int_point_values v CROSS JOIN run_params p
)
SELECT p.scenario, p.sim_year AS year, g.hospital_id, g.month, g.n_cases, g.points,
       g.gross_prepay_yuan * (1 - p.withhold_rate) - g.deductions_yuan AS prepaid_yuan,
       g.ffs_fund_paid_yuan, g.gross_prepay_yuan,
       g.gross_prepay_yuan * p.withhold_rate AS withheld_yuan, g.deductions_yuan,
       sum(g.gross_prepay_yuan * (1 - p.withhold_rate) - g.deductions_yuan)
           OVER (PARTITION BY g.hospital_id ORDER BY g.month) AS cum_prepaid_yuan
FROM g CROSS JOIN run_params p;

-- Year end (年度清算), per hospital:
--   DIP amount      = its points paid as point_value.mode says × R (above);
--   assessed amount A = DIP amount × assessment coefficient − review deductions;
--   结余留用/合理超支分担 (sharing.enabled), C = its fee-for-service fund claims:
--     C ≤ A: it keeps C + surplus_retain_share × (A − max(C, surplus_floor × A)); the rest of
--            the surplus goes back to the reserve (clawback);
--     C > A: it gets A + overspend_share × (min(C, overspend_cap × A) − A), paid from the
--            reserve (the initial reserve and this year's inflows), pro rata when short;
--   the withheld deposit not released by the assessment (1 − withhold_release) is kept;
--   year-end amount = the above − unreleased deposit;
--   clearing = year-end amount − Σ net prepayments − the advance (年初预拨:
--     advance_months × its last history year's grouped fund payments ÷ 12).
-- Whatever is not paid (assessment reduction, deductions, clawbacks, unreleased deposit)
-- flows into the reserve, and overspend shares come out of it, so that
--   Σ year-end amounts = DIP fund + (reserve paid out − reserve inflows).
CREATE OR REPLACE TEMP TABLE int_year_end AS
WITH h AS (
    SELECT hospital_id, sum(n_cases) AS n_cases,
           CAST(sum(CAST(points AS DECIMAL(38, 10))) AS DOUBLE) AS total_points,
           CAST(sum(CAST(ffs_fund_paid_yuan AS DECIMAL(38, 10))) AS DOUBLE) AS ffs_fund_paid_yuan,
           CAST(sum(CAST(prepaid_yuan AS DECIMAL(38, 10))) AS DOUBLE) AS prepaid_yuan,
           CAST(sum(CAST(withheld_yuan AS DECIMAL(38, 10))) AS DOUBLE) AS withheld_yuan,
           CAST(sum(CAST(deductions_yuan AS DECIMAL(38, 10))) AS DOUBLE) AS deductions_yuan
    FROM mart_hospital_monthly GROUP BY hospital_id
), prev AS (
    SELECT hospital_id, CAST(sum(fund_paid_yuan) AS DOUBLE) AS fund_paid_yuan
    FROM mart_case_groups
    WHERE grouped AND eligible AND year = (SELECT max(year) FROM run_history)
    GROUP BY hospital_id
), a AS (
    SELECT h.*,
           -- floating and fixed: Σ over its pools of points × value × R of the pool
           CASE v.pv_mode
               WHEN 'elastic' THEN (coalesce(hp.base_points, 0) * v.pv_budget_yuan
                                    + coalesce(hp.excess_points, 0)
                                      * coalesce(v.pv_float_yuan, 0)) * v.fund_ratio
               ELSE (SELECT sum(pp.points * CASE WHEN v.pv_mode = 'fixed' THEN v.pv_budget_yuan
                                                 ELSE pl.pv_floating END * pl.fund_ratio)
                     FROM int_pool_points pp JOIN int_pools pl USING (pool)
                     WHERE pp.hospital_id = h.hospital_id) END AS dip_amount_yuan,
           coalesce(s.coefficient, 1.0) AS assessment_coefficient,
           coalesce(s.withhold_release, 1.0) AS withhold_release,
           p.advance_months * coalesce(prev.fund_paid_yuan, 0) / 12 AS advance_yuan
    FROM h
    LEFT JOIN int_hospital_points hp USING (hospital_id)
    LEFT JOIN run_assessment s USING (hospital_id)
    LEFT JOIN prev USING (hospital_id)
    CROSS JOIN int_point_values v CROSS JOIN run_params p
)
SELECT a.*,
       a.dip_amount_yuan * a.assessment_coefficient - a.deductions_yuan AS assessed_amount_yuan,
       a.withheld_yuan * a.withhold_release AS withhold_released_yuan,
       a.withheld_yuan * (1 - a.withhold_release) AS withhold_kept_yuan
FROM a;

