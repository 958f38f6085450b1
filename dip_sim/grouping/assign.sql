-- Group assignment (入组) of every input case of every year, with the rule that decided it.
-- Reads: int_keyed (every input case, with its quality verdict), int_core_keys,
--   mart_catalog_groups, run_params.
-- Writes temp table mart_case_groups (grain: input case).
-- Core first, then comprehensive [3.0]; a case with a critical quality issue, or whose
-- comprehensive group has no history cases, is not grouped (未入组).
CREATE OR REPLACE TEMP TABLE mart_case_groups AS
SELECT p.scenario, k.year, k.case_id, k.hospital_id,
       CASE WHEN k.severity = 'critical' THEN NULL
            WHEN ck.core_code IS NOT NULL THEN k.core_code
            WHEN cg.group_code IS NOT NULL THEN k.comp_code END AS group_code,
       CASE WHEN k.severity = 'critical' THEN NULL
            WHEN ck.core_code IS NOT NULL THEN 'core'
            WHEN cg.group_code IS NOT NULL THEN 'comprehensive' END AS group_type,
       k.severity <> 'critical' AND (ck.core_code IS NOT NULL OR cg.group_code IS NOT NULL)
           AS grouped,
       CASE WHEN k.severity = 'critical'
                THEN '未入组：质控严重问题 ' || k.status
            WHEN ck.core_code IS NOT NULL
                THEN '核心病种：组合 ' || k.core_code || ' 历史病例数达到阈值'
            WHEN cg.group_code IS NOT NULL
                THEN '综合病种：组合 ' || k.core_code || ' 非核心，按类目 ' || k.dx3
                     || ' × 最高操作类别 ' || k.proc_class_max
            ELSE '未入组：综合病种 ' || k.comp_code || ' 无历史病例' END AS rule
FROM int_keyed k
LEFT JOIN int_core_keys ck ON ck.core_code = k.core_code
LEFT JOIN mart_catalog_groups cg ON cg.group_code = k.comp_code
CROSS JOIN run_params p;
