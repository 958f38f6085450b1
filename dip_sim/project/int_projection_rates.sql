-- The rates the projection applies every year besides the volume growth (docs/rules.md#点值预测):
-- - points_inflation: growth of the points per case from the case mix: projection.points_inflation
--   when set; else, with a set volume growth, the yearly growth of the city's mean rw per grouped
--   case from the first history year to the simulation year; with volumes per hospital and
--   group from the history, 0 (the drift of the mix is in those volumes);
-- - coding_intensity: projection.coding_intensity (points per case of the same group);
-- - cost_growth: growth of the cost per point: projection.cost_growth when set; else the yearly
--   growth of the cost per point (cost ÷ rw of the grouped cases) from the first history year to
--   the last (0 with one history year).
WITH first_last AS (
    SELECT min(year) AS first_year, max(year) AS last_year FROM run_history
), cpp AS (
    SELECT year, total_cost_yuan / total_rw AS cost_per_point FROM mart_history_costs
), mix AS (
    -- the mean rw per grouped case of the first history year: its Σ rw ÷ its cases
    SELECT (SELECT total_rw / n_cases FROM mart_history_costs
            WHERE year = (SELECT first_year FROM first_last)) AS first_mean_rw,
           (SELECT CAST(sum(CAST(rw_sum AS DECIMAL(38, 10))) AS DOUBLE) / sum(n_cases)
            FROM mart_projection_cells WHERE group_code IS NOT NULL) AS sim_mean_rw
)
SELECT
    coalesce(p.projection.points_inflation,
             CASE WHEN p.projection.volume_growth IS NULL THEN 0.0
                  ELSE pow(m.sim_mean_rw / m.first_mean_rw,
                           1.0 / (getvariable('run.sim_year') - f.first_year)) - 1 END)
        AS points_inflation,
    p.projection.coding_intensity AS coding_intensity,
    coalesce(p.projection.cost_growth,
             CASE WHEN f.last_year = f.first_year THEN 0.0
                  ELSE pow(cl.cost_per_point / cf.cost_per_point,
                           1.0 / (f.last_year - f.first_year)) - 1 END) AS cost_growth
FROM run_params p
CROSS JOIN first_last f
CROSS JOIN mix m
LEFT JOIN cpp cf ON cf.year = f.first_year
LEFT JOIN cpp cl ON cl.year = f.last_year
