WITH g AS (  -- each group's weighted mean cost
    SELECT group_code, sum(wc) / sum(w) AS mean_cost FROM int_group_level GROUP BY group_code
), l AS (
    -- sums of doubles exact (DECIMAL, as in catalog/int_keyed.sql)
    SELECT x.level,
           CAST(sum(x.wc) AS DOUBLE)
           / CAST(sum(CAST(x.w * g.mean_cost AS DECIMAL(38, 10))) AS DOUBLE) AS cost_ratio,
           sum(x.n) AS n_cases
    FROM int_group_level x JOIN g USING (group_code)
    GROUP BY x.level
)
SELECT p.run.scenario, r.level, r.coefficient AS fixed_coefficient,
       l.cost_ratio AS cost_ratio_coefficient,
       l.n_cases AS n_history_cases,
       CASE p.coefficients.method WHEN 'cost_ratio' THEN coalesce(l.cost_ratio, r.coefficient)
                                 ELSE r.coefficient END AS coefficient_in_force,
       p.coefficients.method AS method
FROM run_levels r LEFT JOIN l USING (level) CROSS JOIN run_params p
