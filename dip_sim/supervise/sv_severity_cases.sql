-- Supervision (违规行为监管) indices, case level (dip_rules.md §7).
--
-- [2020] names 二次入院、低标入院、超长住院、死亡风险; [3.0] adds 住院分解 and the 14/30-day
-- same-disease readmission rates. No national formula is published; each flag below is the
-- platform's documented definition, its thresholds parameters (data/policy/supervision.yaml).

-- 编码高套 (severity): a case carries a severity or Charlson comorbidity code among its other
-- diagnoses (the lists of auxiliary typing: data/reference/severity_dx.csv, charlson_icd10.csv)
SELECT DISTINCT case_id
FROM (SELECT case_id, unnest(string_split(other_dx, ';')) AS code
      FROM cases WHERE other_dx IS NOT NULL AND other_dx <> '') x
WHERE trim(code) IN (SELECT code FROM aux_dx_charlson UNION SELECT code FROM aux_dx_severity)
