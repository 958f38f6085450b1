-- The split of each group: a forced one, else the best qualifying dimension.
SELECT * FROM (
    SELECT t.group_code, t.dimension, t.cv_before, t.cv_after,
           1 - t.cv_after / NULLIF(t.cv_before, 0) AS cv_reduction, f.adjustment_id AS forced_by
    FROM int_aux_tests t
    JOIN run_aux_dimensions d USING (dimension)
    LEFT JOIN run_splits f ON f.group_code = t.group_code AND f.dimension = t.dimension
    CROSS JOIN run_params p
    WHERE t.n_subtypes >= 2
      AND (f.adjustment_id IS NOT NULL
           OR (p.auxiliary.enabled AND d.priority IS NOT NULL
               AND t.group_code NOT IN (SELECT group_code FROM run_splits)
               AND t.n > p.auxiliary.min_group_cases
               AND t.cv_after <= (1 - p.auxiliary.min_cv_reduction) * t.cv_before))
    QUALIFY row_number() OVER (PARTITION BY t.group_code
                               ORDER BY f.adjustment_id IS NOT NULL DESC,
                                        t.cv_after / NULLIF(t.cv_before, 0), d.priority) = 1)
