WITH scores AS (
    SELECT scenario, year, hospital_id,
           -- sums of doubles exact (DECIMAL, as in catalog/int_keyed.sql): the same in any
           -- row order
           100 * CAST(sum(CAST(indicator_points AS DECIMAL(38, 10))) AS DOUBLE)
               / nullif(CAST(sum(CAST(weight AS DECIMAL(38, 10))) FILTER (WHERE x IS NOT NULL)
                             AS DOUBLE), 0) AS score,
           count(*) FILTER (WHERE x IS NOT NULL) AS n_indicators
    FROM mart_assessment_indicators GROUP BY ALL
)
-- the band of each score: the highest lower bound the score reaches
SELECT s.scenario, s.year, s.hospital_id, s.score, s.n_indicators,
       max_by(c.value, c.lower) AS assessment_coefficient,
       (SELECT max_by(w.value, w.lower) FROM run_assessment_bands w
        WHERE w.kind = 'withhold_release' AND s.score >= w.lower) AS withhold_release
FROM scores s
LEFT JOIN run_assessment_bands c ON c.kind = 'coefficient' AND s.score >= c.lower
GROUP BY ALL
