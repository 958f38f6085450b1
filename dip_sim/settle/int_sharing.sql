-- 结余留用、合理超支分担 (dip_rules.md §6), and the reserve (调剂金).
-- Per hospital, C = its fee-for-service fund claims, A = its assessed DIP amount (int_year_end);
-- with sharing.enabled and A > 0:
--   C ≤ A (surplus): it keeps surplus_retain_share × (A − max(C, surplus_floor × A)) of the
--     surplus A − C; the rest goes back to the reserve (clawback);
--   C > A (overspend): it may get overspend_share × (min(C, overspend_cap × A) − A);
-- The reserve holds what the budget kept back plus this year's inflows (assessment reductions,
-- deductions, unreleased deposits, clawbacks); the overspend shares are paid from it, all of
-- them pro rata when it is short.
WITH s AS (
    SELECT y.hospital_id, y.assessed_amount_yuan AS a, y.ffs_fund_paid_yuan AS c,
           p.sharing.enabled AND y.assessed_amount_yuan > 0 AS on_,
           p.sharing.surplus_retain_share, p.sharing.surplus_floor, p.sharing.overspend_share, p.sharing.overspend_cap
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
FROM s
