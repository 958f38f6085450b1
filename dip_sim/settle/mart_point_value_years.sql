-- the point value over the years: each history year's cost per point (its grouped cases'
-- cost ÷ their catalogue points, mart_history_costs) and the simulation year's settlement
-- point value
SELECT p.run.scenario, h.year, 'history' AS kind, h.total_cost_yuan / h.total_rw AS value_per_point
FROM mart_history_costs h CROSS JOIN run_params p
UNION ALL
SELECT scenario, year, 'settlement', pv_settlement_yuan FROM mart_point_values
