-- The budget point value (预算点值) and the last history year's cost per point, from the
-- grouped history cases: what scoring reads of the budget (the fund itself is int_budget's).
WITH hist AS (SELECT * FROM mart_history_costs)
SELECT
    -- 预算点值 = Σ_y w_y·cost_y / Σ_y w_y·points_y (1:2:7) [2020, 3.0], or as refined by
    -- point_value.budget_refinement
    -- (int_pv_refined; without a refinement, or when it finds no value, the standard)
    coalesce((SELECT pv FROM int_pv_refined), std.pv) AS pv_budget_yuan,
    std.pv AS pv_budget_standard_yuan,
    -- the last history year's cost per point, to compare the point value with
    (SELECT total_cost_yuan / total_rw FROM hist
     WHERE year = (SELECT max(year) FROM run_history)) AS pv_prev_year_yuan
FROM (SELECT CAST(sum(CAST(weight * total_cost_yuan AS DECIMAL(38, 10))) AS DOUBLE)
             / CAST(sum(CAST(weight * total_rw AS DECIMAL(38, 10))) AS DOUBLE) AS pv
      FROM hist) std
