-- Comprehensive groups that have history cases: keys neither core nor matched to a core group
-- by part of their procedures (int_subset_choice).
SELECT DISTINCT k.comp_code
FROM int_history k
WHERE NOT EXISTS (SELECT 1 FROM int_core_keys ck WHERE ck.core_code = k.core_code)
  AND NOT EXISTS (SELECT 1 FROM int_subset_choice s WHERE s.case_id = k.case_id)
