-- the reserve: what it holds at year end and the share of the requested overspend it pays
WITH flows AS (
    -- exact sums over the hospitals (see catalog/int_keyed.sql): the same bits whatever order
    -- the hospitals' rows arrive in
    SELECT CAST(sum(CAST(y.dip_amount_yuan - y.dip_amount_yuan * y.assessment_coefficient
                         AS DECIMAL(38, 10)))
                + sum(CAST(y.deductions_yuan AS DECIMAL(38, 10)))
                + sum(CAST(y.withhold_kept_yuan AS DECIMAL(38, 10)))
                + sum(CAST(s.clawback_yuan AS DECIMAL(38, 10))) AS DOUBLE) AS inflow_yuan,
           CAST(sum(CAST(s.overspend_requested_yuan AS DECIMAL(38, 10))) AS DOUBLE)
               AS requested_yuan,
           CAST(sum(CAST(s.surplus_yuan AS DECIMAL(38, 10))) AS DOUBLE) AS surplus_yuan,
           CAST(sum(CAST(s.surplus_retained_yuan AS DECIMAL(38, 10))) AS DOUBLE) AS retained_yuan
    FROM int_year_end y JOIN int_sharing s USING (hospital_id)
)
SELECT b.reserve_yuan, f.inflow_yuan, f.requested_yuan, f.surplus_yuan, f.retained_yuan,
       CASE WHEN f.requested_yuan > 0
            THEN least(1.0, (b.reserve_yuan + f.inflow_yuan) / f.requested_yuan)
            ELSE 1.0 END AS overspend_paid_share
FROM int_budget b, flows f
