-- The scored cases of the simulation year summed by hospital, discharge month, fund pool and
-- whether grouped (stored as case_score_cells): what the fund, the point values, the hospitals'
-- points and the monthly prepayment read, a few hundred rows instead of every case, so that a
-- scenario changing only the budget reads its base's cells. The sums are exact (DECIMAL): a sum
-- of cells is the exact sum over their cases, in whatever order either is added.
SELECT getvariable('run.scenario') AS scenario, hospital_id, month, pool,
       group_type <> 'ungrouped' AS grouped, count(*) AS n_cases,
       sum(CAST(case_points AS DECIMAL(38, 10))) AS points,
       sum(fund_paid_yuan) AS fund_paid_yuan, sum(total_cost_yuan) AS total_cost_yuan
FROM mart_case_scores
GROUP BY hospital_id, month, pool, group_type <> 'ungrouped'
