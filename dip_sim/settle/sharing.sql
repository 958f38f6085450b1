-- 结余留用、合理超支分担 (issue 5 §5; dip_rules.md §6), and the reserve (调剂金).
-- Per hospital, C = its fee-for-service fund claims, A = its assessed DIP amount (settle.sql);
-- with sharing.enabled and A > 0:
--   C ≤ A (surplus): it keeps surplus_retain_share × (A − max(C, surplus_floor × A)) of the
--     surplus A − C; the rest goes back to the reserve (clawback);
--   C > A (overspend): it may get overspend_share × (min(C, overspend_cap × A) − A);
-- The reserve holds what the budget kept back plus this year's inflows (assessment reductions,
-- deductions, unreleased deposits, clawbacks); the overspend shares are paid from it, all of
-- them pro rata when it is short.
-- Reads: int_year_end, run_params, int_budget.
-- Writes int_sharing (grain: hospital), int_reserve (1 row).
CREATE OR REPLACE TEMP TABLE int_sharing AS
WITH s AS (
    SELECT y.hospital_id, y.assessed_amount_yuan AS a, y.ffs_fund_paid_yuan AS c,
           p.sharing_enabled AND y.assessed_amount_yuan > 0 AS on_,
           p.surplus_retain_share, p.surplus_floor, p.overspend_share, p.overspend_cap
    FROM int_year_end y CROSS JOIN run_params p
)
SELECT hospital_id,
       CASE WHEN on_ AND c <= a THEN a - c ELSE 0 END AS surplus_yuan,
       CASE WHEN on_ AND c <= a
            THEN surplus_retain_share * (a - greatest(c, surplus_floor * a)) ELSE 0 END
           AS surplus_retained_yuan,
       CASE WHEN on_ AND c <= a
            THEN (a - c) - surplus_retain_share * (a - greatest(c, surplus_floor * a))
            ELSE 0 END AS clawback_yuan,
       CASE WHEN on_ AND c > a THEN overspend_share * (least(c, overspend_cap * a) - a)
            ELSE 0 END AS overspend_requested_yuan
FROM s;

-- the reserve: what it holds at year end and the share of the requested overspend it pays
CREATE OR REPLACE TEMP TABLE int_reserve AS
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
FROM int_budget b, flows f;

