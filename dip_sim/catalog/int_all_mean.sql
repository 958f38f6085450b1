-- m_i = Σ_y w_y · mean_{i,y} / Σ_y w_y over the years in which group i has cases;
-- M likewise over all grouped history cases; rw = m_i / M × points.scale [3.0, 2020 1:2:7].
SELECT CAST(sum(CAST(weight * mean_cost_yuan AS DECIMAL(38, 10))) AS DOUBLE)
       / CAST(sum(CAST(weight AS DECIMAL(38, 10))) AS DOUBLE) AS mean_cost_all_yuan
FROM (SELECT year, any_value(weight) AS weight, CAST(avg(total_cost_yuan) AS DOUBLE) AS mean_cost_yuan
      FROM int_history_grouped GROUP BY year)
