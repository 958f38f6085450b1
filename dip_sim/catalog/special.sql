-- 基层病种 (primary-care groups) and 中医优势病种 (TCM-advantage groups), issue 4 §3.
-- The rule for primary-care groups (DIP 3.0: same points at every level, CV ≤ 0.7) is always
-- evaluated, so the bureau can review its result (primary_candidate) before adopting it:
--   CV ≤ primary_max_cv, share of history cases at level-1/2 hospitals ≥
--   primary_min_low_level_share, history cases ≥ primary_min_cases.
-- primary_method: none (baseline) marks no group; rule adopts the candidates; list the file's.
-- TCM-advantage groups are the listed ones.
-- Reads: mart_catalog_groups, run_params, run_primary_list, run_tcm_list.
-- Writes: mart_catalog_groups.primary_candidate / primary_group / tcm_group.
UPDATE mart_catalog_groups g
SET primary_candidate = g.cv <= p.primary_max_cv
                        AND coalesce(g.share_level1, 0) + coalesce(g.share_level2, 0)
                            >= p.primary_min_low_level_share
                        AND g.n_cases >= p.primary_min_cases,
    tcm_group = g.group_code IN (SELECT group_code FROM run_tcm_list)
FROM run_params p;

UPDATE mart_catalog_groups g
SET primary_group = CASE p.primary_method
                        WHEN 'rule' THEN g.primary_candidate
                        WHEN 'list' THEN g.group_code IN (SELECT group_code FROM run_primary_list)
                        ELSE false END
FROM run_params p;
