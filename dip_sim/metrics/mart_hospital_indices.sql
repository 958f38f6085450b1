-- Per hospital, the simulation year's grouped cases [3.0] (and, counted apart, its cases of
-- 基层病种 and 中医优势病种 with the latter's points):
-- CMI = Σ group points (rw) ÷ cases; cost (time) consumption index = mean over its cases of
-- cost (LOS) ÷ the region's mean cost (LOS) of the case's group that year (regional mean 1).
WITH cases AS (
    SELECT g.hospital_id, g.group_code, g.total_cost_yuan, g.los_days, c.rw,
           c.primary_group, c.tcm_group
    FROM mart_case_groups g JOIN mart_catalog_groups c USING (group_code)
    WHERE g.grouped AND g.year = getvariable('run.sim_year')
), region AS (
    SELECT group_code, avg(total_cost_yuan) AS mean_cost, avg(los_days) AS mean_los
    FROM cases GROUP BY group_code
), tcm AS (  -- the points of its cases of 中医优势病种
    SELECT s.hospital_id, sum(s.case_points) AS points
    FROM mart_case_scores s JOIN mart_catalog_groups g USING (group_code)
    WHERE g.tcm_group GROUP BY s.hospital_id
)
SELECT p.run.scenario, p.run.sim_year AS year, c.hospital_id, count(*) AS n_cases,
       CAST(sum(CAST(c.rw AS DECIMAL(38, 10))) AS DOUBLE) / count(*) AS cmi,
       CAST(sum(CAST(c.total_cost_yuan / r.mean_cost AS DECIMAL(38, 10))) AS DOUBLE)
       / count(*) AS cost_index,
       CAST(sum(CAST(c.los_days / r.mean_los AS DECIMAL(38, 10))) AS DOUBLE)
       / count(c.los_days) AS time_index,
       count(*) FILTER (WHERE c.primary_group) AS n_primary_cases,
       count(*) FILTER (WHERE c.tcm_group) AS n_tcm_cases,
       coalesce(t.points, 0) AS tcm_points
FROM cases c JOIN region r USING (group_code) LEFT JOIN tcm t USING (hospital_id)
CROSS JOIN run_params p
GROUP BY p.run.scenario, p.run.sim_year, c.hospital_id, t.points
