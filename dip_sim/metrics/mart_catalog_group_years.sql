-- Grouping quality for the expert panel (dip_rules.md §2 "Grouping quality
-- metrics" [3.0]). All in SQL; exact sums where a float sum's order could change the last bit.

-- Cases and mean cost of each group in each history year (the stability of a group).
SELECT p.run.scenario, h.group_code, h.year, count(*) AS n_cases,
       CAST(avg(h.total_cost_yuan) AS DOUBLE) AS mean_cost_yuan
FROM int_history_grouped h CROSS JOIN run_params p
GROUP BY ALL
