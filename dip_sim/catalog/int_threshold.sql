-- The core threshold [2020, 3.0]: a fixed number of cases (min_cases), or the largest
-- threshold at which the core keys still hold at least core_coverage of the history cases
-- (coverage). covered(t) = Σ cases of the keys with ≥ t cases, falling as t rises; the
-- largest t with covered(t) ≥ share × all is one of the keys' case counts.
SELECT CASE WHEN p.catalog.core_threshold_method = 'coverage'
            THEN (SELECT max(n_cases) FROM (
                      SELECT n_cases, sum(n_cases) OVER (ORDER BY n_cases DESC
                          RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS covered
                      FROM int_key_stats)
                  WHERE covered >= p.catalog.core_coverage * (SELECT sum(n_cases) FROM int_key_stats))
            ELSE p.catalog.core_min_cases END AS core_threshold
FROM run_params p
