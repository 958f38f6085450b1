-- Each hospital in the simulation year (k = 0) and each projected year (k = 1 … projection.years),
-- its cells grown k years (docs/rules.md#点值预测): cases × (1 + volume growth)^k; points and
-- rw × (1 + volume growth)^k × ((1 + points inflation) × (1 + coding intensity))^k; cost ×
-- (1 + volume growth)^k × ((1 + points inflation) × (1 + cost growth))^k (a heavier case mix
-- costs more; coding alone does not). Sums of doubles are taken exactly, as DECIMAL.
SELECT c.hospital_id, getvariable('run.sim_year') + y.k AS year, y.k,
       CAST(sum(CAST(c.n_cases * pow(1 + c.volume_growth, y.k) AS DECIMAL(38, 10))) AS DOUBLE)
           AS n_cases,
       CAST(sum(CAST(c.points * pow(1 + c.volume_growth, y.k)
                     * pow((1 + r.points_inflation) * (1 + r.coding_intensity), y.k)
                     AS DECIMAL(38, 10))) AS DOUBLE) AS points,
       CAST(sum(CAST(c.rw_sum * pow(1 + c.volume_growth, y.k)
                     * pow((1 + r.points_inflation) * (1 + r.coding_intensity), y.k)
                     AS DECIMAL(38, 10))) AS DOUBLE) AS rw_sum,
       CAST(sum(CAST(c.total_cost_yuan * pow(1 + c.volume_growth, y.k)
                     * pow((1 + r.points_inflation) * (1 + r.cost_growth), y.k)
                     AS DECIMAL(38, 10))) AS DOUBLE) AS total_cost_yuan
FROM mart_projection_cells c
CROSS JOIN int_projection_rates r
CROSS JOIN (SELECT unnest(generate_series(0, getvariable('projection.years'))) AS k) y
GROUP BY c.hospital_id, y.k
