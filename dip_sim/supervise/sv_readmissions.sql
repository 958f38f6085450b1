-- 二次入院: each admission against the same (pseudonymised) patient's previous discharge, at
-- any hospital; gap = admit date − previous discharge date. A previous stay that ended in a
-- planned transfer (离院方式 in run_sv_excluded) is not a readmission.
SELECT case_id, year, month, hospital_id, prev_case_id, prev_hospital_id,
       date_diff('day', prev_discharge, admit_date) AS gap_days,
       dx3 = prev_dx3 AS same_dx3, hospital_id = prev_hospital_id AS same_hospital
FROM (SELECT case_id, year, month, hospital_id, dx3, admit_date,
             lag(case_id) OVER w AS prev_case_id, lag(hospital_id) OVER w AS prev_hospital_id,
             lag(dx3) OVER w AS prev_dx3, lag(discharge_date) OVER w AS prev_discharge,
             lag(discharge_disposition) OVER w AS prev_disposition
      FROM sv_base WHERE patient_id IS NOT NULL
      WINDOW w AS (PARTITION BY patient_id ORDER BY admit_date, discharge_date, case_id))
WHERE prev_case_id IS NOT NULL
  AND date_diff('day', prev_discharge, admit_date) BETWEEN 0
      AND greatest((SELECT max(days) FROM run_sv_windows),
                   (SELECT p.supervision.split_max_gap_days FROM run_params p))
  AND coalesce(prev_disposition, 0) NOT IN (SELECT code FROM run_sv_excluded)
