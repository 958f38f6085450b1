-- Grouping quality for the expert panel (issue 4 §4; dip_rules.md §2 "Grouping quality
-- metrics" [3.0]). All in SQL; exact sums where a float sum's order could change the last bit.
-- Reads: mart_catalog_groups, mart_case_groups (with cost, LOS, level), int_history_grouped,
--   int_threshold, mart_case_scores, run_params, run_history.
-- Writes: mart_catalog_group_years (grain: group, history year), mart_catalog_groups
--   (outlier_share filled in), mart_catalog_summary (1 row), mart_hospital_indices (grain:
--   hospital of the simulation year).

-- Cases and mean cost of each group in each history year (the stability of a group).
CREATE OR REPLACE TEMP TABLE mart_catalog_group_years AS
SELECT p.scenario, h.group_code, h.year, count(*) AS n_cases,
       CAST(avg(h.total_cost_yuan) AS DOUBLE) AS mean_cost_yuan
FROM int_history_grouped h CROSS JOIN run_params p
GROUP BY ALL;

-- Share of a group's history cases whose cost is below low_ratio or above high_ratio times
-- the group's mean cost (the outlier bounds, against the level-neutral group mean).
UPDATE mart_catalog_groups g SET outlier_share = o.share
FROM (SELECT h.group_code,
             count(*) FILTER (WHERE h.total_cost_yuan < p.low_ratio * c.mean_cost_yuan
                                 OR h.total_cost_yuan > p.high_ratio * c.mean_cost_yuan)
             / count(*) AS share
      FROM int_history_grouped h
      JOIN mart_catalog_groups c USING (group_code)
      CROSS JOIN run_params p
      GROUP BY h.group_code) o
WHERE o.group_code = g.group_code;

-- The whole catalogue.
-- core coverage = history cases in core groups ÷ eligible history cases;
-- 入组率 = grouped ÷ all cases (history years: eligible ones; simulation year: every case);
-- RIV = R² of cost on group membership over grouped history cases
--     = SS_between ÷ SS_total = (Σ_g S_g²/n_g − S²/N) ÷ (Σx² − S²/N), S_g = Σ cost in group g
--   (what scikit-learn's r2_score gives for cost predicted by its group's mean: a test holds
--   the two equal).
CREATE OR REPLACE TEMP TABLE mart_catalog_summary AS
WITH hist AS (
    SELECT count(*) AS n_eligible,
           count(*) FILTER (WHERE grouped) AS n_grouped,
           count(*) FILTER (WHERE group_type = 'core') AS n_core_cases
    FROM mart_case_groups g JOIN run_history h USING (year)
    WHERE g.eligible
), sim AS (
    SELECT count(*) AS n_cases, count(*) FILTER (WHERE grouped) AS n_grouped
    FROM mart_case_groups WHERE year = (SELECT sim_year FROM run_params)
), groups AS (
    SELECT count(*) FILTER (WHERE group_type = 'core') AS n_core,
           count(*) FILTER (WHERE group_type = 'comprehensive') AS n_comprehensive,
           avg(cv) AS mean_cv,
           sum(cv * n_cases) / sum(n_cases) AS case_weighted_cv,
           count(*) FILTER (WHERE cv < 0.5) AS n_cv_below_05,
           count(*) FILTER (WHERE cv >= 0.5 AND cv <= 1) AS n_cv_05_to_1,
           count(*) FILTER (WHERE cv > 1) AS n_cv_above_1,
           count(*) FILTER (WHERE primary_candidate) AS n_primary_candidates,
           count(*) FILTER (WHERE primary_group) AS n_primary,
           count(*) FILTER (WHERE tcm_group) AS n_tcm
    FROM mart_catalog_groups
), riv AS (
    SELECT sum(n) AS n, sum(s) AS s, sum(ss) AS ss,
           sum(CAST(s * s / n AS DECIMAL(38, 6))) AS between_raw
    FROM (SELECT group_code, count(*) AS n, sum(total_cost_yuan) AS s,
                 sum(total_cost_yuan * total_cost_yuan) AS ss
          FROM int_history_grouped GROUP BY group_code)
)
SELECT p.scenario, p.sim_year AS year, p.procedure_key, p.core_threshold_method,
       t.core_threshold, gr.n_core, gr.n_comprehensive,
       hist.n_eligible AS n_history_cases, hist.n_grouped AS n_history_grouped,
       hist.n_core_cases / hist.n_eligible AS core_coverage,
       hist.n_grouped / hist.n_eligible AS grouping_rate_history,
       sim.n_grouped / sim.n_cases AS grouping_rate_year,
       gr.mean_cv, gr.case_weighted_cv, gr.n_cv_below_05, gr.n_cv_05_to_1, gr.n_cv_above_1,
       CAST(riv.between_raw - CAST(riv.s * riv.s / riv.n AS DECIMAL(38, 6)) AS DOUBLE)
       / NULLIF(CAST(riv.ss - CAST(riv.s * riv.s / riv.n AS DECIMAL(38, 6)) AS DOUBLE), 0) AS riv,
       p.catalog_version, p.adjustments_file, gr.n_primary_candidates, gr.n_primary, gr.n_tcm
FROM run_params p, int_threshold t, groups gr, hist, sim, riv;

-- Per hospital, the simulation year's grouped cases [3.0] (and, counted apart, its cases of
-- 基层病种 and 中医优势病种 with the latter's points):
-- CMI = Σ group points (rw) ÷ cases; cost (time) consumption index = mean over its cases of
-- cost (LOS) ÷ the region's mean cost (LOS) of the case's group that year (regional mean 1).
CREATE OR REPLACE TEMP TABLE mart_hospital_indices AS
WITH cases AS (
    SELECT g.hospital_id, g.group_code, g.total_cost_yuan, g.los_days, c.rw,
           c.primary_group, c.tcm_group
    FROM mart_case_groups g JOIN mart_catalog_groups c USING (group_code)
    WHERE g.grouped AND g.year = (SELECT sim_year FROM run_params)
), region AS (
    SELECT group_code, avg(total_cost_yuan) AS mean_cost, avg(los_days) AS mean_los
    FROM cases GROUP BY group_code
)
SELECT p.scenario, p.sim_year AS year, c.hospital_id, count(*) AS n_cases,
       CAST(sum(CAST(c.rw AS DECIMAL(38, 10))) AS DOUBLE) / count(*) AS cmi,
       CAST(sum(CAST(c.total_cost_yuan / r.mean_cost AS DECIMAL(38, 10))) AS DOUBLE)
       / count(*) AS cost_index,
       CAST(sum(CAST(c.los_days / r.mean_los AS DECIMAL(38, 10))) AS DOUBLE)
       / count(c.los_days) AS time_index,
       count(*) FILTER (WHERE c.primary_group) AS n_primary_cases,
       count(*) FILTER (WHERE c.tcm_group) AS n_tcm_cases,
       coalesce((SELECT sum(s.case_points) FROM mart_case_scores s
                 JOIN mart_catalog_groups g USING (group_code)
                 WHERE g.tcm_group AND s.hospital_id = c.hospital_id), 0) AS tcm_points
FROM cases c JOIN region r USING (group_code) CROSS JOIN run_params p
GROUP BY p.scenario, p.sim_year, c.hospital_id;
