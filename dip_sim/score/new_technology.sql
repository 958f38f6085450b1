-- Cases of the simulation year with a procedure on the new-technology list (特例单议
-- candidates, special_cases.sql). Run only when special_review.new_technology_file names a
-- list (dip_sim/simulation.py).
-- Reads: int_year_cases, cases, run_new_technology (prefix).
-- Writes int_new_technology_cases (grain: case): the listed codes it has.
CREATE OR REPLACE TEMP TABLE int_new_technology_cases AS
SELECT x.case_id, string_agg(DISTINCT x.code, '、' ORDER BY x.code) AS codes
FROM (SELECT k.case_id,
             unnest(list_filter([k.main_proc] || coalesce(string_split(k.other_procs, ';'), []),
                                lambda c: c IS NOT NULL AND c <> '')) AS code
      FROM cases k SEMI JOIN int_year_cases y USING (case_id)) x
JOIN run_new_technology n ON starts_with(x.code, n.prefix)
GROUP BY x.case_id;
