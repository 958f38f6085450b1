-- The whole catalogue.
-- core coverage = history cases in core groups ÷ eligible history cases;
-- 入组率 = grouped ÷ all cases (history years: eligible ones; simulation year: every case);
-- RIV = R² of cost on group membership over grouped history cases
--     = SS_between ÷ SS_total = (Σ_g S_g²/n_g − S²/N) ÷ (Σx² − S²/N), S_g = Σ cost in group g
--   (what scikit-learn's r2_score gives for cost predicted by its group's mean: a test holds
--   the two equal).
WITH hist AS (
    SELECT count(*) AS n_eligible,
           count(*) FILTER (WHERE grouped) AS n_grouped,
           count(*) FILTER (WHERE group_type = 'core') AS n_core_cases
    FROM mart_case_groups g JOIN run_history h USING (year)
    WHERE g.eligible
), sim AS (
    SELECT count(*) AS n_cases, count(*) FILTER (WHERE grouped) AS n_grouped
    FROM mart_case_groups WHERE year = getvariable('run.sim_year')
), groups AS (
    SELECT count(*) FILTER (WHERE group_type = 'core') AS n_core,
           count(*) FILTER (WHERE group_type = 'comprehensive') AS n_comprehensive,
           -- sums of doubles exact (DECIMAL, as in catalog/int_keyed.sql)
           CAST(sum(CAST(cv AS DECIMAL(38, 10))) AS DOUBLE) / count(cv) AS mean_cv,
           CAST(sum(CAST(cv * n_cases AS DECIMAL(38, 10))) AS DOUBLE) / sum(n_cases)
               AS case_weighted_cv,
           count(*) FILTER (WHERE cv < 0.5) AS n_cv_below_05,
           count(*) FILTER (WHERE cv >= 0.5 AND cv <= 1) AS n_cv_05_to_1,
           count(*) FILTER (WHERE cv > 1) AS n_cv_above_1,
           count(*) FILTER (WHERE primary_candidate) AS n_primary_candidates,
           count(*) FILTER (WHERE primary_group) AS n_primary,
           count(*) FILTER (WHERE tcm_group) AS n_tcm
    FROM mart_catalog_groups
), riv AS (
    SELECT sum(n) AS n, sum(s) AS s, sum(ss) AS ss,
           sum(CAST(s * s / n AS DECIMAL(38, 6))) AS between_raw
    FROM (SELECT group_code, count(*) AS n, sum(total_cost_yuan) AS s,
                 sum(total_cost_yuan * total_cost_yuan) AS ss
          FROM int_history_grouped GROUP BY group_code)
)
SELECT p.run.scenario, p.run.sim_year AS year, p.catalog.procedure_key, p.catalog.core_threshold_method,
       t.core_threshold, gr.n_core, gr.n_comprehensive,
       hist.n_eligible AS n_history_cases, hist.n_grouped AS n_history_grouped,
       hist.n_core_cases / hist.n_eligible AS core_coverage,
       hist.n_grouped / hist.n_eligible AS grouping_rate_history,
       sim.n_grouped / sim.n_cases AS grouping_rate_year,
       gr.mean_cv, gr.case_weighted_cv, gr.n_cv_below_05, gr.n_cv_05_to_1, gr.n_cv_above_1,
       CAST(riv.between_raw - CAST(riv.s * riv.s / riv.n AS DECIMAL(38, 6)) AS DOUBLE)
       / NULLIF(CAST(riv.ss - CAST(riv.s * riv.s / riv.n AS DECIMAL(38, 6)) AS DOUBLE), 0) AS riv,
       p.run.catalog_version, p.catalog.adjustments_file, gr.n_primary_candidates, gr.n_primary, gr.n_tcm
FROM run_params p, int_threshold t, groups gr, hist, sim, riv
