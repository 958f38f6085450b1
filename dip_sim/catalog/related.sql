-- Related procedures (相关手术操作) for the 2.0 key, catalog.procedure_key = main_plus_related.
-- DIP 2.0 分组方案 (医保办发〔2024〕9号): the key is the main procedure, plus a related procedure
-- where it adds at least related_cost_share (10%) to cost. Here, for one diagnosis subcategory
-- and main procedure, another procedure r is related when the history cases with r cost at
-- least (1 + related_cost_share) × what those without r cost, both as history-weighted means
-- (Σ w_y·cost ÷ Σ w_y, weights 1:2:7). A procedure present in every such case cannot be
-- compared with anything and is not related.
-- Run only for main_plus_related (otherwise int_combo_keys is empty: dip_sim/simulation.py).
-- Reads: int_case_procs (case_procs.sql), run_history, run_params.
-- Writes temp tables: int_related (grain: subcategory, main procedure, related procedure),
--   int_combo_keys (grain: subcategory, main procedure, procedure list as loaded).

-- History cases with a main procedure, per (subcategory, main procedure, all procedures):
-- weights and weighted costs, summed exactly (DECIMAL: see catalog.sql).
CREATE OR REPLACE TEMP TABLE int_combo_history AS
SELECT f.dx5, f.proc_key_main, f.proc_key_all,
       sum(CAST(h.weight AS DECIMAL(38, 10))) AS w,
       sum(CAST(h.weight * f.total_cost_yuan AS DECIMAL(38, 10))) AS wc
FROM int_case_procs f JOIN run_history h USING (year)
WHERE f.eligible AND f.proc_key_main <> ''
GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE int_related AS
WITH total AS (
    SELECT dx5, proc_key_main, sum(w) AS w, sum(wc) AS wc
    FROM int_combo_history GROUP BY ALL
), with_code AS (
    SELECT dx5, proc_key_main, code, sum(w) AS w, sum(wc) AS wc
    FROM (SELECT dx5, proc_key_main, w, wc,
                 unnest(string_split(proc_key_all, '+')) AS code
          FROM int_combo_history)
    WHERE code <> proc_key_main
    GROUP BY ALL
)
SELECT c.dx5, c.proc_key_main, c.code,
       CAST(c.wc / c.w AS DOUBLE) AS mean_cost_with_yuan,
       CAST((t.wc - c.wc) / (t.w - c.w) AS DOUBLE) AS mean_cost_without_yuan
FROM with_code c JOIN total t USING (dx5, proc_key_main)
CROSS JOIN run_params p
WHERE t.w > c.w
  AND c.wc / c.w >= (1 + p.related_cost_share) * ((t.wc - c.wc) / (t.w - c.w));

-- Each procedure list of every year's cases (with a main procedure) → its 2.0 key: the main
-- procedure and the related ones it holds, distinct, sorted, joined by '+'.
CREATE OR REPLACE TEMP TABLE int_combo_keys AS
WITH codes AS (
    SELECT dx5, proc_key_main, proc_key_all,
           unnest(string_split(proc_key_all, '+')) AS code
    FROM (SELECT DISTINCT dx5, proc_key_main, proc_key_all
          FROM int_case_procs WHERE proc_key_main <> '')
)
SELECT c.dx5, c.proc_key_main, c.proc_key_all,
       -- the main procedure is one of the case's procedures (proc_key_all holds it)
       array_to_string(list_sort(list_distinct(
           list(c.code) FILTER (WHERE c.code = c.proc_key_main OR r.code IS NOT NULL))), '+')
           AS proc_key
FROM codes c
LEFT JOIN int_related r
       ON r.dx5 = c.dx5 AND r.proc_key_main = c.proc_key_main AND r.code = c.code
GROUP BY c.dx5, c.proc_key_main, c.proc_key_all;

DROP TABLE int_combo_history;
