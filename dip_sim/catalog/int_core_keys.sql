-- A key with at least the threshold's history cases is a core group (核心病种) [2020].
SELECT s.*, array_length(string_split(s.proc_key, '+')) AS n_procs
FROM int_key_stats s
WHERE s.n_cases >= (SELECT core_threshold FROM int_threshold)
