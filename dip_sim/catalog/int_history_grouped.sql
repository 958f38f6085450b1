-- The grouped history cases, with their year's weight.
SELECT a.*, h.weight
FROM mart_case_groups a JOIN run_history h USING (year)
WHERE a.eligible AND a.grouped
