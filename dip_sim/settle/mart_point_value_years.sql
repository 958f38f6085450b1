-- the point value over the years: each history year's cost per point (its grouped cases'
-- cost ÷ their catalogue points) and the simulation year's settlement point value
SELECT p.run.scenario, h.year, 'history' AS kind,
       CAST(sum(h.total_cost_yuan) AS DOUBLE)
       / CAST(sum(CAST(c.rw AS DECIMAL(38, 10))) AS DOUBLE) AS value_per_point
FROM int_history_grouped h JOIN mart_catalog_groups c USING (group_code) CROSS JOIN run_params p
GROUP BY p.run.scenario, h.year
UNION ALL
SELECT scenario, year, 'settlement', pv_settlement_yuan FROM mart_point_values
