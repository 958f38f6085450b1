-- The catalogue as it is paid: the computed points (int_catalog_computed) with
-- - points set by negotiation (int_set_points) and every other group rescaled by
--   int_rescale's factor, so that total history points stay the same;
-- - adjusted_by naming what touched the group: the negotiated group its adjustment, every other
--   one the rescale it took ('A3:rescale'), a merge's target the merges, a forced split its
--   adjustment;
-- - the auxiliary split's dimension (int_aux_choice);
-- - 基层病种 and 中医优势病种 (DIP 3.0: same points at every level, CV ≤ 0.7). The rule for
--   primary-care groups is always evaluated, so the bureau can review its result
--   (primary_candidate) before adopting it: CV ≤ primary_max_cv, share of history cases at
--   level-1/2 hospitals ≥ primary_min_low_level_share, history cases ≥ primary_min_cases.
--   special.primary_method: none marks no group; rule adopts the candidates; list the file's.
--   TCM-advantage groups are the listed ones;
-- - the share of outlier history cases (int_outlier_shares).
WITH negotiated AS (
    SELECT count(*) AS n,
           string_agg(adjustment_id, ';' ORDER BY adjustment_id) || ':rescale' AS rescale_ids
    FROM int_set_points
), merged AS (
    SELECT to_code, string_agg(DISTINCT adjustment_id, ';' ORDER BY adjustment_id) AS ids
    FROM int_merges GROUP BY to_code
), adjusted AS (
    SELECT g.*,
           CASE WHEN n.n > 0 THEN coalesce(f.rw, g.rw * r.factor) ELSE g.rw END AS new_rw,
           CASE WHEN n.n > 0 THEN coalesce(f.adjustment_id, n.rescale_ids)
                ELSE g.adjusted_by END AS by_points,
           m.ids AS merge_ids, m.to_code IS NOT NULL AS merged,
           ch.dimension AS split_dimension, ch.forced_by,
           g.cv <= p.special.primary_max_cv
               AND coalesce(g.share_level1, 0) + coalesce(g.share_level2, 0)
                   >= p.special.primary_min_low_level_share
               AND g.n_cases >= p.special.primary_min_cases AS candidate,
           p.special.primary_method AS primary_method
    FROM int_catalog_computed g
    CROSS JOIN negotiated n
    CROSS JOIN int_rescale r
    CROSS JOIN run_params p
    LEFT JOIN int_set_points f USING (group_code)
    LEFT JOIN merged m ON m.to_code = g.group_code
    LEFT JOIN int_aux_choice ch ON ch.group_code = g.group_code
), named AS (
    SELECT *, CASE WHEN merged THEN concat_ws(';', by_points, merge_ids)
                   ELSE by_points END AS by_merges
    FROM adjusted
)
SELECT g.* EXCLUDE (new_rw, by_points, merge_ids, merged, split_dimension, forced_by, candidate,
                    primary_method, by_merges)
       REPLACE (
           g.new_rw AS rw,
           CASE WHEN g.forced_by IS NULL THEN g.by_merges
                ELSE concat_ws(';', g.by_merges, g.forced_by) END AS adjusted_by,
           g.split_dimension AS aux_dimension,
           g.candidate AS primary_candidate,
           CASE g.primary_method
               WHEN 'rule' THEN g.candidate
               WHEN 'list' THEN g.group_code IN (SELECT group_code FROM run_primary_list)
               ELSE false END AS primary_group,
           g.group_code IN (SELECT group_code FROM run_tcm_list) AS tcm_group,
           o.share AS outlier_share)
FROM named g
LEFT JOIN int_outlier_shares o USING (group_code)
