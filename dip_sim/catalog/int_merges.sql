-- The panel's merges (docs/rules.md): a merged group and the group it goes into must both be
-- in the catalogue (the groups the cases are placed in: core keys and comprehensive groups).
SELECT m.from_code, m.to_code, m.adjustment_id,
       CASE WHEN m.to_code IN (SELECT core_code FROM int_core_keys) THEN 'core'
            ELSE 'comprehensive' END AS to_type
FROM run_merges m JOIN run_adjustments a USING (adjustment_id)
WHERE m.from_code IN (SELECT core_code FROM int_core_keys UNION SELECT comp_code FROM int_comp_codes)
  AND m.to_code IN (SELECT core_code FROM int_core_keys UNION SELECT comp_code FROM int_comp_codes)
-- one merge per group: the last in the file
QUALIFY row_number() OVER (PARTITION BY m.from_code ORDER BY a.seq DESC) = 1
