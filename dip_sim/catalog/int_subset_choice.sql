-- main_plus_related: a case whose key is not a core group goes to the core group of the same
-- subcategory whose procedures are part of its key, main procedure included. Several such
-- groups: the one matching most procedures, then the nearest mean cost to the case's cost,
-- then the higher points (the higher mean cost), then the group code (dip_rules.md §2).
-- Keys come from int_combo_keys, so the other rules skip this (it is empty).
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
     AND array_length(list_filter(string_split(c.proc_key, '+'),
                                  lambda x: NOT list_contains(string_split(o.proc_key, '+'), x))) = 0
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
FROM decided WHERE pick = 1
