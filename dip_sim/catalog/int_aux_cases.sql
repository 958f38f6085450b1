-- Auxiliary typing (辅助目录/辅助分型; dip_rules.md §2, DIP 3.0).
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
-- These models run when auxiliary.enabled or a split adjustment exists (else empty).
SELECT g.case_id, g.year, g.group_code, g.total_cost_yuan, h.weight,
       g.eligible AND h.year IS NOT NULL AS in_history,
       c.main_dx, c.other_dx, c.discharge_disposition, c.age_years, c.age_days, c.los_days,
       c.icu_days
FROM mart_case_groups g
JOIN cases c ON c.case_id = g.case_id
LEFT JOIN run_history h ON h.year = g.year
CROSS JOIN run_params p
WHERE g.group_type = 'core'
  AND (g.group_code IN (SELECT group_code FROM int_catalog_computed
                        WHERE group_type = 'core' AND n_cases > p.auxiliary.min_group_cases
                          AND p.auxiliary.enabled)
       OR g.group_code IN (SELECT group_code FROM run_splits))
