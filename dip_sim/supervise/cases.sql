-- Supervision (违规行为监管) indices, case level (issue 7 §1; dip_rules.md §7).
-- Reads: sv_groups (case_id, year, hospital_id, group_code, grouped: the scenario's grouping of
--   every year), sv_catalog (group_code, rw, mean_cost_yuan, mean_los_days), case_features,
--   cases (other_dx), aux_dx_charlson, aux_dx_severity (dip_sim/reference/auxiliary.py),
--   run_sv_params, run_sv_windows, run_sv_excluded, run_sv_outpatient (dip_sim/supervise).
-- Writes: sv_severity_cases, sv_base (grain: grouped eligible case), mart_supervision_cases (grain: flagged case
--   × index: one row per case and index it meets).
--
-- [2020] names 二次入院、低标入院、超长住院、死亡风险; [3.0] adds 住院分解 and the 14/30-day
-- same-disease readmission rates. No national formula is published; each flag below is the
-- platform's documented definition, its thresholds parameters (data/policy/supervision.yaml).

-- 编码高套 (severity): a case carries a severity or Charlson comorbidity code among its other
-- diagnoses (the lists of auxiliary typing: data/reference/severity_dx.csv, charlson_icd10.csv)
CREATE OR REPLACE TEMP TABLE sv_severity_cases AS
SELECT DISTINCT case_id
FROM (SELECT case_id, trim(unnest(string_split(other_dx, ';'))) AS code
      FROM cases WHERE other_dx IS NOT NULL AND other_dx <> '') x
WHERE code IN (SELECT code FROM aux_dx_charlson UNION SELECT code FROM aux_dx_severity);

-- the grouped eligible cases of every year, with what the indices need (case_features holds
-- the patient, dates and cost parts, so the large input tables are not joined again)
CREATE OR REPLACE TEMP TABLE sv_base AS
SELECT f.case_id, f.year, f.month, f.hospital_id, f.level, f.dx3, f.dx5, f.patient_id,
       f.admit_date, f.discharge_date, f.los_days, f.discharge_disposition,
       f.discharge_disposition = 5 AS died,  -- 离院方式 5 = 死亡
       -- a procedure that counts in the group key (valid, not 保守治疗)
       coalesce(f.proc_key_all, '') <> '' AS has_proc,
       s.case_id IS NOT NULL AS severity_coded,
       g.group_code, k.rw, k.mean_cost_yuan AS group_mean_cost_yuan,
       k.mean_los_days AS group_mean_los_days,
       CAST(f.total_cost_yuan AS DOUBLE) AS total_cost_yuan,
       CAST(coalesce(f.drug_yuan, 0) AS DOUBLE) AS drug_yuan,
       CAST(coalesce(f.consumable_yuan, 0) AS DOUBLE) AS consumable_yuan,
       CAST(f.patient_paid_yuan AS DOUBLE) AS patient_paid_yuan
FROM case_features f
JOIN sv_groups g USING (case_id)
LEFT JOIN sv_severity_cases s USING (case_id)
LEFT JOIN sv_catalog k ON k.group_code = g.group_code
WHERE f.eligible AND g.grouped;

-- 二次入院: each admission against the same (pseudonymised) patient's previous discharge, at
-- any hospital; gap = admit date − previous discharge date. A previous stay that ended in a
-- planned transfer (离院方式 in run_sv_excluded) is not a readmission.
CREATE OR REPLACE TEMP TABLE sv_readmissions AS
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
                   (SELECT split_max_gap_days FROM run_sv_params))
  AND coalesce(prev_disposition, 0) NOT IN (SELECT code FROM run_sv_excluded);

-- the group's regional mortality over every year of the data (死亡风险)
CREATE OR REPLACE TEMP TABLE sv_group_mortality AS
SELECT group_code, count(*) AS n_cases, avg(died::INTEGER) AS mortality,
       count(*) >= p.low_risk_min_cases AND avg(died::INTEGER) < p.low_risk_mortality AS low_risk
FROM sv_base CROSS JOIN run_sv_params p
GROUP BY group_code, p.low_risk_min_cases, p.low_risk_mortality;

CREATE OR REPLACE TEMP TABLE mart_supervision_cases AS
WITH p AS (SELECT * FROM run_sv_params)
-- 二次入院 within each window: any diagnosis, and the same diagnosis category (前 3 位)
SELECT (SELECT scenario FROM p) AS scenario, r.year, r.case_id, r.hospital_id, r.month,
       'readmit_' || w.days || 'd_' || kind.k AS index_code, r.prev_case_id AS related_case_id,
       r.prev_hospital_id AS related_hospital_id, r.gap_days::DOUBLE AS value,
       '距上次出院 ' || r.gap_days || ' 天' || CASE WHEN r.same_hospital THEN '（同院）'
                                                ELSE '（他院）' END AS detail
FROM sv_readmissions r
CROSS JOIN run_sv_windows w
CROSS JOIN (VALUES ('any'), ('same')) kind(k)
WHERE r.gap_days <= w.days AND (kind.k = 'any' OR r.same_dx3)
UNION ALL
-- 分解住院: back in the same hospital with the same diagnosis category within the gap
SELECT (SELECT scenario FROM p), r.year, r.case_id, r.hospital_id, r.month, 'split_admission',
       r.prev_case_id, r.prev_hospital_id, r.gap_days::DOUBLE,
       '同院同病种，距上次出院 ' || r.gap_days || ' 天'
FROM sv_readmissions r
WHERE r.same_hospital AND r.same_dx3 AND r.gap_days <= (SELECT split_max_gap_days FROM p)
UNION ALL
-- 低标入院: a short, cheap stay for a condition usually treated as an outpatient
SELECT p.scenario, b.year, b.case_id, b.hospital_id, b.month, 'low_standard', NULL, NULL,
       b.total_cost_yuan / b.group_mean_cost_yuan,
       '住院 ' || b.los_days || ' 天，费用为病种均值的 '
           || round(100 * b.total_cost_yuan / b.group_mean_cost_yuan, 1) || '%'
FROM sv_base b CROSS JOIN p
WHERE b.los_days <= p.low_admission_max_los_days
  AND b.total_cost_yuan < p.low_admission_ratio * b.group_mean_cost_yuan
  AND (NOT p.outpatient_filter
       OR EXISTS (SELECT 1 FROM run_sv_outpatient o WHERE starts_with(b.dx5, o.dx_prefix)))
UNION ALL
-- 超长住院: longer than a multiple of the group's mean LOS, or at least long_stay_days
SELECT p.scenario, b.year, b.case_id, b.hospital_id, b.month, 'long_stay', NULL, NULL,
       b.los_days / b.group_mean_los_days,
       '住院 ' || b.los_days || ' 天，病种平均 ' || round(b.group_mean_los_days, 1) || ' 天'
FROM sv_base b CROSS JOIN p
WHERE b.los_days > p.long_stay_multiple * b.group_mean_los_days
   OR b.los_days >= p.long_stay_days
UNION ALL
-- 死亡风险: a death in a group whose regional mortality is low
SELECT p.scenario, b.year, b.case_id, b.hospital_id, b.month, 'low_risk_death', NULL, NULL,
       m.mortality, '低风险病种组（全市死亡率 ' || round(100 * m.mortality, 2) || '%）死亡'
FROM sv_base b JOIN sv_group_mortality m USING (group_code) CROSS JOIN p
WHERE b.died AND m.low_risk;
