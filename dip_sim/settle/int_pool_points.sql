-- each fund pool (int_budget_pools: 'all', or employee / resident): its points and its
-- floating point value (F_p ÷ R_p) ÷ P_p; a hospital's points per pool
SELECT hospital_id, pool, CAST(sum(points) AS DOUBLE) AS points
FROM mart_case_score_cells GROUP BY hospital_id, pool
