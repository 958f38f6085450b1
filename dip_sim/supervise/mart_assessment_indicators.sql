-- 绩效考核 (performance assessment): a 0–100 score per hospital-year, mapped to the
-- assessment coefficient and the release of the withheld deposit (医保发〔2025〕18号: 考核结果与
-- 年度清算挂钩; the indicators, weights and bands are local choices, data/policy/).
--
-- An indicator's points = weight × clamp((zero_at − x) ÷ (zero_at − full_at), 0, 1), x being
-- the index's value, its ratio to the region or its z score (measure): full points at full_at
-- or better, none at zero_at or worse, linear between; works whichever way round the two
-- lie. Worked example: 分解住院 ratio 2.0 with full_at 1.0, zero_at 3.0, weight 15 →
-- 15 × (3 − 2) ÷ (3 − 1) = 7.5 points. Score = 100 × Σ points ÷ Σ weights of the indicators
-- the hospital-year has a value for (a missing one neither earns nor costs points).
SELECT h.scenario, h.year, h.hospital_id, s.indicator, s.label, s.measure, s.weight,
       s.full_at, s.zero_at, x.x,
       s.weight * least(1, greatest(0, (s.zero_at - x.x) / (s.zero_at - s.full_at))) AS indicator_points
FROM run_assessment_scheme s
JOIN mart_supervision_hospitals h ON h.index_code = s.indicator
CROSS JOIN LATERAL (SELECT CASE s.measure WHEN 'value' THEN h.value
                                          WHEN 'ratio' THEN h.ratio_to_region
                                          WHEN 'z' THEN h.z_score END AS x) x
