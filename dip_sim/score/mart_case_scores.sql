-- The points each case is paid by (stored as case_scores): an approved 特例单议 case within the
-- cap takes its special points (int_special_decided; outlier band 'special'); with
-- special_review.ungrouped_mode = points, the ungrouped cases (eligible, no critical finding,
-- no group) are added, scored ungrouped_points_factor × cost ÷ 预算点值 inside the fund
-- (dip_rules.md §5). A case's DIP amount, its share of its hospital's (by points), is not
-- stored: the case_scores view computes it from the hospital's settlement (its contract's
-- on_read), so that a scenario changing only the budget rewrites no case.
SELECT s.* REPLACE (
           CASE WHEN d.case_id IS NOT NULL THEN d.special_points ELSE s.case_points END
               AS case_points,
           CASE WHEN d.case_id IS NOT NULL THEN 'special' ELSE s.outlier END AS outlier)
FROM int_case_scores s
LEFT JOIN (SELECT case_id, special_points FROM int_special_decided WHERE within_cap) d
       USING (case_id)
UNION ALL BY NAME
SELECT p.run.scenario, p.run.sim_year AS year, f.case_id, f.hospital_id, f.month,
       NULL AS group_code, 'ungrouped' AS group_type, NULL AS rw, 1.0 AS level_coefficient,
       NULL AS aux_type, 1.0 AS aux_coefficient, false AS primary_group, 1.0 AS tcm_factor,
       NULL AS cost_ratio, 'ungrouped' AS outlier,
       p.special_review.ungrouped_points_factor * CAST(f.total_cost_yuan AS DOUBLE) / b.pv_budget_yuan
           AS case_points,
       f.total_cost_yuan,
       f.fund_paid_yuan,
       CASE WHEN p.budget.split_by_insurance THEN coalesce(f.insurance_type, 'unknown')
            ELSE 'all' END AS pool, f.los_days, f.icu_days
FROM case_features f
JOIN mart_case_groups g USING (case_id)
CROSS JOIN run_params p CROSS JOIN int_budget_point_value b
-- the mode read as a constant: without it the scan is left out
WHERE getvariable('special_review.ungrouped_mode') = 'points' AND f.year = p.run.sim_year
  AND f.eligible
  AND NOT g.grouped AND coalesce(f.severity, 'ok') <> 'critical'
