-- The group of every case of every year. Core first, then comprehensive [3.0]; a case with a
-- critical quality issue, or whose comprehensive group has no history case, is not grouped.
WITH class_source AS (  -- the procedure that gave a comprehensive case its class, for the trace
    SELECT proc_key_all, min(code) FILTER (WHERE class_rank = top_rank) AS code
    FROM (SELECT l.proc_key_all, l.code, r.class_rank,
                 max(r.class_rank) OVER (PARTITION BY l.proc_key_all) AS top_rank
          FROM (SELECT proc_key_all, unnest(string_split(proc_key_all, '+')) AS code
                FROM (SELECT DISTINCT proc_key_all FROM int_keyed WHERE proc_key_all <> '')) l
          JOIN ref_proc r USING (code))
    GROUP BY proc_key_all
), c AS (
    SELECT k.case_id, k.year, k.month, k.hospital_id, k.level, k.eligible, k.severity, k.status,
           k.total_cost_yuan, k.fund_paid_yuan, k.los_days, k.dx3, k.proc_class_max,
           k.proc_key_all, k.proc_key, k.core_code, k.comp_code, k.key_adjustments,
           CASE WHEN k.severity = 'critical' THEN NULL
                WHEN ck.core_code IS NOT NULL THEN k.core_code
                ELSE s.core_code END AS core_group,
           s.n_procs AS subset_procs, s.tie_rule
    FROM int_keyed k
    LEFT JOIN int_core_keys ck ON ck.core_code = k.core_code
    LEFT JOIN int_subset_choice s ON s.case_id = k.case_id
), placed AS (
    SELECT p.run.scenario, c.case_id, c.year, c.month, c.hospital_id, c.level, c.eligible, c.total_cost_yuan,
           c.fund_paid_yuan, c.los_days, c.dx3, c.proc_class_max,
           coalesce(c.core_group, cc.comp_code) AS group_code,
           CASE WHEN c.core_group IS NOT NULL THEN 'core'
                WHEN cc.comp_code IS NOT NULL THEN 'comprehensive' END AS group_type,
           c.core_group IS NOT NULL OR cc.comp_code IS NOT NULL AS grouped,
           -- the rule path that placed the case, in English, and for the UI in Chinese
           CASE WHEN c.severity = 'critical'
                    THEN 'not grouped: critical quality issue ' || c.status
                WHEN c.core_group = c.core_code THEN 'core exact key'
                WHEN c.core_group IS NOT NULL
                    THEN 'core partial key: ' || c.core_code || ' -> ' || c.core_group || ' ('
                         || c.subset_procs || ' of ' || array_length(string_split(c.proc_key, '+'))
                         || ' procedures matched; ' || c.tie_rule || ')'
                WHEN cc.comp_code IS NOT NULL
                    THEN 'comprehensive: class ' || c.proc_class_max
                         || CASE WHEN src.code IS NOT NULL THEN ' from ' || src.code
                                 ELSE ' (no procedure in the key)' END
                ELSE 'not grouped: no history for ' || c.comp_code END
           || CASE WHEN c.key_adjustments IS NOT NULL
                   THEN '; key adjusted by ' || c.key_adjustments ELSE '' END AS trace,
           CASE WHEN c.severity = 'critical'
                    THEN '未入组：质控严重问题 ' || c.status
                WHEN c.core_group = c.core_code
                    THEN '核心病种：组合 ' || c.core_code || ' 历史病例数达到阈值'
                WHEN c.core_group IS NOT NULL
                    THEN '核心病种：组合 ' || c.core_code || ' 非核心，按其中 ' || c.subset_procs
                         || ' 个手术操作匹配到核心病种 ' || c.core_group
                WHEN cc.comp_code IS NOT NULL
                    THEN '综合病种：组合 ' || c.core_code || ' 非核心，按类目 ' || c.dx3
                         || ' × 最高操作类别 ' || c.proc_class_max
                ELSE '未入组：综合病种 ' || c.comp_code || ' 无历史病例' END
           || CASE WHEN c.key_adjustments IS NOT NULL
                   THEN '（专家调整 ' || c.key_adjustments || '：手术操作改按保守治疗）' ELSE '' END
               AS rule
    FROM c
    LEFT JOIN int_comp_codes cc ON c.core_group IS NULL AND c.severity <> 'critical'
                           AND cc.comp_code = c.comp_code
    LEFT JOIN class_source src ON c.core_group IS NULL AND src.proc_key_all = c.proc_key_all
    CROSS JOIN run_params p
)
-- The panel's merges (int_merges): the cases of a merged group, every year, go into the group
-- `into`, which keeps its type; the catalogue is computed on the pooled cases.
SELECT g.* REPLACE (
           coalesce(m.to_code, g.group_code) AS group_code,
           coalesce(m.to_type, g.group_type) AS group_type,
           CASE WHEN m.from_code IS NULL THEN g.trace
                ELSE g.trace || '; merged into ' || m.to_code || ' by ' || m.adjustment_id
           END AS trace,
           CASE WHEN m.from_code IS NULL THEN g.rule
                ELSE g.rule || '（专家调整 ' || m.adjustment_id || '：并入 ' || m.to_code || '）'
           END AS rule)
FROM placed g
LEFT JOIN int_merges m ON m.from_code = g.group_code
