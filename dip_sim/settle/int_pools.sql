SELECT b.pool, b.dip_fund_yuan, b.reserve_yuan, b.fund_ratio, t.points AS total_points,
       (b.dip_fund_yuan / b.fund_ratio) / t.points AS pv_floating
FROM int_budget_pools b
JOIN (SELECT pool, CAST(sum(points) AS DOUBLE) AS points
      FROM mart_case_score_cells GROUP BY pool) t USING (pool)
