-- Hospital coefficients (dip_rules.md §5) and the outlier reference.
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
-- one pass over the history cases: per group and level, cases and weighted sums (and the last
-- history year's), from which everything below is derived
SELECT group_code, level, count(*) AS n,
       sum(CAST(weight AS DECIMAL(38, 10))) AS w,
       sum(CAST(weight * total_cost_yuan AS DECIMAL(38, 10))) AS wc,
       count(*) FILTER (WHERE year = (SELECT max(year) FROM run_history)) AS n_last,
       sum(total_cost_yuan) FILTER (WHERE year = (SELECT max(year) FROM run_history)) AS c_last
FROM int_history_grouped GROUP BY group_code, level
