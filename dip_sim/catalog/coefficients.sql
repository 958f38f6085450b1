-- Hospital coefficients (issue 5 §3; dip_rules.md §5) and the outlier reference.
-- Computed on every run, so the bureau sees the data-driven values while the fixed ones are
-- in force (coefficients.method picks the one used):
--   fixed:      the negotiated value per level (coefficients.hospital_level);
--   cost_ratio: per level l, Σ w·cost ÷ Σ w·m_g over its history cases (m_g: the group's
--               weighted mean cost) — what its cases cost against the groups' standards;
--   per_group:  per group g and level l, the group's weighted mean cost at l ÷ its mean
--               over all levels, where every level has ≥ per_group_min_cases history cases
--               and the values do not invert (level 3 ≥ 2 ≥ 1); elsewhere the fixed value.
-- A hospital's bonus (coefficients.bonus_file) is added to its coefficient.
-- Outlier reference prior_year_level_mean: the last history year's mean cost of the group at
-- the same hospital level (dip_rules.md §5 [2020]).
-- Reads: int_history_grouped (with level), mart_catalog_groups, run_levels, run_params,
--   run_history, run_bonus.
-- Writes: int_group_level, int_group_level_coef, int_prior_level_mean (grain: group ×
--   level), mart_level_coefficients (grain: level).
-- one pass over the history cases: per group and level, cases and weighted sums (and the last
-- history year's), from which everything below is derived
CREATE OR REPLACE TEMP TABLE int_group_level AS
SELECT group_code, level, count(*) AS n,
       sum(CAST(weight AS DECIMAL(38, 10))) AS w,
       sum(CAST(weight * total_cost_yuan AS DECIMAL(38, 10))) AS wc,
       count(*) FILTER (WHERE year = (SELECT max(year) FROM run_history)) AS n_last,
       sum(total_cost_yuan) FILTER (WHERE year = (SELECT max(year) FROM run_history)) AS c_last
FROM int_history_grouped GROUP BY group_code, level;

CREATE OR REPLACE TEMP TABLE mart_level_coefficients AS
WITH g AS (  -- each group's weighted mean cost
    SELECT group_code, sum(wc) / sum(w) AS mean_cost FROM int_group_level GROUP BY group_code
), l AS (
    SELECT x.level, CAST(sum(x.wc) AS DOUBLE) / CAST(sum(x.w * g.mean_cost) AS DOUBLE)
               AS cost_ratio,
           sum(x.n) AS n_cases
    FROM int_group_level x JOIN g USING (group_code)
    GROUP BY x.level
)
SELECT p.scenario, r.level, r.coefficient AS fixed_coefficient, l.cost_ratio,
       l.n_cases AS n_history_cases,
       CASE p.coefficient_method WHEN 'cost_ratio' THEN coalesce(l.cost_ratio, r.coefficient)
                                 ELSE r.coefficient END AS coefficient_in_force,
       p.coefficient_method AS method
FROM run_levels r LEFT JOIN l USING (level) CROSS JOIN run_params p;

CREATE OR REPLACE TEMP TABLE int_group_level_coef AS
WITH gl AS (
    SELECT group_code, level, n, CAST(wc / w AS DOUBLE) AS mean_cost FROM int_group_level
), g AS (
    SELECT group_code, CAST(sum(wc) / sum(w) AS DOUBLE) AS mean_cost
    FROM int_group_level GROUP BY group_code
), ok AS (  -- every level with enough cases, and no inversion
    SELECT group_code
    FROM gl CROSS JOIN run_params p
    GROUP BY group_code, p.per_group_min_cases
    HAVING count(*) = (SELECT count(*) FROM run_levels)
       AND min(n) >= p.per_group_min_cases
       AND max(mean_cost) FILTER (WHERE level = 1) <= max(mean_cost) FILTER (WHERE level = 2)
       AND max(mean_cost) FILTER (WHERE level = 2) <= max(mean_cost) FILTER (WHERE level = 3)
)
SELECT gl.group_code, gl.level, gl.n AS n_history_cases, gl.mean_cost / g.mean_cost AS coefficient
FROM gl JOIN g USING (group_code) SEMI JOIN ok USING (group_code);

CREATE OR REPLACE TEMP TABLE int_prior_level_mean AS
SELECT group_code, level, CAST(c_last / n_last AS DOUBLE) AS mean_cost_yuan
FROM int_group_level WHERE n_last > 0;
