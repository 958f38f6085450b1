WITH g AS (
    SELECT year, hospital_id, dx3, n_cases, sum_rw / n_cases AS mean_rw,
           region_rw AS region_mean_rw, n_proc / n_cases AS proc_rate, region_proc_rate,
           n_severity / n_cases AS severity_rate, region_severity_rate
    FROM sv_hospital_categories
), h AS (
    SELECT *, lag(mean_rw) OVER w AS prev_mean_rw, lag(proc_rate) OVER w AS prev_proc_rate,
           lag(severity_rate) OVER w AS prev_severity_rate, lag(year) OVER w AS prev_year
    FROM g WINDOW w AS (PARTITION BY hospital_id, dx3 ORDER BY year)
)
SELECT (SELECT p.run.scenario FROM run_params p) AS scenario, year, hospital_id, dx3, n_cases,
       mean_rw, region_mean_rw, CASE WHEN prev_year = year - 1 THEN prev_mean_rw END
           AS prev_mean_rw,
       proc_rate, region_proc_rate,
       CASE WHEN prev_year = year - 1 THEN prev_proc_rate END AS prev_proc_rate,
       severity_rate, region_severity_rate,
       CASE WHEN prev_year = year - 1 THEN prev_severity_rate END AS prev_severity_rate,
       -- cases with a procedure / severity code beyond what the hospital's own last year
       -- (else the region) would give: where to look
       n_cases * (proc_rate - CASE WHEN prev_year = year - 1 THEN prev_proc_rate
                                   ELSE region_proc_rate END) AS excess_proc_cases,
       n_cases * (severity_rate - CASE WHEN prev_year = year - 1 THEN prev_severity_rate
                                       ELSE region_severity_rate END) AS excess_severity_cases
FROM h
