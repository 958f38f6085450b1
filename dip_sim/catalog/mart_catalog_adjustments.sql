-- The audit trail: every adjustment of the file, whether it was applied, and why not.
WITH applied AS (
SELECT p.run.scenario, a.seq, a.adjustment_id, a.action, a.target, a.author, a.date, a.reason,
       CASE a.action
           WHEN 'conservative_procedure' THEN EXISTS (
               SELECT 1 FROM int_adjusted_lists l
               WHERE list_contains(string_split(l.adjustment_ids, ';'), a.adjustment_id))
           WHEN 'merge' THEN EXISTS (SELECT 1 FROM int_merges m
                                     WHERE m.adjustment_id = a.adjustment_id)
           -- a split is made when the auxiliary typing took the forced dimension
           WHEN 'split' THEN EXISTS (SELECT 1 FROM int_aux_choice ch
                                     WHERE ch.forced_by = a.adjustment_id)
           ELSE EXISTS (SELECT 1 FROM int_set_points s WHERE s.adjustment_id = a.adjustment_id)
       END AS applied,
       CASE a.action
           WHEN 'conservative_procedure' THEN '没有病例有此手术操作'
           WHEN 'merge' THEN '所列病种不在目录中（或只有一个在）'
           WHEN 'split' THEN '病种不在核心病种中，或细分后不足两个类型'
           ELSE '病种不在目录中，或被后面同一病种的调整取代' END AS reason_if_not_applied
FROM run_adjustments a CROSS JOIN run_params p
)
SELECT * EXCLUDE (reason_if_not_applied),
       CASE WHEN NOT applied THEN reason_if_not_applied END AS not_applied_reason
FROM applied
