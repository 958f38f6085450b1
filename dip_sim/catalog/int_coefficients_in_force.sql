-- The hospital coefficient in force for each hospital level and catalogue group, before the
-- hospital's own bonus (dip_rules.md §5): with coefficients.method = per_group the group's own
-- coefficient where it has one (int_group_level_coef), else the level's; otherwise the level
-- coefficient of the method in force (mart_level_coefficients). A 基层病种 takes none: the
-- same points at every level (1.0, and no bonus: its readers add run_bonus to the others).
-- Read by scoring (int_case_scores) and by the hospitals' budget indicators
-- (mart_indicator_bases), so both take a case's coefficient by the same rule.
SELECT l.level, c.group_code, c.primary_group,
       CASE WHEN c.primary_group THEN 1.0
            WHEN p.coefficients.method = 'per_group' THEN coalesce(gc.coefficient, l.coefficient)
            ELSE lv.coefficient_in_force END AS coefficient
FROM run_levels l
CROSS JOIN mart_catalog_groups c
CROSS JOIN run_params p
LEFT JOIN mart_level_coefficients lv ON lv.level = l.level
LEFT JOIN int_group_level_coef gc ON gc.group_code = c.group_code AND gc.level = l.level
