SELECT p.run.scenario, p.run.sim_year AS year,
       coalesce(d.case_id, c.case_id) AS case_id,
       coalesce(d.hospital_id, c.hospital_id) AS hospital_id,
       coalesce(d.group_code, c.group_code) AS group_code,
       c.reasons, d.decision, d.method AS review_method, d.reviewer, d.date AS decision_date,
       coalesce(d.within_cap, false) AS paid_as_special,
       CASE WHEN d.decision = 'approved' AND NOT d.within_cap
            THEN '超出特例单议上限（' || p.special_review.cap_per_mille || '‰），按病种分值结算' END
           AS cap_note,
       s.case_points AS points_ordinary,
       CASE WHEN d.within_cap THEN d.special_points END AS points_special
FROM int_special_candidates c
FULL OUTER JOIN int_special_decided d USING (case_id)
JOIN int_case_scores s ON s.case_id = coalesce(d.case_id, c.case_id)
CROSS JOIN run_params p
