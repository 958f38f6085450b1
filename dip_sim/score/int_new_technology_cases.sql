-- Cases of the simulation year with a procedure on the new-technology list (特例单议
-- candidates, int_special_candidates). Skipped (empty) unless special_review.new_technology_file
-- names a list.
SELECT x.case_id, string_agg(DISTINCT x.code, '、' ORDER BY x.code) AS codes
FROM (SELECT k.case_id,
             unnest(list_filter([k.main_proc] || coalesce(string_split(k.other_procs, ';'), []),
                                lambda c: c IS NOT NULL AND c <> '')) AS code
      FROM cases k SEMI JOIN int_year_cases y USING (case_id)) x
JOIN run_new_technology n ON starts_with(x.code, n.prefix)
GROUP BY x.case_id
