-- Each (group, dimension): CV before and after the split.
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
FROM grp WHERE s > 0
