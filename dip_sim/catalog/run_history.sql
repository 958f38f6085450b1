-- The history years of the run with their weights (catalog.history_weights: the earliest year
-- takes the first weight; dip_rules.md §3, 2020 1:2:7). A year's position is its rank among
-- the history years (run.history_years is in ascending order).
SELECT y.year, w.value AS weight
FROM (SELECT year, row_number() OVER (ORDER BY year) AS position
      FROM (SELECT unnest(p.run.history_years) AS year FROM run_params p) h) y
JOIN param_catalog_history_weights w USING (position)
