-- mart_case_groups rebuilt from a base scenario's stored groups (base_case_groups), for a
-- scenario whose parameters leave the grouping as the base's: each case's group, rule and
-- trace as stored, with the case attributes the model carries for later models taken where
-- the model takes them (int_case_procs, through int_keyed). The rows come in the order the base
-- stored them, which is the order the model made them in: later float sums then add in the
-- same order as in a full run, and give the same result to the last digit.
SELECT g.scenario, g.case_id, g.year, g.hospital_id, p.level, p.eligible, p.total_cost_yuan,
       p.fund_paid_yuan, p.los_days, p.dx3, p.proc_class_max, g.group_code, g.group_type,
       g.grouped, g.trace, g.rule
FROM base_case_groups g
JOIN int_case_procs p USING (case_id)
ORDER BY g.stored_order
