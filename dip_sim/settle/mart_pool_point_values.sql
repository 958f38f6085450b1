-- each fund pool's fund, R, points and point value ('all' without the insurance split)
SELECT p.run.scenario, p.run.sim_year AS year, pl.pool, pl.dip_fund_yuan, pl.reserve_yuan, pl.fund_ratio,
       pl.total_points,
       CASE WHEN p.point_value.mode = 'fixed' THEN v.pv_budget_yuan ELSE pl.pv_floating END
           AS pv_settlement_yuan
FROM int_pools pl CROSS JOIN run_params p CROSS JOIN int_point_values v
