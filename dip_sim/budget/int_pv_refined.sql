-- The budget point value refined (point_value.budget_refinement; DIP 3.0), skipped (empty)
-- without a refinement; int_budget takes int_pv_refined.pv when there is one.
--   quantile: Σ w·cost ÷ Σ w·rw over the history cases within their group's cost band
--     [trim_low, trim_high] quantiles (2.5%/97.5%: extreme cases left out);
--   optimal_interval (优值区间, one-dimensional): each hospital's weighted cost per point
--     v_h = Σ w·cost ÷ Σ w·rw; the hospitals with v_h below the region's, pooled.
WITH band AS (
    SELECT group_code,
           quantile_cont(total_cost_yuan, getvariable('point_value.trim_low')) AS low_yuan,
           quantile_cont(total_cost_yuan, getvariable('point_value.trim_high')) AS high_yuan
    FROM int_history_grouped
    WHERE (SELECT p.point_value.budget_refinement FROM run_params p) = 'quantile'
    GROUP BY group_code
), cases AS (
    SELECT h.hospital_id, h.weight, h.total_cost_yuan, c.rw
    FROM int_history_grouped h
    JOIN mart_catalog_groups c USING (group_code)
    LEFT JOIN band b USING (group_code)
    WHERE (SELECT p.point_value.budget_refinement FROM run_params p) <> 'quantile'
       OR h.total_cost_yuan BETWEEN b.low_yuan AND b.high_yuan
), hosp AS (
    SELECT hospital_id, sum(CAST(weight * total_cost_yuan AS DECIMAL(38, 10))) AS w_cost,
           sum(CAST(weight * rw AS DECIMAL(38, 10))) AS w_points
    FROM cases GROUP BY hospital_id
), region AS (
    SELECT sum(w_cost) AS w_cost, sum(w_points) AS w_points FROM hosp
)
SELECT CASE (SELECT p.point_value.budget_refinement FROM run_params p)
           WHEN 'quantile' THEN CAST(r.w_cost AS DOUBLE) / CAST(r.w_points AS DOUBLE)
           ELSE (SELECT CAST(sum(h.w_cost) AS DOUBLE) / CAST(sum(h.w_points) AS DOUBLE)
                 FROM hosp h
                 WHERE h.w_points > 0 AND h.w_cost / h.w_points < r.w_cost / r.w_points)
       END AS pv
FROM region r
