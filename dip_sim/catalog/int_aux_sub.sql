-- Each (group, dimension, sub-type) over the history cases: cases, Σ cost, Σ cost², and the
-- year weights Σ w and Σ w·cost, all exact.
SELECT a.group_code, v.dimension, m.subtype, count(*) AS n,
       sum(a.total_cost_yuan) AS s, sum(a.total_cost_yuan * a.total_cost_yuan) AS ss,
       sum(CAST(a.weight AS DECIMAL(38, 10))) AS w,
       sum(CAST(a.weight * a.total_cost_yuan AS DECIMAL(38, 10))) AS wc
FROM int_aux_values v
JOIN int_aux_cases a USING (case_id)
JOIN int_aux_subtype_map m
  ON m.group_code = a.group_code AND m.dimension = v.dimension AND m.raw_subtype = v.raw_subtype
WHERE a.in_history
GROUP BY ALL
