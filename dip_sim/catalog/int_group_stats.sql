SELECT group_code, any_value(group_type) AS group_type, count(*) AS n_cases,
       -- CV = population SD ÷ mean, from exact sums: var = (n·Σx² − (Σx)²) / n²
       CASE WHEN sum(total_cost_yuan) > 0
            THEN sqrt(greatest(CAST(count(*) * sum(total_cost_yuan * total_cost_yuan)
                                    - sum(total_cost_yuan) * sum(total_cost_yuan) AS DOUBLE), 0))
                 / CAST(sum(total_cost_yuan) AS DOUBLE) END AS cv,
       any_value(dx3) AS dx3, any_value(proc_class_max) AS comp_class,
       -- for the panel: spread, length of stay, hospital-level mix
       CASE WHEN count(*) > 0
            THEN sqrt(greatest(CAST(count(*) * sum(total_cost_yuan * total_cost_yuan)
                                    - sum(total_cost_yuan) * sum(total_cost_yuan) AS DOUBLE), 0))
                 / count(*) END AS sd_cost_yuan,
       CAST(quantile_cont(total_cost_yuan, 0.05) AS DOUBLE) AS p5_cost_yuan,
       CAST(quantile_cont(total_cost_yuan, 0.5) AS DOUBLE) AS median_cost_yuan,
       CAST(quantile_cont(total_cost_yuan, 0.95) AS DOUBLE) AS p95_cost_yuan,
       avg(los_days) AS mean_los_days,
       count(*) FILTER (WHERE level = 3) / count(*) AS share_level3,
       count(*) FILTER (WHERE level = 2) / count(*) AS share_level2,
       count(*) FILTER (WHERE level = 1) / count(*) AS share_level1
FROM int_history_grouped GROUP BY group_code
