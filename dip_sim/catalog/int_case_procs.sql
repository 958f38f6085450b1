-- Every case with its procedure-key parts as this run sees them: as loaded, or as the panel's
-- conservative_procedure adjustments leave them (int_adjusted_lists; key_adjustments names them).
SELECT f.* EXCLUDE (proc_key_all, proc_key_main, proc_class_max),
       coalesce(al.new_proc_key_all, f.proc_key_all) AS proc_key_all,
       coalesce(al.new_proc_key_main, f.proc_key_main) AS proc_key_main,
       coalesce(al.new_proc_class_max, f.proc_class_max) AS proc_class_max,
       al.adjustment_ids AS key_adjustments
FROM case_features f
LEFT JOIN int_adjusted_lists al
       ON al.proc_key_all = f.proc_key_all AND al.proc_key_main = f.proc_key_main
