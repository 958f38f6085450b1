-- The grouping supervision reads: every case's group (all years). In a simulation run, the
-- run's own grouping; in dip-sim supervise, the stored scenario's (the same model either way).
SELECT case_id, year, hospital_id, eligible, group_code, grouped FROM mart_case_groups
