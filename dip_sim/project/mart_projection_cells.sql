-- Each hospital's cases of the simulation year by group (every scored case: grouped, and
-- ungrouped ones scored by their cost), with the yearly volume growth the projection applies
-- to them (docs/rules.md#点值预测): projection.volume_growth when set; else the trend from the
-- first history year to the simulation year, (n_sim ÷ n_first)^(1 ÷ years) − 1, of the
-- hospital's grouped cases of the group when both years have projection.trend_min_cases, else
-- of all its grouped cases, else none; never above projection.volume_growth_cap.
-- Sums of doubles are taken exactly, as DECIMAL (see catalog/int_keyed.sql).
WITH sim AS (
    SELECT hospital_id, group_code, count(*) AS n_cases,
           CAST(sum(CAST(coalesce(rw, 0) AS DECIMAL(38, 10))) AS DOUBLE) AS rw_sum,
           CAST(sum(CAST(case_points AS DECIMAL(38, 10))) AS DOUBLE) AS points,
           CAST(sum(total_cost_yuan) AS DOUBLE) AS total_cost_yuan
    FROM mart_case_scores
    GROUP BY hospital_id, group_code
), first_year AS (
    SELECT hospital_id, group_code, count(*) AS n_first
    FROM int_history_grouped
    WHERE year = (SELECT min(year) FROM run_history)
    GROUP BY hospital_id, group_code
), hospital_first AS (
    SELECT hospital_id, sum(n_first) AS n_first FROM first_year GROUP BY hospital_id
), hospital AS (
    SELECT s.hospital_id, sum(s.n_cases) FILTER (WHERE s.group_code IS NOT NULL) AS n_sim,
           coalesce(max(f.n_first), 0) AS n_first
    FROM sim s LEFT JOIN hospital_first f USING (hospital_id)
    GROUP BY s.hospital_id
), trend AS (
    SELECT s.*, coalesce(f.n_first, 0) AS n_first_year,
           getvariable('run.sim_year') - (SELECT min(year) FROM run_history) AS span_years,
           CASE WHEN p.projection.volume_growth IS NOT NULL THEN 'set'
                WHEN s.group_code IS NOT NULL
                     AND coalesce(f.n_first, 0) >= p.projection.trend_min_cases
                     AND s.n_cases >= p.projection.trend_min_cases THEN 'group'
                WHEN h.n_first > 0 AND h.n_sim > 0 THEN 'hospital'
                ELSE 'none' END AS trend_source,
           h.n_sim AS hospital_n_sim, h.n_first AS hospital_n_first,
           p.projection.volume_growth AS set_growth, p.projection.volume_growth_cap AS cap
    FROM sim s
    LEFT JOIN first_year f USING (hospital_id, group_code)
    LEFT JOIN hospital h USING (hospital_id)
    CROSS JOIN run_params p
)
SELECT getvariable('run.scenario') AS scenario, hospital_id, group_code, n_cases, rw_sum, points,
       total_cost_yuan, n_first_year, trend_source,
       CASE WHEN cap IS NOT NULL AND growth > cap THEN cap ELSE growth END AS volume_growth
FROM (SELECT *,
             CASE trend_source
                 WHEN 'set' THEN set_growth
                 WHEN 'group' THEN pow(n_cases / n_first_year, 1.0 / span_years) - 1
                 WHEN 'hospital' THEN pow(hospital_n_sim / hospital_n_first, 1.0 / span_years) - 1
                 ELSE 0.0 END AS growth
      FROM trend)
