-- The 病案质量指数 (docs/supervision.md) of every supervised hospital-year against the
-- region's: the same formula over all the region's cases.
WITH region AS (
    SELECT year, sum(n_critical_findings) AS n_critical, sum(n_warning_findings) AS n_warning,
           sum(n_cases) AS n_cases
    FROM sv_quality GROUP BY year
)
SELECT q.year, q.hospital_id, 'quality_index' AS index_code, q.n_cases AS n_base,
       q.n_critical_cases AS n_flagged, q.quality_index AS value,
       r.region_index AS region_value, q.quality_index / nullif(r.region_index, 0)
           AS ratio_to_region,
       NULL::DOUBLE AS expected, NULL::DOUBLE AS z_score
FROM sv_quality q
JOIN (SELECT region.year,
             greatest(0, 100 - (p.quality.index_weight_critical * n_critical
                                + p.quality.index_weight_warning * n_warning)
                               / n_cases * 100) AS region_index
      FROM region CROSS JOIN run_params p) r USING (year)
WHERE q.hospital_id IN (SELECT hospital_id FROM sv_hospital_base)
