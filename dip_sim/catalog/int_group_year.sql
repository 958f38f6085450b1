-- Mean cost per group and year, and the same over all grouped history cases.
SELECT group_code, year, any_value(weight) AS weight,
       CAST(avg(total_cost_yuan) AS DOUBLE) AS mean_cost_yuan, count(*) AS n_cases
FROM int_history_grouped GROUP BY group_code, year
