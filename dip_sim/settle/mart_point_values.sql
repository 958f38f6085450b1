-- What the point values say: the gap between the settlement and the budget
-- point value, the change from the last history year's cost per point, and what the fund
-- kept or lacked under a non-floating mode.
WITH paid AS (
    SELECT CAST(sum(CAST(dip_amount_yuan AS DECIMAL(38, 10))) AS DOUBLE) AS amount,
           CAST(sum(CAST(year_end_amount_yuan AS DECIMAL(38, 10))) AS DOUBLE) AS year_end,
           sum(overspend_shared_yuan) AS shared
    FROM mart_hospital_settlement
), pv AS (
    SELECT v.*, CASE WHEN v.pv_mode = 'floating'
                          AND NOT (SELECT p.budget.split_by_insurance FROM run_params p) THEN v.pv_floating
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
FROM pv
