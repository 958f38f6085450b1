-- The score bands of the assessment: a score at or above `lower` takes `value`
-- (assessment.coefficient_bands, assessment.withhold_release_bands).
SELECT 'coefficient' AS kind, lower_bound AS lower, value
FROM param_assessment_coefficient_bands
UNION ALL
SELECT 'withhold_release' AS kind, lower_bound AS lower, value
FROM param_assessment_withhold_release_bands
