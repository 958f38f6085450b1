-- Catalogue (病种目录库) from the history years, exactly dip_rules.md §8 / issue 2 §3.
-- Reads: case_features, run_params (1 row), run_history (year, weight), ref_proc.
-- Sums of doubles are taken exactly, as DECIMAL (CAST(sum(CAST(x AS DECIMAL(38, 10))) AS
-- DOUBLE)): a parallel floating-point sum depends on the order rows arrive, and the same
-- parameters must give the same results to the last bit (an empty scenario = the baseline).
-- Costs arrive as DECIMAL(18, 2) from case_features, so their sums and means are exact.
-- Writes temp tables: int_keyed (grain: case), int_core_keys (grain: core key), the view
--   int_history (grain: history case),
--   int_history_grouped (grain: history case), mart_catalog_groups (grain: group).

-- Every case's candidate groups under this scenario's procedure rule.
-- Core key = diagnosis subcategory (亚目, 5 chars) + procedure combination;
-- comprehensive key = diagnosis category (类目, 3 chars) × highest procedure class [3.0].
CREATE OR REPLACE TEMP TABLE int_keyed AS
SELECT f.* EXCLUDE (status, severity, reason, has_case, has_settlement),
       -- the quality verdict (NULL in case_features means ok), for assignment
       coalesce(f.status, 'ok') AS status, coalesce(f.severity, 'ok') AS severity,
       k.proc_key,
       f.dx5 || CASE WHEN k.proc_key = '' THEN '' ELSE '|' || k.proc_key END AS core_code,
       f.dx3 || ':comp:' || f.proc_class_max AS comp_code
FROM case_features f
CROSS JOIN run_params p
CROSS JOIN LATERAL (
    SELECT CASE WHEN p.procedure_key = 'main_only' THEN f.proc_key_main
                ELSE f.proc_key_all END AS proc_key
) k;

-- History cases: eligible (no critical quality issue) cases of the history years.
-- A view: read twice below, cheaper than writing 7.5M rows at 10M cases.
CREATE OR REPLACE TEMP VIEW int_history AS
SELECT k.*, h.weight
FROM int_keyed k JOIN run_history h USING (year)
WHERE k.eligible;

-- A key with at least core_min_cases history cases is a core group (核心病种) [2020].
CREATE OR REPLACE TEMP TABLE int_core_keys AS
SELECT core_code, any_value(dx5) AS dx_key, any_value(proc_key) AS proc_key
FROM int_history
GROUP BY core_code
HAVING count(*) >= (SELECT core_min_cases FROM run_params);

-- Every other history case falls in its comprehensive group (综合病种).
CREATE OR REPLACE TEMP TABLE int_history_grouped AS
SELECT h.*,
       CASE WHEN ck.core_code IS NOT NULL THEN h.core_code ELSE h.comp_code END AS group_code,
       CASE WHEN ck.core_code IS NOT NULL THEN 'core' ELSE 'comprehensive' END AS group_type
FROM int_history h LEFT JOIN int_core_keys ck USING (core_code);

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
       any_value(dx5) AS dx5, any_value(dx3) AS dx3, any_value(proc_key) AS proc_key,
       any_value(proc_class_max) AS comp_class
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
       CASE WHEN s.group_type = 'core' THEN s.dx5 ELSE s.dx3 END AS dx_key,
       CASE WHEN s.group_type = 'core' THEN s.proc_key ELSE '' END AS proc_key,
       CASE WHEN s.group_type = 'core' THEN coalesce(cr.proc_class, 'conservative')
            ELSE s.comp_class END AS proc_class,
       s.n_cases, m.mean_cost_yuan, s.cv,
       m.mean_cost_yuan / a.mean_cost_all_yuan * p.points_scale AS rw
FROM int_group_stats s
JOIN (SELECT group_code,
             CAST(sum(CAST(weight * mean_cost_yuan AS DECIMAL(38, 10))) AS DOUBLE)
             / CAST(sum(CAST(weight AS DECIMAL(38, 10))) AS DOUBLE) AS mean_cost_yuan
      FROM int_group_year GROUP BY group_code) m USING (group_code)
LEFT JOIN int_key_class kc ON s.group_type = 'core' AND kc.proc_key = s.proc_key
LEFT JOIN ref_proc_class_rank cr ON cr.class_rank = kc.class_rank
CROSS JOIN int_all_mean a
CROSS JOIN run_params p;
