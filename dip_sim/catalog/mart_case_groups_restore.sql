-- mart_case_groups rebuilt from a base scenario's stored groups (base_case_groups), for a
-- scenario whose parameters leave the grouping as the base's: each case's group, rule and
-- trace as stored, with the case attributes the model carries for later models taken where
-- the model takes them (int_case_procs, through int_keyed). The rows come in the order the base
-- stored them, which is the order the model made them in: later float sums then add in the
-- same order as in a full run, and give the same result to the last digit.
-- Only the carried attributes are put in stored order (a sort of narrow rows); the stored rows,
-- read in the order they were stored, are paired with them by position, and a case paired with
-- another case's attributes stops the run.
SELECT g.scenario,
       CASE WHEN g.case_id IS NOT DISTINCT FROM c.case_id THEN g.case_id
            ELSE error('mart_case_groups restore: case ' || coalesce(g.case_id, c.case_id)
                       || ' paired with another case''s attributes') END AS case_id,
       g.year, g.hospital_id, c.level, c.eligible, c.total_cost_yuan, c.fund_paid_yuan,
       c.los_days, c.dx3, c.proc_class_max, g.group_code, g.group_type, g.grouped, g.trace, g.rule
FROM (SELECT * EXCLUDE (stored_order) FROM base_case_groups) g
POSITIONAL JOIN (
    SELECT p.case_id, p.level, p.eligible, p.total_cost_yuan, p.fund_paid_yuan, p.los_days,
           p.dx3, p.proc_class_max
    FROM base_case_groups g
    JOIN int_case_procs p USING (case_id)
    ORDER BY g.stored_order
) c
