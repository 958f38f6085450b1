-- Case points of the simulation year (dip_rules.md §5).
-- Case points = group points × level coefficient × auxiliary coefficient [3.0]; a 基层病种
-- takes no level coefficient (1: the same points at every level, dip_rules.md §5); a
-- 中医优势病种's points are multiplied by special.tcm_points_factor (after the outlier rule).
WITH base AS (
    SELECT y.case_id, y.hospital_id, y.month, y.group_code, y.group_type, y.pool, c.rw,
           y.los_days, y.icu_days,
           lc.level_coefficient, c.primary_group,
           CASE WHEN c.tcm_group THEN p.special.tcm_points_factor ELSE 1.0 END AS tcm_factor,
           x.aux_type, coalesce(x.aux_coefficient, 1.0) AS aux_coefficient,
           c.rw * lc.level_coefficient * coalesce(x.aux_coefficient, 1.0) AS base_points,
           y.total_cost_yuan, y.fund_paid_yuan,
           -- ratio = cost ÷ the group's standard cost at the case's level (and sub-type)
           --       = cost ÷ (rw × level coefficient × auxiliary coefficient × budget point value)
           -- or (outliers.reference = prior_year_level_mean) cost ÷ last history year's mean
           -- cost of the group at the case's level, where there is one
           y.total_cost_yuan / CASE WHEN p.outliers.reference = 'prior_year_level_mean'
                                         AND pm.mean_cost_yuan > 0 THEN pm.mean_cost_yuan
                                    ELSE c.rw * lc.level_coefficient
                                         * coalesce(x.aux_coefficient, 1.0) * b.pv_budget_yuan
                               END AS cost_ratio
    FROM int_year_cases y
    CROSS JOIN run_params p
    JOIN mart_catalog_groups c USING (group_code)
    JOIN int_coefficients_in_force k ON k.level = y.level AND k.group_code = y.group_code
    LEFT JOIN run_bonus bn ON bn.hospital_id = y.hospital_id
    -- the coefficient in force + the hospital's bonus; a 基层病种 takes none
    CROSS JOIN LATERAL (SELECT CASE WHEN k.primary_group THEN k.coefficient
                                    ELSE k.coefficient + coalesce(bn.bonus, 0) END
                                    AS level_coefficient) lc
    LEFT JOIN int_prior_level_mean pm ON pm.group_code = y.group_code AND pm.level = y.level
    LEFT JOIN int_case_aux x ON x.case_id = y.case_id
    CROSS JOIN int_budget_point_value b
)
SELECT p.run.scenario, p.run.sim_year AS year, b.case_id, b.hospital_id, b.month, b.group_code,
       b.group_type, b.rw, b.level_coefficient, b.aux_type, b.aux_coefficient,
       b.primary_group, b.tcm_factor, b.cost_ratio,
       CASE WHEN b.cost_ratio < p.outliers.low_ratio THEN 'low'
            WHEN b.cost_ratio > p.outliers.extreme_ratio THEN 'extreme'
            WHEN b.cost_ratio > p.outliers.high_ratio THEN 'high'
            ELSE 'none' END AS outlier,
       -- 费用超低: ratio × base; 费用超高 (and 极端异常): [(ratio − 2) + 1] × base = (ratio − 1) × base
       CASE WHEN b.cost_ratio < p.outliers.low_ratio THEN b.cost_ratio * b.base_points
            WHEN b.cost_ratio > p.outliers.high_ratio THEN (b.cost_ratio - 1) * b.base_points
            ELSE b.base_points END * b.tcm_factor AS case_points,
       b.total_cost_yuan, b.fund_paid_yuan,
       b.pool,  -- the fund pool (int_year_cases)
       b.los_days, b.icu_days  -- for the 特例单议 candidates (int_special_candidates)
FROM base b CROSS JOIN run_params p
