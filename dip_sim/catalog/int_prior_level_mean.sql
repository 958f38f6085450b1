SELECT group_code, level, CAST(c_last / n_last AS DOUBLE) AS mean_cost_yuan
FROM int_group_level WHERE n_last > 0
