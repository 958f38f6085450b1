WITH w AS (
    SELECT group_code, sum(CAST(weight AS DECIMAL(38, 10))) AS w
    FROM int_history_grouped GROUP BY group_code
), t AS (
    SELECT sum(CAST(w.w * g.rw AS DECIMAL(38, 10))) AS total,
           sum(CAST(w.w * g.rw AS DECIMAL(38, 10))) FILTER (WHERE f.group_code IS NOT NULL)
               AS fixed_before,
           sum(CAST(w.w * f.rw AS DECIMAL(38, 10))) AS fixed_after
    FROM int_catalog_computed g JOIN w USING (group_code)
    LEFT JOIN int_set_points f USING (group_code)
)
SELECT CASE WHEN fixed_before IS NULL THEN 1.0
            ELSE CAST((total - fixed_after) AS DOUBLE) / CAST((total - fixed_before) AS DOUBLE)
       END AS factor
FROM t
