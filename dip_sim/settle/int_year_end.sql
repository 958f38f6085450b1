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
WITH h AS (
    SELECT hospital_id, sum(n_cases) AS n_cases,
           CAST(sum(CAST(points AS DECIMAL(38, 10))) AS DOUBLE) AS total_points,
           CAST(sum(CAST(ffs_fund_paid_yuan AS DECIMAL(38, 10))) AS DOUBLE) AS ffs_fund_paid_yuan,
           CAST(sum(CAST(prepaid_yuan AS DECIMAL(38, 10))) AS DOUBLE) AS prepaid_yuan,
           CAST(sum(CAST(withheld_yuan AS DECIMAL(38, 10))) AS DOUBLE) AS withheld_yuan,
           CAST(sum(CAST(deductions_yuan AS DECIMAL(38, 10))) AS DOUBLE) AS deductions_yuan
    FROM mart_hospital_monthly GROUP BY hospital_id
), prev AS (  -- the last history year's fund payments, for the advance (none: not read)
    SELECT hospital_id, CAST(sum(fund_paid_yuan) AS DOUBLE) AS fund_paid_yuan
    FROM mart_case_groups
    WHERE getvariable('settlement.advance_months') > 0
      AND grouped AND eligible AND year = (SELECT max(year) FROM run_history)
    GROUP BY hospital_id
), pooled AS (  -- floating and fixed: Σ over its pools of points × value × R of the pool
    SELECT pp.hospital_id,
           sum(pp.points * CASE WHEN v.pv_mode = 'fixed' THEN v.pv_budget_yuan
                                ELSE pl.pv_floating END * pl.fund_ratio) AS amount_yuan
    FROM int_pool_points pp JOIN int_pools pl USING (pool) CROSS JOIN int_point_values v
    GROUP BY pp.hospital_id
), a AS (
    SELECT h.*,
           CASE v.pv_mode
               WHEN 'elastic' THEN (coalesce(hp.base_points, 0) * v.pv_budget_yuan
                                    + coalesce(hp.excess_points, 0)
                                      * coalesce(v.pv_float_yuan, 0)) * v.fund_ratio
               ELSE pooled.amount_yuan END AS dip_amount_yuan,
           coalesce(s.assessment_coefficient, 1.0) AS assessment_coefficient,
           coalesce(s.withhold_release, 1.0) AS withhold_release,
           p.settlement.advance_months * coalesce(prev.fund_paid_yuan, 0) / 12 AS advance_yuan
    FROM h
    LEFT JOIN int_hospital_points hp USING (hospital_id)
    LEFT JOIN int_assessment s USING (hospital_id)
    LEFT JOIN prev USING (hospital_id)
    LEFT JOIN pooled USING (hospital_id)
    CROSS JOIN int_point_values v CROSS JOIN run_params p
)
SELECT a.*,
       a.dip_amount_yuan * a.assessment_coefficient - a.deductions_yuan AS assessed_amount_yuan,
       a.withheld_yuan * a.withhold_release AS withhold_released_yuan,
       a.withheld_yuan * (1 - a.withhold_release) AS withhold_kept_yuan
FROM a
