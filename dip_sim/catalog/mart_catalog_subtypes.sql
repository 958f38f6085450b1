-- Sub-types of the chosen splits: aux_coefficient = (Σ w·cost ÷ Σ w) of the sub-type ÷ the same
-- of the group.
SELECT p.run.scenario, x.group_code, x.dimension, x.subtype, x.n AS n_cases,
       CAST(x.wc / x.w AS DOUBLE) AS mean_cost_yuan,
       CAST(x.wc / x.w AS DOUBLE)
       / CAST(sum(x.wc) OVER g / sum(x.w) OVER g AS DOUBLE) AS aux_coefficient,
       ch.cv_before, ch.cv_after, ch.cv_reduction, ch.forced_by
FROM int_aux_sub x
JOIN int_aux_choice ch USING (group_code, dimension)
CROSS JOIN run_params p
WINDOW g AS (PARTITION BY x.group_code)
