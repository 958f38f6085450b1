-- Year-end amounts, clearing, each case's share, and the point-value summary.
-- year-end amount = assessed amount − clawback + overspend share paid − unreleased deposit;
-- clearing = year-end amount − Σ net prepayments − the advance.
WITH x AS (
    SELECT y.*, s.surplus_retained_yuan, s.clawback_yuan,
           s.overspend_requested_yuan * r.overspend_paid_share AS overspend_shared_yuan
    FROM int_year_end y JOIN int_sharing s USING (hospital_id) CROSS JOIN int_reserve r
), z AS (
    SELECT x.*, x.assessed_amount_yuan - x.clawback_yuan + x.overspend_shared_yuan
                - x.withhold_kept_yuan AS year_end_amount_yuan
    FROM x
)
SELECT p.run.scenario, p.run.sim_year AS year, z.hospital_id, z.n_cases, z.total_points,
       z.dip_amount_yuan, z.ffs_fund_paid_yuan,
       z.dip_amount_yuan - z.ffs_fund_paid_yuan AS diff_yuan,
       z.prepaid_yuan,
       z.year_end_amount_yuan - z.prepaid_yuan - z.advance_yuan AS clearing_yuan,
       z.assessment_coefficient, z.deductions_yuan, z.assessed_amount_yuan,
       z.surplus_retained_yuan, z.clawback_yuan, z.overspend_shared_yuan, z.withheld_yuan,
       z.withhold_released_yuan, z.advance_yuan, z.year_end_amount_yuan
FROM z CROSS JOIN run_params p
