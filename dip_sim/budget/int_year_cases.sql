-- DIP fund, fund ratio and budget point value (dip_rules.md §4).
SELECT f.* EXCLUDE (status, severity, reason, has_case, has_settlement),
       g.group_code, g.group_type,
       -- the fund pool: employee / resident insurance when budget.split_by_insurance
       CASE WHEN (SELECT p.budget.split_by_insurance FROM run_params p)
            THEN coalesce(f.insurance_type, 'unknown') ELSE 'all' END AS pool
FROM (SELECT * FROM case_features WHERE year = (SELECT p.run.sim_year FROM run_params p)) f
JOIN mart_case_groups g USING (case_id)
WHERE g.grouped
