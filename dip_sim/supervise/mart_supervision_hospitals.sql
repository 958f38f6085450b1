-- Every hospital-year's indices with last year's value and a rank per index. Rank 1 is the
-- hospital to look at first: the highest z score where the index has one; else the highest
-- ratio to the region (or value); for the quality index, the lowest.
SELECT p.run.scenario, year, hospital_id, index_code, n_base, n_flagged, value, region_value,
       ratio_to_region, expected, z_score,
       CASE WHEN lag(year) OVER h = year - 1 THEN lag(value) OVER h END AS prev_value,
       rank() OVER (PARTITION BY year, index_code ORDER BY
           coalesce(z_score, CASE WHEN index_code = 'quality_index' THEN -value
                                  ELSE coalesce(ratio_to_region, value) END)
           DESC NULLS LAST)::INTEGER AS rank
FROM (SELECT * FROM sv_hospital_rows UNION ALL BY NAME SELECT * FROM sv_quality_rows)
CROSS JOIN run_params p
WINDOW h AS (PARTITION BY hospital_id, index_code ORDER BY year)
