-- Point values and hospital settlement (dip_rules.md §4 and §6).
--
-- point_value.mode [2020, 3.0]; P_h = hospital h's case points, P = Σ P_h, F = DIP fund,
-- R = 医保支付比例, pv_b = 预算点值. DIP amount_h = paid value of its points × R:
--   floating: every point at 结算点值 = (F ÷ R) ÷ P, so that Σ amounts = F;
--   fixed:    every point at pv_b;
--   elastic:  h's base volume, B_h = elastic_base_share × its points of the last history
--             year (Σ rw × level coefficient), is paid at pv_b up to P_h; the points beyond
--             it at a floating value pv_f = (F ÷ R − pv_b·Σ min(P_h, B_h)) ÷ Σ (P_h − B_h)⁺,
--             held within [floor, cap] × pv_b when set. Hospitals that grow past their base
--             share what is left of the fund.
-- 结算点值 is then Σ amounts ÷ R ÷ P (the value a point was paid on average). Floating, and
-- elastic within its bounds, pay out exactly F; otherwise budget_balance_yuan = F − Σ amounts
-- (negative: the fund overspent).
WITH cur AS (
    SELECT hospital_id, CAST(sum(points) AS DOUBLE) AS points
    FROM mart_case_score_cells GROUP BY hospital_id
), prev AS (  -- its points in the last history year, at the catalogue's rw
    -- (only the elastic mode has a base volume: under the others a constant FALSE filter,
    -- and the history year's case groups are not read)
    SELECT g.hospital_id,
           CAST(sum(CAST(c.rw * l.coefficient AS DECIMAL(38, 10))) AS DOUBLE) AS points
    FROM mart_case_groups g
    JOIN mart_catalog_groups c USING (group_code)
    JOIN run_levels l ON l.level = g.level
    WHERE getvariable('point_value.mode') = 'elastic'
      AND g.grouped AND g.eligible AND g.year = (SELECT max(year) FROM run_history)
    GROUP BY g.hospital_id
)
SELECT cur.hospital_id, cur.points,
       least(cur.points, p.point_value.elastic_base_share * coalesce(prev.points, 0)) AS base_points,
       cur.points - least(cur.points, p.point_value.elastic_base_share * coalesce(prev.points, 0))
           AS excess_points
FROM cur LEFT JOIN prev USING (hospital_id) CROSS JOIN run_params p
