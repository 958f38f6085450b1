-- The history years of the run with their weights (catalog.history_weights: the earliest year
-- takes the first weight; dip_rules.md §3, 2020 1:2:7).
SELECT y.year, w.value AS weight
FROM (SELECT unnest(p.run.history_years) AS year,
             generate_subscripts(p.run.history_years, 1) AS position
      FROM run_params p) y
JOIN param_catalog_history_weights w USING (position)
