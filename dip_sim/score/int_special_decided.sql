-- decisions on cases of this year's DIP cases; the approved ones within the cap
WITH d AS (
    SELECT d.*, s.hospital_id, s.group_code, s.total_cost_yuan
    FROM run_decisions d JOIN int_case_scores s USING (case_id)
), ranked AS (
    SELECT d.*,
           row_number() OVER (PARTITION BY d.decision = 'approved'
                              ORDER BY d.date, d.case_id) AS rank_approved
    FROM d
)
SELECT r.*,
       r.decision = 'approved'
       AND r.rank_approved <= floor(p.special_review.cap_per_mille / 1000
                                    * (SELECT count(*) FROM int_case_scores)) AS within_cap,
       CASE r.method WHEN 'adjusted' THEN r.points
                     ELSE r.total_cost_yuan / b.pv_budget_yuan END AS special_points
FROM ranked r CROSS JOIN run_params p CROSS JOIN int_budget_point_value b
