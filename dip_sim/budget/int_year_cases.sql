-- The grouped cases of the simulation year, with their features and fund pool (employee or
-- resident insurance with budget.split_by_insurance, else 'all'). The year is read as a
-- constant so that only that year's row groups are scanned.
SELECT f.case_id, f.hospital_id, f.level, f.month, f.los_days, f.icu_days, f.total_cost_yuan,
       f.fund_paid_yuan, g.group_code, g.group_type,
       CASE WHEN getvariable('budget.split_by_insurance')
            THEN coalesce(f.insurance_type, 'unknown') ELSE 'all' END AS pool
FROM case_features f
JOIN mart_case_groups g USING (case_id)
WHERE f.year = getvariable('run.sim_year') AND g.year = getvariable('run.sim_year')
  AND g.grouped
