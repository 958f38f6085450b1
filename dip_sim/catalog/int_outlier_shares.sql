-- Share of a group's history cases whose cost is below low_ratio or above high_ratio times
-- the group's mean cost (the outlier bounds, against the level-neutral group mean): a
-- grouping-quality figure for the panel (dip_rules.md §2 "Grouping quality metrics" [3.0]).
SELECT h.group_code,
       count(*) FILTER (WHERE h.total_cost_yuan < p.outliers.low_ratio * c.mean_cost_yuan
                           OR h.total_cost_yuan > p.outliers.high_ratio * c.mean_cost_yuan)
       / count(*) AS share
FROM int_history_grouped h
JOIN int_catalog_computed c USING (group_code)
CROSS JOIN run_params p
GROUP BY h.group_code
