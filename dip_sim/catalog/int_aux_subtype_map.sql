-- Sub-types over the history cases: too small ones folded into the base.
SELECT a.group_code, v.dimension, v.raw_subtype,
       CASE WHEN v.raw_subtype = b.base OR count(*) <= p.auxiliary.min_subtype_cases THEN b.base
            ELSE v.raw_subtype END AS subtype
FROM int_aux_values v
JOIN int_aux_cases a USING (case_id)
JOIN int_aux_base b USING (dimension)
CROSS JOIN run_params p
WHERE a.in_history
GROUP BY a.group_code, v.dimension, v.raw_subtype, b.base, p.auxiliary.min_subtype_cases
