-- the reserve: what it holds at year end and the share of the requested overspend it pays
WITH flows AS (
    SELECT sum(y.dip_amount_yuan - y.dip_amount_yuan * y.assessment_coefficient)
               + sum(y.deductions_yuan) + sum(y.withhold_kept_yuan) + sum(s.clawback_yuan)
               AS inflow_yuan,
           sum(s.overspend_requested_yuan) AS requested_yuan,
           sum(s.surplus_yuan) AS surplus_yuan, sum(s.surplus_retained_yuan) AS retained_yuan
    FROM int_year_end y JOIN int_sharing s USING (hospital_id)
)
SELECT b.reserve_yuan, f.inflow_yuan, f.requested_yuan, f.surplus_yuan, f.retained_yuan,
       CASE WHEN f.requested_yuan > 0
            THEN least(1.0, (b.reserve_yuan + f.inflow_yuan) / f.requested_yuan)
            ELSE 1.0 END AS overspend_paid_share
FROM int_budget b, flows f
