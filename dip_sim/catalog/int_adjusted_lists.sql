-- The panel's conservative_procedure adjustments: a procedure that now counts as
-- 保守治疗 leaves every key and the comprehensive class (dip_rules.md §2: 保守治疗 procedures
-- are left out of the key). Per distinct procedure list holding such a code: the list without
-- it, the main procedure ('' when it was the one), and the highest class of what remains.
-- Skipped (empty) when the panel's file has no such adjustment.
WITH cons AS (
    SELECT list(code) AS codes FROM run_conservative
), lists AS (
    SELECT DISTINCT f.proc_key_all, f.proc_key_main
    FROM case_features f, cons
    WHERE array_length(array_intersect(string_split(f.proc_key_all, '+'), cons.codes)) > 0
), marked AS (
    SELECT c.proc_key_all, c.proc_key_main, c.code, r.class_rank, rc.adjustment_id
    FROM (SELECT proc_key_all, proc_key_main,
                 unnest(string_split(proc_key_all, '+')) AS code FROM lists) c
    LEFT JOIN ref_proc r ON r.code = c.code
    LEFT JOIN run_conservative rc ON rc.code = c.code
), adjusted AS (
    SELECT proc_key_all, proc_key_main,
           coalesce(array_to_string(list_sort(list_distinct(
               list(code) FILTER (WHERE adjustment_id IS NULL))), '+'), '') AS new_proc_key_all,
           CASE WHEN bool_or(adjustment_id IS NOT NULL AND code = proc_key_main) THEN ''
                ELSE proc_key_main END AS new_proc_key_main,
           max(class_rank) FILTER (WHERE adjustment_id IS NULL) AS class_rank,
           string_agg(DISTINCT adjustment_id, ';' ORDER BY adjustment_id) AS adjustment_ids
    FROM marked GROUP BY proc_key_all, proc_key_main
)
SELECT a.proc_key_all, a.proc_key_main, a.new_proc_key_all, a.new_proc_key_main,
       coalesce(cr.proc_class, 'conservative') AS new_proc_class_max, a.adjustment_ids
FROM adjusted a
LEFT JOIN ref_proc_class_rank cr ON cr.class_rank = a.class_rank
