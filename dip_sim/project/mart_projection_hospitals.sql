-- Each hospital's points and DIP amount in the simulation year and each projected year
-- (docs/rules.md#点值预测): amount = points × settlement point value × R, so the hospitals'
-- amounts sum to the year's DIP fund; points_change and growth_share (its part of the city's
-- points growth since the simulation year) name the hospitals driving the points growth.
SELECT p.run.scenario, h.year, h.k AS years_ahead, h.hospital_id, h.n_cases, h.points,
       h.points * y.pv_settlement_yuan * y.fund_ratio AS amount_yuan,
       h.points - h0.points AS points_change,
       (h.points - h0.points) / NULLIF(y.total_points - y0.total_points, 0) AS growth_share
FROM int_projection_hospital_years h
JOIN int_projection_hospital_years h0 ON h0.hospital_id = h.hospital_id AND h0.k = 0
JOIN mart_projection_years y ON y.year = h.year
CROSS JOIN (SELECT total_points FROM mart_projection_years WHERE years_ahead = 0) y0
CROSS JOIN run_params p
ORDER BY h.year, h.hospital_id
