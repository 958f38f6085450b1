-- The class of a core group is the highest class of the procedures in its key.
SELECT proc_key, coalesce(max(r.class_rank), 0) AS class_rank
FROM (SELECT proc_key, unnest(string_split(proc_key, '+')) AS code
      FROM int_core_keys WHERE proc_key <> '') k
JOIN ref_proc r USING (code)
GROUP BY proc_key
