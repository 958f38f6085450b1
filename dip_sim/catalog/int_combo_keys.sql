-- Each procedure list of every year's cases (with a main procedure) → its 2.0 key: the main
-- procedure and the related ones it holds, distinct, sorted, joined by '+'.
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
GROUP BY c.dx5, c.proc_key_main, c.proc_key_all
