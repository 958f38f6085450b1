-- the grouped eligible cases of every year, with what the indices need (case_features holds
-- the patient, dates and cost parts, so the large input tables are not joined again)
SELECT f.case_id, f.year, f.month, f.hospital_id, f.level, f.dx3, f.dx5, f.patient_id,
       f.admit_date, f.discharge_date, f.los_days, f.discharge_disposition,
       f.discharge_disposition = 5 AS died,  -- 离院方式 5 = 死亡
       -- a procedure that counts in the group key (valid, not 保守治疗)
       coalesce(f.proc_key_all, '') <> '' AS has_proc,
       s.case_id IS NOT NULL AS severity_coded,
       g.group_code, k.rw, k.mean_cost_yuan AS group_mean_cost_yuan,
       k.mean_los_days AS group_mean_los_days,
       -- money as loaded, DECIMAL(18, 2): its sums are exact, whatever order the rows come in
       f.total_cost_yuan,
       coalesce(f.drug_yuan, 0::DECIMAL(18, 2)) AS drug_yuan,
       coalesce(f.consumable_yuan, 0::DECIMAL(18, 2)) AS consumable_yuan,
       f.patient_paid_yuan
FROM case_features f
JOIN sv_groups g USING (case_id)
LEFT JOIN sv_severity_cases s USING (case_id)
LEFT JOIN sv_catalog k ON k.group_code = g.group_code
-- eligibility as the case groups carry it (case_features.eligible): filtering the features
-- in the join would make the optimiser build its hash table on them, every column with them
WHERE g.eligible AND g.grouped
