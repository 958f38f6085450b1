-- Each hospital's annual DIP budget indicator (医院年度支付预算指标), scaled to the DIP fund.
-- The base B_h by indicator.method (mart_indicator_bases for E, P, F and T):
--   expected_points  B_h = E_h × T_h × 预算点值 × 医保支付比例 R
--   fund_share       B_h = F_h (weighted history fund payments)
--   points_share     B_h = P_h × 预算点值 × R (the history points, valued like the first)
-- A hospital without grouped history cases (indicator.new_hospital): level_average → the mean
-- base of the hospitals of its level with history (0 when none has); zero → 0.
-- Scaling: the DIP fund of int_budget, rounded to the cent, K = round(fund, 2) × 100 cents
-- (the fund as a decimal of 6 places rounded half up: 7,727,966.715 → .72 on every engine,
-- where rounding the binary double itself gives .71 on one engine and .72 on another);
-- each hospital's exact share x_h = K × B_h / Σ B (equal shares when Σ B = 0). Every hospital
-- gets ⌊x_h⌋ cents, and the residue K − Σ⌊x_h⌋ cents is handed out one cent each to the
-- hospitals with the largest fractional parts x_h − ⌊x_h⌋ (ties by hospital_id; largest
-- remainder), so that Σ indicators = the fund to the cent exactly.
WITH f AS (
    SELECT CAST(round(CAST(b.dip_fund_yuan AS DECIMAL(38, 6)), 2) AS DECIMAL(18, 2)) AS fund_yuan,
           b.pv_budget_yuan, b.fund_ratio
    FROM int_budget b
), base AS (
    SELECT x.*, p.indicator.method AS method,
           CASE p.indicator.method
               WHEN 'fund_share' THEN x.history_fund_paid_yuan
               WHEN 'points_share' THEN x.history_points * f.pv_budget_yuan * f.fund_ratio
               ELSE x.expected_points * x.trend_factor * f.pv_budget_yuan * f.fund_ratio
           END AS own_base_yuan
    FROM mart_indicator_bases x CROSS JOIN f CROSS JOIN run_params p
), b AS (
    SELECT base.*,
           CASE WHEN has_history THEN 'history'
                WHEN p.indicator.new_hospital = 'level_average'
                     AND avg(own_base_yuan) FILTER (WHERE has_history) OVER (PARTITION BY level)
                         IS NOT NULL THEN 'level_average'
                ELSE 'zero' END AS basis,
           CASE WHEN has_history THEN own_base_yuan
                WHEN p.indicator.new_hospital = 'level_average'
                    THEN coalesce(avg(own_base_yuan) FILTER (WHERE has_history)
                                  OVER (PARTITION BY level), 0)
                ELSE 0 END AS base_yuan
    FROM base CROSS JOIN run_params p
), s AS (
    SELECT b.*, f.fund_yuan,
           -- Σ B as DECIMAL: the same to the last digit whatever order the hospitals come in
           CASE WHEN sum(b.base_yuan) OVER () > 0
                THEN b.base_yuan / CAST(sum(CAST(b.base_yuan AS DECIMAL(38, 10))) OVER () AS DOUBLE)
                ELSE 1.0 / count(*) OVER () END AS share,
           CAST(f.fund_yuan * 100 AS BIGINT) AS fund_cents
    FROM b CROSS JOIN f
), c AS (
    SELECT s.*, s.fund_cents * s.share AS exact_cents,
           CAST(floor(s.fund_cents * s.share) AS BIGINT) AS floor_cents
    FROM s
), r AS (
    SELECT c.*,
           c.fund_cents - sum(c.floor_cents) OVER () AS residue,
           count(*) OVER () AS n_hospitals,
           row_number() OVER (ORDER BY c.exact_cents - c.floor_cents DESC, c.hospital_id) AS remainder_rank
    FROM c
), e AS (
    -- the residue's cents, one each in order of the remainders (the integer division also
    -- covers a residue outside [0, n) that rounding of x_h could leave)
    SELECT r.*,
           CAST(floor(r.residue / r.n_hospitals) AS BIGINT)
           + CASE WHEN r.remainder_rank <= r.residue - r.n_hospitals
                                        * CAST(floor(r.residue / r.n_hospitals) AS BIGINT)
                  THEN 1 ELSE 0 END AS residue_cents
    FROM r
)
SELECT p.run.scenario, p.run.sim_year AS year, e.hospital_id, e.level, e.method, e.basis,
       e.history_cases, e.cases_last_year, e.growth_rate, e.trend_factor, e.expected_points,
       e.history_points, e.history_fund_paid_yuan, e.base_yuan, e.share,
       e.fund_yuan AS dip_fund_yuan,
       CAST(e.residue_cents AS INTEGER) AS residue_cents,
       CAST(CAST(e.floor_cents + e.residue_cents AS DECIMAL(18, 0)) * 0.01 AS DECIMAL(18, 2))
           AS indicator_yuan
FROM e CROSS JOIN run_params p
