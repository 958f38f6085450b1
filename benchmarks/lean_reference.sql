-- The lean reference of `make bench`: the baseline's point values computed straight from the
-- Parquet files of a synthetic city, in plain SQL, as a yardstick for the pipeline's time.
-- It is not used by the product; benchmarks/lean_reference.py runs it and sets its variables
-- from data/policy (the baseline's values for the simulation year) and the code tables
-- (ref_dx_lookup, ref_proc_lookup, ref_proc, ref_proc_class_rank of dip_sim.reference).
--
-- What it does (dip_rules.md §2–§6, with the baseline's choices):
--   codes      the main diagnosis and the procedures looked up by their trimmed, lower-case
--              spelling (old codes mapped through ZD_MAP/SS_MAP), once per distinct list;
--   grouping   core key = diagnosis subcategory + every non-conservative procedure (sorted);
--              core when the history years hold at least core_min_cases of it, else
--              comprehensive (category × highest procedure class) when that has history;
--   points     rw = the group's year-weighted mean cost ÷ the same over all cases × scale;
--   budget     DIP fund = last year's fund payments × (1 + growth rate) × (1 − reserve rate);
--              budget point value = Σ w·cost ÷ Σ w·rw over the history years;
--   scoring    rw × level coefficient; cost ratio below low_ratio: × ratio; above
--              high_ratio: × (ratio − 1);
--   settlement floating point value = fund ÷ fund ratio ÷ total points.
--
-- What it leaves out, and why the point values stay those of the baseline:
--   - the quality stage: of its critical rules (a case that fails one is not grouped) the
--     synthetic files break only three (no settlement, main diagnosis missing or invalid),
--     kept here in their simplest form: a case needs a settlement and a hospital of the
--     hospital table (inner joins) and a main diagnosis found in the code table (an inner join
--     with the lookup, which an empty or invalid code fails). Warnings do not change grouping;
--   - the other critical rules (duplicates, dates, costs, codes not allowed as main
--     diagnosis) find nothing in the synthetic files; the runner checks that the counts of
--     grouped cases equal the pipeline's;
--   - storage, case-level outputs, traces, the catalogue's spread statistics, supervision;
--   - every option the baseline turns off: the panel's adjustments, auxiliary sub-types,
--     基层病种 and 中医优势病种, hospital bonuses, 特例单议 (no decisions file: no special
--     points), ungrouped cases paid by points, split fund pools, elastic or fixed point
--     values, other budget methods; the runner refuses a policy that turns one of them on.
-- Money stays DECIMAL(18, 2) as loaded, so its sums are exact; points are doubles, so the
-- point values agree with the pipeline's to rounding (a relative 1e-9 is checked).

-- The cases of the run's years with a settlement and a valid main diagnosis, with the parts of
-- their group keys (and only what the rest reads: no identifiers).
CREATE OR REPLACE TEMP TABLE lean_cases AS
WITH raw AS (
    SELECT c.case_id, c.hospital_id, CAST(year(c.discharge_date) AS INTEGER) AS year,
           c.main_dx, c.main_proc, c.other_procs,
           CAST(s.total_cost_yuan AS DECIMAL(18, 2)) AS cost,
           CAST(s.fund_paid_yuan AS DECIMAL(18, 2)) AS fund
    FROM read_parquet(getvariable('cases_files')) c
    JOIN read_parquet(getvariable('settlements_files')) s USING (case_id)
    WHERE year(c.discharge_date) IN (SELECT unnest(getvariable('history_years')))
       OR year(c.discharge_date) = getvariable('sim_year')
), proc_lists AS (  -- each distinct procedure list once: its key and highest class
    SELECT main_proc, other_procs,
           coalesce(array_to_string(list_sort(list_distinct(
               list(r.code) FILTER (WHERE r.proc_class <> 'conservative'))), '+'), '')
               AS proc_key,
           max(r.class_rank) AS class_rank
    FROM (SELECT main_proc, other_procs,
                 unnest(list_concat(CASE WHEN main_proc IS NULL THEN [] ELSE [main_proc] END,
                                    coalesce(string_split(other_procs, ';'), []))) AS given
          FROM (SELECT DISTINCT main_proc, other_procs FROM raw)) l
    JOIN ref_proc_lookup p ON p.code_key = lower(trim(l.given))
    JOIN ref_proc r ON r.code = p.code
    GROUP BY main_proc, other_procs
)
SELECT r.year, h.level, r.cost, r.fund,
       substr(d.code, 1, 5) || CASE WHEN coalesce(pl.proc_key, '') = '' THEN ''
                                    ELSE '|' || pl.proc_key END AS core_code,
       substr(d.code, 1, 3) || ':comp:' || coalesce(cr.proc_class, 'conservative') AS comp_code
FROM raw r
JOIN read_parquet(getvariable('hospitals_file')) h USING (hospital_id)
JOIN ref_dx_lookup d ON d.code_key = lower(trim(r.main_dx))
LEFT JOIN proc_lists pl
       ON pl.main_proc IS NOT DISTINCT FROM r.main_proc
      AND pl.other_procs IS NOT DISTINCT FROM r.other_procs
LEFT JOIN ref_proc_class_rank cr ON cr.class_rank = pl.class_rank;

-- Every case's group: its core key when core, else its comprehensive key when that has
-- history cases (else it is not grouped); with its year's weight in the history years.
CREATE OR REPLACE TEMP TABLE lean_grouped AS
WITH history AS (
    SELECT y.year, w.weight
    FROM (SELECT unnest(getvariable('history_years')) AS year,
                 generate_subscripts(getvariable('history_years'), 1) AS i) y
    JOIN (SELECT unnest(getvariable('history_weights')) AS weight,
                 generate_subscripts(getvariable('history_weights'), 1) AS i) w USING (i)
), core AS (
    SELECT core_code FROM lean_cases SEMI JOIN history USING (year)
    GROUP BY core_code HAVING count(*) >= getvariable('core_min_cases')
), keyed AS (
    SELECT c.*, core.core_code IS NOT NULL AS is_core FROM lean_cases c
    LEFT JOIN core USING (core_code)
), comp AS (
    SELECT DISTINCT comp_code FROM keyed SEMI JOIN history USING (year) WHERE NOT is_core
)
SELECT k.year, k.level, k.cost, k.fund, h.weight,
       CASE WHEN k.is_core THEN k.core_code ELSE comp.comp_code END AS group_code
FROM keyed k
LEFT JOIN comp ON NOT k.is_core AND comp.comp_code = k.comp_code
LEFT JOIN history h USING (year)
WHERE k.is_core OR comp.comp_code IS NOT NULL;

-- The catalogue: rw = m_g ÷ M × scale, m_g = Σ_y w_y·mean_{g,y} ÷ Σ_y w_y over the years
-- with cases of g, M the same over every grouped history case.
CREATE OR REPLACE TEMP TABLE lean_catalog AS
WITH group_year AS (
    SELECT group_code, year, any_value(weight) AS weight, CAST(avg(cost) AS DOUBLE) AS mean_cost
    FROM lean_grouped WHERE weight IS NOT NULL GROUP BY group_code, year
), all_mean AS (
    SELECT sum(weight * mean_cost) / sum(weight) AS m
    FROM (SELECT year, any_value(weight) AS weight, CAST(avg(cost) AS DOUBLE) AS mean_cost
          FROM lean_grouped WHERE weight IS NOT NULL GROUP BY year)
)
SELECT group_code, sum(weight * mean_cost) / sum(weight) / any_value(a.m)
                   * getvariable('points_scale') AS rw
FROM group_year CROSS JOIN all_mean a GROUP BY group_code;

-- Budget, scoring and settlement: the point values.
WITH hist AS (
    SELECT g.year, any_value(g.weight) AS weight, CAST(sum(g.cost) AS DOUBLE) AS cost,
           sum(c.rw) AS rw
    FROM lean_grouped g JOIN lean_catalog c USING (group_code)
    WHERE g.weight IS NOT NULL GROUP BY g.year
), budget AS (
    SELECT (SELECT sum(weight * cost) / sum(weight * rw) FROM hist) AS pv_budget_yuan,
           (SELECT CAST(sum(fund) AS DOUBLE) FROM lean_grouped
            WHERE year = getvariable('sim_year') - 1)
           * (1 + getvariable('growth_rate')) * (1 - getvariable('reserve_rate'))
               AS dip_fund_yuan,
           (SELECT CAST(sum(fund) AS DOUBLE) / CAST(sum(cost) AS DOUBLE) FROM lean_grouped
            WHERE year = getvariable('sim_year')) AS fund_ratio
), scored AS (
    SELECT base, CAST(g.cost AS DOUBLE) / (base * b.pv_budget_yuan) AS ratio
    FROM lean_grouped g JOIN lean_catalog c USING (group_code) CROSS JOIN budget b
    CROSS JOIN LATERAL (
        SELECT c.rw * getvariable('level_coefficients')[g.level] AS base) x
    WHERE g.year = getvariable('sim_year')
), points AS (
    SELECT count(*) AS n_cases,
           sum(CASE WHEN ratio < getvariable('low_ratio') THEN ratio * base
                    WHEN ratio > getvariable('high_ratio') THEN (ratio - 1) * base
                    ELSE base END) AS total_points
    FROM scored
)
SELECT (SELECT count(*) FROM lean_grouped WHERE weight IS NOT NULL) AS n_history_cases,
       p.n_cases, b.dip_fund_yuan, b.fund_ratio, p.total_points, b.pv_budget_yuan,
       b.dip_fund_yuan / b.fund_ratio / p.total_points AS pv_settlement_yuan
FROM budget b CROSS JOIN points p;
