-- Catalogue (病种目录库) from the history years, and the group of every case (dip_rules.md §2).
-- Sums of doubles are taken exactly, as DECIMAL (CAST(sum(CAST(x AS DECIMAL(38, 10))) AS
-- DOUBLE)): a parallel floating-point sum depends on the order rows arrive, and the same
-- parameters must give the same results to the last bit (an empty scenario = the baseline).
-- Costs arrive as DECIMAL(18, 2) from case_features, so their sums and means are exact.

-- Every case's keys under this scenario's procedure rule.
-- Core key = diagnosis subcategory (亚目, 5 chars) + procedure combination;
-- comprehensive key = diagnosis category (类目, 3 chars) × highest procedure class [3.0].
-- A view: each of its readers (the history cases, the choice of a core group by part of a
-- key, the case groups) computes only the columns it reads, which costs less than writing
-- 10M rows of every column once.
SELECT f.case_id, f.year, f.month, f.hospital_id, f.level, f.eligible, f.total_cost_yuan,
       f.fund_paid_yuan, f.los_days, f.dx5, f.dx3, f.proc_key_all, f.proc_key_main,
       f.proc_class_max, f.key_adjustments,
       -- the quality verdict (NULL in case_features means ok), for assignment
       coalesce(f.status, 'ok') AS status, coalesce(f.severity, 'ok') AS severity,
       k.proc_key,
       f.dx5 || CASE WHEN k.proc_key = '' THEN '' ELSE '|' || k.proc_key END AS core_code,
       f.dx3 || ':comp:' || f.proc_class_max AS comp_code
FROM int_case_procs f
CROSS JOIN run_params p
LEFT JOIN int_combo_keys ck
       ON ck.dx5 = f.dx5 AND ck.proc_key_main = f.proc_key_main
      AND ck.proc_key_all = f.proc_key_all
CROSS JOIN LATERAL (
    SELECT CASE p.catalog.procedure_key
               WHEN 'main_only' THEN f.proc_key_main
               -- the main procedure and its related ones (int_combo_keys); '' without a main one
               WHEN 'main_plus_related' THEN coalesce(ck.proc_key, '')
               ELSE f.proc_key_all END AS proc_key
) k
