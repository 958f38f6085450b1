-- Auxiliary typing (辅助目录/辅助分型; dip_rules.md §2, DIP 3.0; issue 4 §2).
-- A core group is split by one dimension when that clearly lowers its cost spread:
--   the group has > min_group_cases history cases; a sub-type needs > min_subtype_cases
--   history cases (smaller ones are folded into the dimension's base type); and
--   CV_after ≤ (1 − min_cv_reduction) × CV_before, where CV_before = SD ÷ mean of the group's
--   history costs and CV_after = √(within-sub-type sum of squares ÷ N) ÷ the same mean.
-- Of the dimensions that qualify, the one lowering CV most (then the earlier in
-- auxiliary.dimensions). The panel's `split` adjustments force a dimension on a group (any
-- size, any reduction, as long as two sub-types remain). Coefficient of sub-type j = its
-- history-weighted mean cost ÷ the group's (Σ w·cost ÷ Σ w, w = the year's weight), so that
-- Σ w·coefficient over the group's history cases = Σ w: history points, and the budget
-- point value, do not change.
-- Dimensions of a case, from its other diagnoses (dip_rules.md §2):
--   cci       Charlson score (highest weight per category; of mild/severe liver disease,
--             diabetes without/with complication, malignancy/metastatic, only the higher):
--             0 无 (base), 1–2 一般, 3–4 严重, ≥5 极严重;
--   severity  死亡 (disposition 5); 重度 (failure/shock/sepsis) or 中度 (major organ lesion or
--             infection) with LOS ≥ severity_min_los_days; else 轻度 (base); codes from the
--             project's lists or CHS-DRG MCC (重度) / CC (中度) less their exclusions;
--   tumour    转移 > 放疗 > 化疗 > 无 (base);
--   age       0–28天, 29天–1岁, 1–6岁, 7–17岁, ≥65岁; 18–64岁 (base);
--   icu       ICU days (重症监护天数) 2–7天, 8–14天, 15–30天, ≥31天; 无 (0–1 or none, base).
-- Run when auxiliary.enabled or a split adjustment exists (dip_sim/simulation.py).
-- Reads: mart_case_groups, mart_catalog_groups, cases, run_params, run_history,
--   run_aux_dimensions (dimension, priority), run_splits, aux_* (dip_sim/reference/auxiliary.py).
-- Writes: int_case_aux (grain: case of a split group), mart_catalog_subtypes (grain: group ×
--   sub-type), mart_catalog_groups.aux_dimension.

CREATE OR REPLACE TEMP TABLE int_aux_cases AS
SELECT g.case_id, g.year, g.group_code, g.total_cost_yuan, h.weight,
       g.eligible AND h.year IS NOT NULL AS in_history,
       c.main_dx, c.other_dx, c.discharge_disposition, c.age_years, c.age_days, c.los_days,
       c.icu_days
FROM mart_case_groups g
JOIN cases c ON c.case_id = g.case_id
LEFT JOIN run_history h ON h.year = g.year
CROSS JOIN run_params p
WHERE g.group_type = 'core'
  AND (g.group_code IN (SELECT group_code FROM mart_catalog_groups
                        WHERE group_type = 'core' AND n_cases > p.aux_min_group_cases
                          AND p.aux_enabled)
       OR g.group_code IN (SELECT group_code FROM run_splits));

-- each other diagnosis once per case
CREATE OR REPLACE TEMP TABLE int_aux_codes AS
SELECT DISTINCT case_id, main_dx, trim(code) AS code
FROM (SELECT case_id, main_dx, unnest(string_split(other_dx, ';')) AS code
      FROM int_aux_cases WHERE other_dx IS NOT NULL AND other_dx <> '');

CREATE OR REPLACE TEMP TABLE int_aux_values AS
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
    WHERE p.aux_severity_source = 'lists' OR s.kind LIKE 'tumour_%'
    UNION
    SELECT x.case_id, cc.kind
    FROM int_aux_codes x JOIN aux_dx_cc cc USING (code)
    CROSS JOIN run_params p
    WHERE p.aux_severity_source = 'chs_mcc_cc'
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
                         AND a.los_days >= p.aux_severity_min_los_days THEN '重度'
                    WHEN list_contains(k.kinds, 'moderate')
                         AND a.los_days >= p.aux_severity_min_los_days THEN '中度'
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
LEFT JOIN kinds k USING (case_id);

-- the base type of each dimension: where the sub-types too small to stand alone go
CREATE OR REPLACE TEMP TABLE int_aux_base AS
SELECT * FROM (VALUES ('cci', '无'), ('severity', '轻度'), ('tumour', '无'), ('age', '18–64岁'),
                      ('icu', '无'))
    AS t(dimension, base);

-- Sub-types over the history cases: too small ones folded into the base.
CREATE OR REPLACE TEMP TABLE int_aux_subtype_map AS
SELECT a.group_code, v.dimension, v.raw_subtype,
       CASE WHEN v.raw_subtype = b.base OR count(*) <= p.aux_min_subtype_cases THEN b.base
            ELSE v.raw_subtype END AS subtype
FROM int_aux_values v
JOIN int_aux_cases a USING (case_id)
JOIN int_aux_base b USING (dimension)
CROSS JOIN run_params p
WHERE a.in_history
GROUP BY a.group_code, v.dimension, v.raw_subtype, b.base, p.aux_min_subtype_cases;

-- Each (group, dimension, sub-type) over the history cases: cases, Σ cost, Σ cost², and the
-- year weights Σ w and Σ w·cost, all exact.
CREATE OR REPLACE TEMP TABLE int_aux_sub AS
SELECT a.group_code, v.dimension, m.subtype, count(*) AS n,
       sum(a.total_cost_yuan) AS s, sum(a.total_cost_yuan * a.total_cost_yuan) AS ss,
       sum(CAST(a.weight AS DECIMAL(38, 10))) AS w,
       sum(CAST(a.weight * a.total_cost_yuan AS DECIMAL(38, 10))) AS wc
FROM int_aux_values v
JOIN int_aux_cases a USING (case_id)
JOIN int_aux_subtype_map m
  ON m.group_code = a.group_code AND m.dimension = v.dimension AND m.raw_subtype = v.raw_subtype
WHERE a.in_history
GROUP BY ALL;

-- Each (group, dimension): CV before and after the split.
CREATE OR REPLACE TEMP TABLE int_aux_tests AS
WITH grp AS (
    SELECT group_code, dimension, count(*) AS n_subtypes, sum(n) AS n, sum(s) AS s,
           sum(ss) AS ss, sum(CAST(s * s / n AS DECIMAL(38, 6))) AS between_raw
    FROM int_aux_sub GROUP BY ALL
)
SELECT group_code, dimension, n_subtypes, n,
       sqrt(greatest(CAST(ss - CAST(s * s / n AS DECIMAL(38, 6)) AS DOUBLE), 0) / n)
           / (CAST(s AS DOUBLE) / n) AS cv_before,
       sqrt(greatest(CAST(ss - between_raw AS DOUBLE), 0) / n) / (CAST(s AS DOUBLE) / n)
           AS cv_after
FROM grp WHERE s > 0;

-- The split of each group: a forced one, else the best qualifying dimension.
CREATE OR REPLACE TEMP TABLE int_aux_choice AS
SELECT * FROM (
    SELECT t.group_code, t.dimension, t.cv_before, t.cv_after,
           1 - t.cv_after / NULLIF(t.cv_before, 0) AS cv_reduction, f.adjustment_id AS forced_by
    FROM int_aux_tests t
    JOIN run_aux_dimensions d USING (dimension)
    LEFT JOIN run_splits f ON f.group_code = t.group_code AND f.dimension = t.dimension
    CROSS JOIN run_params p
    WHERE t.n_subtypes >= 2
      AND (f.adjustment_id IS NOT NULL
           OR (p.aux_enabled AND d.priority IS NOT NULL
               AND t.group_code NOT IN (SELECT group_code FROM run_splits)
               AND t.n > p.aux_min_group_cases
               AND t.cv_after <= (1 - p.aux_min_cv_reduction) * t.cv_before))
    QUALIFY row_number() OVER (PARTITION BY t.group_code
                               ORDER BY f.adjustment_id IS NOT NULL DESC,
                                        t.cv_after / NULLIF(t.cv_before, 0), d.priority) = 1);

-- Sub-types of the chosen splits: coefficient = (Σ w·cost ÷ Σ w) of the sub-type ÷ the same
-- of the group.
CREATE OR REPLACE TEMP TABLE mart_catalog_subtypes AS
SELECT p.scenario, x.group_code, x.dimension, x.subtype, x.n AS n_cases,
       CAST(x.wc / x.w AS DOUBLE) AS mean_cost_yuan,
       CAST(x.wc / x.w AS DOUBLE)
       / CAST(sum(x.wc) OVER g / sum(x.w) OVER g AS DOUBLE) AS coefficient,
       ch.cv_before, ch.cv_after, ch.cv_reduction, ch.forced_by
FROM int_aux_sub x
JOIN int_aux_choice ch USING (group_code, dimension)
CROSS JOIN run_params p
WINDOW g AS (PARTITION BY x.group_code);

-- Every case of a split group (all years) → its sub-type and coefficient; a sub-type not
-- seen in the history years is the base (a case whose sub-type has no coefficient keeps 1).
CREATE OR REPLACE TEMP TABLE int_case_aux AS
SELECT v.case_id, v.dimension || ':' || st.subtype AS aux_type, st.coefficient AS aux_coefficient
FROM int_aux_values v
JOIN int_aux_cases a USING (case_id)
JOIN int_aux_choice ch ON ch.group_code = a.group_code AND ch.dimension = v.dimension
JOIN int_aux_base b ON b.dimension = v.dimension
LEFT JOIN int_aux_subtype_map m
       ON m.group_code = a.group_code AND m.dimension = v.dimension
      AND m.raw_subtype = v.raw_subtype
JOIN mart_catalog_subtypes st
  ON st.group_code = a.group_code AND st.subtype = coalesce(m.subtype, b.base);

UPDATE mart_catalog_adjustments a SET applied = true, not_applied_reason = NULL
FROM int_aux_choice ch WHERE a.action = 'split' AND ch.forced_by = a.adjustment_id;

UPDATE mart_catalog_groups g SET aux_dimension = ch.dimension,
    adjusted_by = CASE WHEN ch.forced_by IS NULL THEN g.adjusted_by
                       ELSE concat_ws(';', g.adjusted_by, ch.forced_by) END
FROM int_aux_choice ch WHERE ch.group_code = g.group_code;
