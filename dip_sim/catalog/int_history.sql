-- History cases: eligible (no critical quality issue) cases of the history years.
-- A view: read twice below, cheaper than writing 7.5M rows at 10M cases.
SELECT k.*, h.weight
FROM int_keyed k JOIN run_history h USING (year)
WHERE k.eligible
