-- The catalogue as the history costs give it: each group's weighted mean cost and points
-- rw = m_i / M × points.scale, before the panel's adjustments and the special groups.
SELECT p.run.scenario, s.group_code, s.group_type,
       CASE WHEN s.group_type = 'core' THEN ck.dx_key ELSE s.dx3 END AS dx_key,
       CASE WHEN s.group_type = 'core' THEN ck.proc_key ELSE '' END AS proc_key,
       CASE WHEN s.group_type = 'core' THEN coalesce(cr.proc_class, 'conservative')
            ELSE s.comp_class END AS proc_class,
       s.n_cases, m.mean_cost_yuan, s.cv,
       m.mean_cost_yuan / a.mean_cost_all_yuan * p.points.scale AS rw,
       -- before negotiated points and their rescaling, and the adjustments (mart_catalog_groups)
       m.mean_cost_yuan / a.mean_cost_all_yuan * p.points.scale AS rw_computed,
       NULL::VARCHAR AS adjusted_by,
       NULL::VARCHAR AS aux_dimension,  -- the auxiliary split (mart_catalog_groups)
       false AS primary_candidate, false AS primary_group, false AS tcm_group,  -- ditto
       s.sd_cost_yuan, s.p5_cost_yuan, s.median_cost_yuan, s.p95_cost_yuan, s.mean_los_days,
       NULL::DOUBLE AS outlier_share,  -- ditto
       s.share_level3, s.share_level2, s.share_level1
FROM int_group_stats s
JOIN (SELECT group_code,
             CAST(sum(CAST(weight * mean_cost_yuan AS DECIMAL(38, 10))) AS DOUBLE)
             / CAST(sum(CAST(weight AS DECIMAL(38, 10))) AS DOUBLE) AS mean_cost_yuan
      FROM int_group_year GROUP BY group_code) m USING (group_code)
LEFT JOIN int_core_keys ck ON s.group_type = 'core' AND ck.core_code = s.group_code
LEFT JOIN int_key_class kc ON s.group_type = 'core' AND kc.proc_key = ck.proc_key
LEFT JOIN ref_proc_class_rank cr ON cr.class_rank = kc.class_rank
CROSS JOIN int_all_mean a
CROSS JOIN run_params p
