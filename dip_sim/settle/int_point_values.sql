WITH t AS (
    -- exact sums (see catalog/int_keyed.sql): the same inputs give the same bits
    SELECT CAST(sum(points) AS DOUBLE) AS total_points FROM mart_case_score_cells
), hp AS (
    SELECT CAST(sum(CAST(base_points AS DECIMAL(38, 10))) AS DOUBLE) AS base_points,
           CAST(sum(CAST(excess_points AS DECIMAL(38, 10))) AS DOUBLE) AS excess_points
    FROM int_hospital_points
), v AS (
    SELECT b.*, t.total_points, p.point_value.mode AS pv_mode,
           (b.dip_fund_yuan / b.fund_ratio) / t.total_points AS pv_floating,
           (b.dip_fund_yuan / b.fund_ratio - hp.base_points * b.pv_budget_yuan)
           / NULLIF(hp.excess_points, 0) AS pv_float_raw,
           p.point_value.elastic_floor, p.point_value.elastic_cap
    FROM int_budget b, t, hp, run_params p
)
SELECT p.run.scenario, p.run.sim_year AS year, v.dip_fund_yuan, v.fund_ratio, v.total_points,
       v.pv_budget_yuan, v.pv_mode, v.pv_floating,
       CASE WHEN v.pv_mode = 'elastic'
            -- raised to the floor, then lowered to the cap (each when set)
            THEN least(greatest(v.pv_float_raw,
                                coalesce(v.elastic_floor * v.pv_budget_yuan, v.pv_float_raw)),
                       coalesce(v.elastic_cap * v.pv_budget_yuan,
                                greatest(v.pv_float_raw,
                                         coalesce(v.elastic_floor * v.pv_budget_yuan,
                                                  v.pv_float_raw)))) END
           AS pv_float_yuan,
       v.pv_budget_standard_yuan, v.reserve_yuan, v.pv_prev_year_yuan
FROM v CROSS JOIN run_params p
