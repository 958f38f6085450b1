WITH gl AS (
    SELECT group_code, level, n, CAST(wc / w AS DOUBLE) AS mean_cost FROM int_group_level
), g AS (
    SELECT group_code, CAST(sum(wc) / sum(w) AS DOUBLE) AS mean_cost
    FROM int_group_level GROUP BY group_code
), ok AS (  -- every level with enough cases, and no inversion
    SELECT group_code
    FROM gl CROSS JOIN run_params p
    GROUP BY group_code, p.coefficients.per_group_min_cases
    HAVING count(*) = (SELECT count(*) FROM run_levels)
       AND min(n) >= p.coefficients.per_group_min_cases
       AND max(mean_cost) FILTER (WHERE level = 1) <= max(mean_cost) FILTER (WHERE level = 2)
       AND max(mean_cost) FILTER (WHERE level = 2) <= max(mean_cost) FILTER (WHERE level = 3)
)
SELECT gl.group_code, gl.level, gl.n AS n_history_cases, gl.mean_cost / g.mean_cost AS coefficient
FROM gl JOIN g USING (group_code) SEMI JOIN ok USING (group_code)
