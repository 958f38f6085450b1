-- Catalogue (病种目录库) from the history years, and the group of every case (dip_rules.md §2,
-- issue 2 §3, issue 4 §1).
-- Reads: int_case_procs (case_procs.sql: case_features with the panel's key adjustments),
--   run_params (1 row), run_history (year, weight), ref_proc,
--   ref_proc_class_rank, int_combo_keys (related.sql; empty unless main_plus_related).
-- Sums of doubles are taken exactly, as DECIMAL (CAST(sum(CAST(x AS DECIMAL(38, 10))) AS
-- DOUBLE)): a parallel floating-point sum depends on the order rows arrive, and the same
-- parameters must give the same results to the last bit (an empty scenario = the baseline).
-- Costs arrive as DECIMAL(18, 2) from case_features, so their sums and means are exact.
-- Writes temp tables: int_keyed (grain: case), int_key_stats (grain: core key candidate),
--   int_threshold (1 row), int_core_keys (grain: core key), int_subset_choice (grain: case
--   matched to a core group by part of its key), mart_case_groups (grain: case: its group,
--   and the rule path that placed it), the view
--   int_history_grouped (grain: grouped history case), mart_catalog_groups (grain: group).

-- Every case's keys under this scenario's procedure rule.
-- Core key = diagnosis subcategory (亚目, 5 chars) + procedure combination;
-- comprehensive key = diagnosis category (类目, 3 chars) × highest procedure class [3.0].
CREATE OR REPLACE TEMP TABLE int_keyed AS
SELECT f.* EXCLUDE (status, severity, reason, has_case, has_settlement),
       -- the quality verdict (NULL in case_features means ok), for assignment
       coalesce(f.status, 'ok') AS status, coalesce(f.severity, 'ok') AS severity,
       k.proc_key,
       f.dx5 || CASE WHEN k.proc_key = '' THEN '' ELSE '|' || k.proc_key END AS core_code,
       f.dx3 || ':comp:' || f.proc_class_max AS comp_code
FROM int_case_procs f
CROSS JOIN run_params p
LEFT JOIN int_combo_keys ck
       ON ck.dx5 = f.dx5 AND ck.proc_key_main = f.proc_key_main
      AND ck.proc_key_all = f.proc_key_all
CROSS JOIN LATERAL (
    SELECT CASE p.procedure_key
               WHEN 'main_only' THEN f.proc_key_main
               -- the main procedure and its related ones (related.sql); '' without a main one
               WHEN 'main_plus_related' THEN coalesce(ck.proc_key, '')
               ELSE f.proc_key_all END AS proc_key
) k;

-- History cases: eligible (no critical quality issue) cases of the history years.
-- A view: read twice below, cheaper than writing 7.5M rows at 10M cases.
CREATE OR REPLACE TEMP VIEW int_history AS
SELECT k.*, h.weight
FROM int_keyed k JOIN run_history h USING (year)
WHERE k.eligible;

-- Each key's history cases, and its mean cost as a group would have it (for the tie rule).
CREATE OR REPLACE TEMP TABLE int_key_stats AS
SELECT core_code, any_value(dx5) AS dx_key, any_value(proc_key) AS proc_key,
       sum(n_cases) AS n_cases,
       CAST(sum(CAST(weight * mean_cost_yuan AS DECIMAL(38, 10))) AS DOUBLE)
       / CAST(sum(CAST(weight AS DECIMAL(38, 10))) AS DOUBLE) AS mean_cost_yuan
FROM (SELECT core_code, year, any_value(dx5) AS dx5, any_value(proc_key) AS proc_key,
             any_value(weight) AS weight, count(*) AS n_cases,
             CAST(avg(total_cost_yuan) AS DOUBLE) AS mean_cost_yuan
      FROM int_history GROUP BY core_code, year)
GROUP BY core_code;

-- The core threshold [2020, 3.0]: a fixed number of cases (min_cases), or the largest
-- threshold at which the core keys still hold at least core_coverage of the history cases
-- (coverage). covered(t) = Σ cases of the keys with ≥ t cases, falling as t rises; the
-- largest t with covered(t) ≥ share × all is one of the keys' case counts.
CREATE OR REPLACE TEMP TABLE int_threshold AS
SELECT CASE WHEN p.core_threshold_method = 'coverage'
            THEN (SELECT max(n_cases) FROM (
                      SELECT n_cases, sum(n_cases) OVER (ORDER BY n_cases DESC
                          RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS covered
                      FROM int_key_stats)
                  WHERE covered >= p.core_coverage * (SELECT sum(n_cases) FROM int_key_stats))
            ELSE p.core_min_cases END AS core_threshold
FROM run_params p;

-- A key with at least the threshold's history cases is a core group (核心病种) [2020].
CREATE OR REPLACE TEMP TABLE int_core_keys AS
SELECT s.*, len(string_split(s.proc_key, '+')) AS n_procs
FROM int_key_stats s
WHERE s.n_cases >= (SELECT core_threshold FROM int_threshold);

-- main_plus_related: a case whose key is not a core group goes to the core group of the same
-- subcategory whose procedures are part of its key, main procedure included. Several such
-- groups: the one matching most procedures, then the nearest mean cost to the case's cost,
-- then the higher points (the higher mean cost), then the group code (dip_rules.md §2,
-- issue 4 §1). Keys come from int_combo_keys, so the other rules skip this (it is empty).
CREATE OR REPLACE TEMP TABLE int_subset_choice AS
WITH open_keys AS (
    SELECT DISTINCT ck.dx5, ck.proc_key, ck.proc_key_main
    FROM int_combo_keys ck
    WHERE NOT EXISTS (SELECT 1 FROM int_core_keys c
                      WHERE c.core_code = ck.dx5 || '|' || ck.proc_key)
), best AS (  -- the candidates with the most procedures matched, per open key
    SELECT o.dx5, o.proc_key, o.proc_key_main, c.core_code, c.n_procs, c.mean_cost_yuan
    FROM open_keys o
    JOIN int_core_keys c
      ON c.dx_key = o.dx5 AND c.proc_key <> ''
     AND list_has_all(string_split(o.proc_key, '+'), string_split(c.proc_key, '+'))
     AND list_contains(string_split(c.proc_key, '+'), o.proc_key_main)
    QUALIFY rank() OVER (PARTITION BY o.dx5, o.proc_key ORDER BY c.n_procs DESC) = 1
), per_case AS (
    SELECT k.case_id, b.core_code, b.n_procs, b.mean_cost_yuan,
           abs(CAST(k.total_cost_yuan AS DOUBLE) - b.mean_cost_yuan) AS distance,
           count(*) OVER (PARTITION BY k.case_id) AS n_candidates
    FROM int_keyed k
    JOIN best b ON b.dx5 = k.dx5 AND b.proc_key = k.proc_key
    WHERE k.proc_key_main <> ''
), ranked AS (
    SELECT *, min(distance) OVER (PARTITION BY case_id) AS min_distance,
           row_number() OVER (PARTITION BY case_id
                              ORDER BY distance, mean_cost_yuan DESC, core_code) AS pick
    FROM per_case
), decided AS (
    SELECT *, count(*) FILTER (WHERE distance = min_distance)
                  OVER (PARTITION BY case_id) AS n_nearest,
              count(*) FILTER (WHERE distance = min_distance
                                 AND mean_cost_yuan = max_mean) OVER (PARTITION BY case_id)
                  AS n_highest
    FROM (SELECT *, max(mean_cost_yuan) FILTER (WHERE distance = min_distance)
                        OVER (PARTITION BY case_id) AS max_mean
          FROM ranked)
)
SELECT case_id, core_code, n_procs,
       CASE WHEN n_candidates = 1 THEN 'most procedures matched'
            WHEN n_nearest = 1 THEN 'tie: nearest mean cost'
            WHEN n_highest = 1 THEN 'tie: higher points'
            ELSE 'tie: group code' END AS tie_rule
FROM decided WHERE pick = 1;

-- The group of every case of every year. Core first, then comprehensive [3.0]; a case with a
-- critical quality issue, or whose comprehensive group has no history case, is not grouped.
CREATE OR REPLACE TEMP TABLE mart_case_groups AS
WITH comp_codes AS (  -- comprehensive groups that have history cases: neither core nor partial
    SELECT DISTINCT k.comp_code
    FROM int_history k
    WHERE NOT EXISTS (SELECT 1 FROM int_core_keys ck WHERE ck.core_code = k.core_code)
      AND NOT EXISTS (SELECT 1 FROM int_subset_choice s WHERE s.case_id = k.case_id)
), class_source AS (  -- the procedure that gave a comprehensive case its class, for the trace
    SELECT proc_key_all, min(code) FILTER (WHERE class_rank = top_rank) AS code
    FROM (SELECT l.proc_key_all, l.code, r.class_rank,
                 max(r.class_rank) OVER (PARTITION BY l.proc_key_all) AS top_rank
          FROM (SELECT proc_key_all, unnest(string_split(proc_key_all, '+')) AS code
                FROM (SELECT DISTINCT proc_key_all FROM int_keyed WHERE proc_key_all <> '')) l
          JOIN ref_proc r USING (code))
    GROUP BY proc_key_all
), c AS (
    SELECT k.case_id, k.year, k.hospital_id, k.level, k.eligible, k.severity, k.status,
           k.total_cost_yuan, k.fund_paid_yuan, k.los_days, k.dx3, k.proc_class_max,
           k.proc_key_all, k.proc_key, k.core_code, k.comp_code, k.key_adjustments,
           CASE WHEN k.severity = 'critical' THEN NULL
                WHEN ck.core_code IS NOT NULL THEN k.core_code
                ELSE s.core_code END AS core_group,
           s.n_procs AS subset_procs, s.tie_rule
    FROM int_keyed k
    LEFT JOIN int_core_keys ck ON ck.core_code = k.core_code
    LEFT JOIN int_subset_choice s ON s.case_id = k.case_id
)
SELECT p.scenario, c.case_id, c.year, c.hospital_id, c.level, c.eligible, c.total_cost_yuan,
       c.fund_paid_yuan, c.los_days, c.dx3, c.proc_class_max,
       coalesce(c.core_group, cc.comp_code) AS group_code,
       CASE WHEN c.core_group IS NOT NULL THEN 'core'
            WHEN cc.comp_code IS NOT NULL THEN 'comprehensive' END AS group_type,
       c.core_group IS NOT NULL OR cc.comp_code IS NOT NULL AS grouped,
       -- the rule path that placed the case (issue 4 §1), in English, and for the UI in Chinese
       CASE WHEN c.severity = 'critical'
                THEN 'not grouped: critical quality issue ' || c.status
            WHEN c.core_group = c.core_code THEN 'core exact key'
            WHEN c.core_group IS NOT NULL
                THEN 'core partial key: ' || c.core_code || ' -> ' || c.core_group || ' ('
                     || c.subset_procs || ' of ' || len(string_split(c.proc_key, '+'))
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
LEFT JOIN comp_codes cc ON c.core_group IS NULL AND c.severity <> 'critical'
                       AND cc.comp_code = c.comp_code
LEFT JOIN class_source src ON c.core_group IS NULL AND src.proc_key_all = c.proc_key_all
CROSS JOIN run_params p;

-- The panel's merges (issue 4 §5): the cases of the merged groups, every year, go into the
-- group `into`, which keeps its type; the catalogue below is computed on the pooled cases.
CREATE OR REPLACE TEMP TABLE int_merges AS
SELECT m.from_code, m.to_code, m.adjustment_id,
       CASE WHEN m.to_code IN (SELECT core_code FROM int_core_keys) THEN 'core'
            ELSE 'comprehensive' END AS to_type
FROM run_merges m
WHERE m.from_code IN (SELECT group_code FROM mart_case_groups WHERE grouped)
  AND m.to_code IN (SELECT group_code FROM mart_case_groups WHERE grouped);

UPDATE mart_case_groups g
SET group_code = m.to_code, group_type = m.to_type,
    trace = g.trace || '; merged into ' || m.to_code || ' by ' || m.adjustment_id,
    rule = g.rule || '（专家调整 ' || m.adjustment_id || '：并入 ' || m.to_code || '）'
FROM int_merges m
WHERE g.group_code = m.from_code;

-- The grouped history cases, with their year's weight.
CREATE OR REPLACE TEMP VIEW int_history_grouped AS
SELECT a.*, h.weight
FROM mart_case_groups a JOIN run_history h USING (year)
WHERE a.eligible AND a.grouped;

-- Mean cost per group and year, and the same over all grouped history cases.
CREATE OR REPLACE TEMP TABLE int_group_year AS
SELECT group_code, year, any_value(weight) AS weight,
       CAST(avg(total_cost_yuan) AS DOUBLE) AS mean_cost_yuan, count(*) AS n_cases
FROM int_history_grouped GROUP BY group_code, year;

-- m_i = Σ_y w_y · mean_{i,y} / Σ_y w_y over the years in which group i has cases;
-- M likewise over all grouped history cases; rw = m_i / M × points.scale [3.0, 2020 1:2:7].
CREATE OR REPLACE TEMP TABLE int_all_mean AS
SELECT CAST(sum(CAST(weight * mean_cost_yuan AS DECIMAL(38, 10))) AS DOUBLE)
       / CAST(sum(CAST(weight AS DECIMAL(38, 10))) AS DOUBLE) AS mean_cost_all_yuan
FROM (SELECT year, any_value(weight) AS weight, CAST(avg(total_cost_yuan) AS DOUBLE) AS mean_cost_yuan
      FROM int_history_grouped GROUP BY year);

CREATE OR REPLACE TEMP TABLE int_group_stats AS
SELECT group_code, any_value(group_type) AS group_type, count(*) AS n_cases,
       -- CV = population SD ÷ mean, from exact sums: var = (n·Σx² − (Σx)²) / n²
       CASE WHEN sum(total_cost_yuan) > 0
            THEN sqrt(greatest(CAST(count(*) * sum(total_cost_yuan * total_cost_yuan)
                                    - sum(total_cost_yuan) * sum(total_cost_yuan) AS DOUBLE), 0))
                 / CAST(sum(total_cost_yuan) AS DOUBLE) END AS cv,
       any_value(dx3) AS dx3, any_value(proc_class_max) AS comp_class,
       -- for the panel (issue 4 §4): spread, length of stay, hospital-level mix
       CASE WHEN count(*) > 0
            THEN sqrt(greatest(CAST(count(*) * sum(total_cost_yuan * total_cost_yuan)
                                    - sum(total_cost_yuan) * sum(total_cost_yuan) AS DOUBLE), 0))
                 / count(*) END AS sd_cost_yuan,
       CAST(quantile_cont(total_cost_yuan, 0.05) AS DOUBLE) AS p5_cost_yuan,
       CAST(quantile_cont(total_cost_yuan, 0.5) AS DOUBLE) AS median_cost_yuan,
       CAST(quantile_cont(total_cost_yuan, 0.95) AS DOUBLE) AS p95_cost_yuan,
       avg(los_days) AS mean_los_days,
       count(*) FILTER (WHERE level = 3) / count(*) AS share_level3,
       count(*) FILTER (WHERE level = 2) / count(*) AS share_level2,
       count(*) FILTER (WHERE level = 1) / count(*) AS share_level1
FROM int_history_grouped GROUP BY group_code;

-- The class of a core group is the highest class of the procedures in its key.
CREATE OR REPLACE TEMP TABLE int_key_class AS
SELECT proc_key, coalesce(max(r.class_rank), 0) AS class_rank
FROM (SELECT proc_key, unnest(string_split(proc_key, '+')) AS code
      FROM int_core_keys WHERE proc_key <> '') k
JOIN ref_proc r USING (code)
GROUP BY proc_key;

CREATE OR REPLACE TEMP TABLE mart_catalog_groups AS
SELECT p.scenario, s.group_code, s.group_type,
       CASE WHEN s.group_type = 'core' THEN ck.dx_key ELSE s.dx3 END AS dx_key,
       CASE WHEN s.group_type = 'core' THEN ck.proc_key ELSE '' END AS proc_key,
       CASE WHEN s.group_type = 'core' THEN coalesce(cr.proc_class, 'conservative')
            ELSE s.comp_class END AS proc_class,
       s.n_cases, m.mean_cost_yuan, s.cv,
       m.mean_cost_yuan / a.mean_cost_all_yuan * p.points_scale AS rw,
       -- before negotiated points and their rescaling, and the adjustments (set below)
       m.mean_cost_yuan / a.mean_cost_all_yuan * p.points_scale AS rw_computed,
       NULL::VARCHAR AS adjusted_by,
       NULL::VARCHAR AS aux_dimension,  -- auxiliary.sql
       false AS primary_candidate, false AS primary_group, false AS tcm_group,  -- special.sql
       s.sd_cost_yuan, s.p5_cost_yuan, s.median_cost_yuan, s.p95_cost_yuan, s.mean_los_days,
       NULL::DOUBLE AS outlier_share,  -- metrics.sql
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
CROSS JOIN run_params p;

-- Points set by negotiation (issue 4 §5), the rest rescaled so that total history points
-- Σ_g W_g·rw_g stay the same (W_g: Σ of the year weights of group g's history cases):
--   k = (T − Σ_F W_f·rw'_f) ÷ (T − Σ_F W_f·rw_f), T = Σ_g W_g·rw_g, F = the negotiated groups;
-- every other group's rw × k. The budget point value (history cost ÷ history points) is
-- unchanged. rw_computed keeps the value before; adjusted_by names the adjustments (the
-- rescaled groups: 'A3:rescale').
CREATE OR REPLACE TEMP TABLE int_set_points AS
SELECT s.group_code, s.rw, s.adjustment_id
FROM run_set_points s JOIN run_adjustments a USING (adjustment_id)
WHERE s.group_code IN (SELECT group_code FROM mart_catalog_groups)
-- two adjustments of one group: the later in the file wins
QUALIFY row_number() OVER (PARTITION BY s.group_code ORDER BY a.seq DESC) = 1;

CREATE OR REPLACE TEMP TABLE int_rescale AS
WITH w AS (
    SELECT group_code, sum(CAST(weight AS DECIMAL(38, 10))) AS w
    FROM int_history_grouped GROUP BY group_code
), t AS (
    SELECT sum(CAST(w.w * g.rw AS DECIMAL(38, 10))) AS total,
           sum(CAST(w.w * g.rw AS DECIMAL(38, 10))) FILTER (WHERE f.group_code IS NOT NULL)
               AS fixed_before,
           sum(CAST(w.w * f.rw AS DECIMAL(38, 10))) AS fixed_after
    FROM mart_catalog_groups g JOIN w USING (group_code)
    LEFT JOIN int_set_points f USING (group_code)
)
SELECT CASE WHEN fixed_before IS NULL THEN 1.0
            ELSE CAST((total - fixed_after) AS DOUBLE) / CAST((total - fixed_before) AS DOUBLE)
       END AS factor
FROM t;

UPDATE mart_catalog_groups g
SET rw = coalesce((SELECT f.rw FROM int_set_points f WHERE f.group_code = g.group_code),
                  g.rw * (SELECT factor FROM int_rescale)),
    -- the negotiated group names its adjustment; every other one the rescale it took
    adjusted_by = coalesce(
        (SELECT f.adjustment_id FROM int_set_points f WHERE f.group_code = g.group_code),
        (SELECT string_agg(adjustment_id, ';' ORDER BY adjustment_id) || ':rescale'
         FROM int_set_points))
WHERE EXISTS (SELECT 1 FROM int_set_points);

-- Merged groups name the merge.
UPDATE mart_catalog_groups g
SET adjusted_by = concat_ws(';', g.adjusted_by, m.ids)
FROM (SELECT to_code, string_agg(DISTINCT adjustment_id, ';' ORDER BY adjustment_id) AS ids
      FROM int_merges GROUP BY to_code) m
WHERE m.to_code = g.group_code;

-- The audit trail: every adjustment of the file, whether it was applied, and why not.
CREATE OR REPLACE TEMP TABLE mart_catalog_adjustments AS
SELECT p.scenario, a.seq, a.adjustment_id, a.action, a.target, a.author, a.date, a.reason,
       CASE a.action
           WHEN 'conservative_procedure' THEN EXISTS (
               SELECT 1 FROM int_adjusted_lists l
               WHERE list_contains(string_split(l.adjustment_ids, ';'), a.adjustment_id))
           WHEN 'merge' THEN EXISTS (SELECT 1 FROM int_merges m
                                     WHERE m.adjustment_id = a.adjustment_id)
           WHEN 'split' THEN false  -- auxiliary.sql marks the splits it made
           ELSE EXISTS (SELECT 1 FROM int_set_points s WHERE s.adjustment_id = a.adjustment_id)
       END AS applied,
       CASE a.action
           WHEN 'conservative_procedure' THEN '没有病例有此手术操作'
           WHEN 'merge' THEN '所列病种不在目录中（或只有一个在）'
           WHEN 'split' THEN '病种不在核心病种中，或细分后不足两个类型'
           ELSE '病种不在目录中，或被后面同一病种的调整取代' END AS not_applied_reason
FROM run_adjustments a CROSS JOIN run_params p;
UPDATE mart_catalog_adjustments SET not_applied_reason = NULL WHERE applied;
