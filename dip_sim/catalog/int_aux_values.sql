WITH charlson AS (
    SELECT x.case_id, ch.category, max(ch.weight) AS weight
    FROM int_aux_codes x JOIN aux_dx_charlson ch USING (code) GROUP BY ALL
), cci AS (
    SELECT case_id, sum(weight) AS score
    FROM (SELECT *,
                 bool_or(category = 'moderate_or_severe_liver_disease')
                     OVER (PARTITION BY case_id) AS severe_liver,
                 bool_or(category = 'diabetes_with_chronic_complication')
                     OVER (PARTITION BY case_id) AS diabetes_complicated,
                 bool_or(category = 'metastatic_solid_tumour')
                     OVER (PARTITION BY case_id) AS metastatic
          FROM charlson)
    WHERE NOT (category = 'mild_liver_disease' AND severe_liver)
      AND NOT (category = 'diabetes_without_chronic_complication' AND diabetes_complicated)
      AND NOT (category = 'any_malignancy' AND metastatic)
    GROUP BY case_id
), flagged AS (  -- the severity and tumour kinds of each case's other diagnoses
    SELECT x.case_id, s.kind
    FROM int_aux_codes x JOIN aux_dx_severity s USING (code)
    CROSS JOIN run_params p
    WHERE p.auxiliary.severity_source = 'lists' OR s.kind LIKE 'tumour_%'
    UNION
    SELECT x.case_id, cc.kind
    FROM int_aux_codes x JOIN aux_dx_cc cc USING (code)
    CROSS JOIN run_params p
    WHERE p.auxiliary.severity_source = 'chs_mcc_cc'
      AND NOT EXISTS (SELECT 1 FROM aux_cc_exclusion e
                      WHERE e.table_id = cc.table_id AND e.code = x.main_dx)
), kinds AS (
    SELECT case_id, list(DISTINCT kind) AS kinds FROM flagged GROUP BY case_id
)
SELECT a.case_id, d.dimension,
       CASE d.dimension
           WHEN 'cci' THEN CASE WHEN coalesce(c.score, 0) = 0 THEN '无'
                                WHEN c.score <= 2 THEN '一般'
                                WHEN c.score <= 4 THEN '严重' ELSE '极严重' END
           WHEN 'severity' THEN
               CASE WHEN a.discharge_disposition = 5 THEN '死亡'
                    WHEN list_contains(k.kinds, 'severe')
                         AND a.los_days >= p.auxiliary.severity_min_los_days THEN '重度'
                    WHEN list_contains(k.kinds, 'moderate')
                         AND a.los_days >= p.auxiliary.severity_min_los_days THEN '中度'
                    ELSE '轻度' END
           WHEN 'tumour' THEN
               CASE WHEN list_contains(k.kinds, 'tumour_metastasis') THEN '转移'
                    WHEN list_contains(k.kinds, 'tumour_radiotherapy') THEN '放疗'
                    WHEN list_contains(k.kinds, 'tumour_chemotherapy') THEN '化疗'
                    ELSE '无' END
           WHEN 'icu' THEN
               CASE WHEN coalesce(a.icu_days, 0) <= 1 THEN '无'
                    WHEN a.icu_days <= 7 THEN '2–7天'
                    WHEN a.icu_days <= 14 THEN '8–14天'
                    WHEN a.icu_days <= 30 THEN '15–30天'
                    ELSE '≥31天' END
           ELSE  -- age: in days under one year (age_days), else in years
               CASE WHEN coalesce(a.age_years, 0) = 0 AND a.age_days IS NOT NULL
                         AND a.age_days <= 28 THEN '0–28天'
                    WHEN coalesce(a.age_years, 0) = 0 AND a.age_days IS NOT NULL THEN '29天–1岁'
                    WHEN a.age_years BETWEEN 1 AND 6 THEN '1–6岁'
                    WHEN a.age_years BETWEEN 7 AND 17 THEN '7–17岁'
                    WHEN a.age_years >= 65 THEN '≥65岁'
                    ELSE '18–64岁' END
       END AS raw_subtype
FROM int_aux_cases a
CROSS JOIN run_aux_dimensions d
CROSS JOIN run_params p
LEFT JOIN cci c USING (case_id)
LEFT JOIN kinds k USING (case_id)
