-- Every case of a split group (all years) → its sub-type and coefficient; a sub-type not
-- seen in the history years is the base (a case whose sub-type has no coefficient keeps 1).
SELECT v.case_id, v.dimension || ':' || st.subtype AS aux_type, st.aux_coefficient
FROM int_aux_values v
JOIN int_aux_cases a USING (case_id)
JOIN int_aux_choice ch ON ch.group_code = a.group_code AND ch.dimension = v.dimension
JOIN int_aux_base b ON b.dimension = v.dimension
LEFT JOIN int_aux_subtype_map m
       ON m.group_code = a.group_code AND m.dimension = v.dimension
      AND m.raw_subtype = v.raw_subtype
JOIN mart_catalog_subtypes st
  ON st.group_code = a.group_code AND st.subtype = coalesce(m.subtype, b.base)
