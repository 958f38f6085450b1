-- Each key's history cases, and its mean cost as a group would have it (for the tie rule).
SELECT core_code, any_value(dx5) AS dx_key, any_value(proc_key) AS proc_key,
       sum(n_cases) AS n_cases,
       CAST(sum(CAST(weight * mean_cost_yuan AS DECIMAL(38, 10))) AS DOUBLE)
       / CAST(sum(CAST(weight AS DECIMAL(38, 10))) AS DOUBLE) AS mean_cost_yuan
FROM (SELECT core_code, year, any_value(dx5) AS dx5, any_value(proc_key) AS proc_key,
             any_value(weight) AS weight, count(*) AS n_cases,
             CAST(avg(total_cost_yuan) AS DOUBLE) AS mean_cost_yuan
      FROM int_history GROUP BY core_code, year)
GROUP BY core_code
