-- Related procedures (相关手术操作) for the 2.0 key, catalog.procedure_key = main_plus_related.
-- DIP 2.0 分组方案 (医保办发〔2024〕9号): the key is the main procedure, plus a related procedure
-- where it adds at least related_cost_share (10%) to cost. Here, for one diagnosis subcategory
-- and main procedure, another procedure r is related when the history cases with r cost at
-- least (1 + related_cost_share) × what those without r cost, both as history-weighted means
-- (Σ w_y·cost ÷ Σ w_y, weights 1:2:7). A procedure present in every such case cannot be
-- compared with anything and is not related.

-- History cases with a main procedure, per (subcategory, main procedure, all procedures):
-- weights and weighted costs, summed exactly (DECIMAL: see int_keyed.sql).
SELECT f.dx5, f.proc_key_main, f.proc_key_all,
       sum(CAST(h.weight AS DECIMAL(38, 10))) AS w,
       sum(CAST(h.weight * f.total_cost_yuan AS DECIMAL(38, 10))) AS wc
FROM int_case_procs f JOIN run_history h USING (year)
WHERE f.eligible AND f.proc_key_main <> ''
GROUP BY ALL
