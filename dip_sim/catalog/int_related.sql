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
  AND c.wc / c.w >= (1 + p.catalog.related_cost_share) * ((t.wc - c.wc) / (t.w - c.w))
