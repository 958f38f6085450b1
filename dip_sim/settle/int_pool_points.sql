-- each fund pool (int_budget_pools: 'all', or employee / resident): its points and its
-- floating point value (F_p ÷ R_p) ÷ P_p; a hospital's points per pool
SELECT hospital_id, pool, CAST(sum(CAST(case_points AS DECIMAL(38, 10))) AS DOUBLE) AS points
FROM mart_case_scores GROUP BY hospital_id, pool
