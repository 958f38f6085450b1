-- Supervision indices per hospital and year (issue 7 §1), from the case flags of cases.sql.
-- Reads: sv_base, sv_group_mortality, mart_supervision_cases,
--   run_sv_windows, run_sv_params.
-- Writes: mart_supervision_upcoding (grain: hospital × year × diagnosis category),
--   sv_hospital_rows (grain: hospital × year × index; run.py adds the quality index and
--   ranks them into mart_supervision_hospitals).
--
-- For a count index: rate = flagged ÷ base cases; the regional rate = Σ flagged ÷ Σ base of
-- the year; expected = base × regional rate; the score z = 2(√flagged − √expected), the
-- variance-stabilised deviation of a Poisson count (Freeman–Tukey): about N(0, 1) when the
-- hospital behaves as the region, and it does not blow up for a small hospital the way
-- (flagged − expected) ÷ √expected does. Worked example: 30 flagged where 10.24 were
-- expected gives 2(5.477 − 3.2) = 4.55.

CREATE OR REPLACE TEMP TABLE sv_hospital_base AS
SELECT b.year, b.hospital_id, count(*) AS n_cases,
       count(*) FILTER (WHERE m.low_risk) AS n_low_risk,
       sum(b.total_cost_yuan) AS cost_yuan, sum(b.drug_yuan) AS drug_yuan,
       sum(b.consumable_yuan) AS consumable_yuan,
       sum(b.patient_paid_yuan) AS patient_paid_yuan,
       sum(b.total_cost_yuan) FILTER (WHERE b.patient_paid_yuan IS NOT NULL) AS paid_base_yuan
FROM sv_base b LEFT JOIN sv_group_mortality m USING (group_code)
GROUP BY ALL;

-- 编码高套: each hospital's cases of a diagnosis category against the category's regional
-- rates in the same year (grain: hospital × year × category)
CREATE OR REPLACE TEMP TABLE sv_hospital_categories AS
WITH region AS (
    SELECT year, dx3, avg(rw) AS region_rw, avg(has_proc::INTEGER) AS region_proc_rate,
           avg(severity_coded::INTEGER) AS region_severity_rate
    FROM sv_base GROUP BY year, dx3
)
SELECT b.year, b.hospital_id, b.dx3, count(*) AS n_cases, sum(b.rw) AS sum_rw,
       sum(b.has_proc::INTEGER) AS n_proc, sum(b.severity_coded::INTEGER) AS n_severity,
       any_value(r.region_rw) AS region_rw, any_value(r.region_proc_rate) AS region_proc_rate,
       any_value(r.region_severity_rate) AS region_severity_rate
FROM sv_base b JOIN region r USING (year, dx3)
GROUP BY b.year, b.hospital_id, b.dx3;

CREATE OR REPLACE TEMP TABLE mart_supervision_upcoding AS
WITH g AS (
    SELECT year, hospital_id, dx3, n_cases, sum_rw / n_cases AS mean_rw,
           region_rw AS region_mean_rw, n_proc / n_cases AS proc_rate, region_proc_rate,
           n_severity / n_cases AS severity_rate, region_severity_rate
    FROM sv_hospital_categories
), h AS (
    SELECT *, lag(mean_rw) OVER w AS prev_mean_rw, lag(proc_rate) OVER w AS prev_proc_rate,
           lag(severity_rate) OVER w AS prev_severity_rate, lag(year) OVER w AS prev_year
    FROM g WINDOW w AS (PARTITION BY hospital_id, dx3 ORDER BY year)
)
SELECT (SELECT scenario FROM run_sv_params) AS scenario, year, hospital_id, dx3, n_cases,
       mean_rw, region_mean_rw, CASE WHEN prev_year = year - 1 THEN prev_mean_rw END
           AS prev_mean_rw,
       proc_rate, region_proc_rate,
       CASE WHEN prev_year = year - 1 THEN prev_proc_rate END AS prev_proc_rate,
       severity_rate, region_severity_rate,
       CASE WHEN prev_year = year - 1 THEN prev_severity_rate END AS prev_severity_rate,
       -- cases with a procedure / severity code beyond what the hospital's own last year
       -- (else the region) would give: where to look
       n_cases * (proc_rate - CASE WHEN prev_year = year - 1 THEN prev_proc_rate
                                   ELSE region_proc_rate END) AS excess_proc_cases,
       n_cases * (severity_rate - CASE WHEN prev_year = year - 1 THEN prev_severity_rate
                                       ELSE region_severity_rate END) AS excess_severity_cases
FROM h;

CREATE OR REPLACE TEMP TABLE sv_hospital_rows AS
WITH case_indices AS (
    SELECT 'readmit_' || days || 'd_' || k AS index_code, FALSE AS low_risk_base
    FROM run_sv_windows CROSS JOIN (VALUES ('any'), ('same')) t(k)
    UNION ALL
    SELECT * FROM (VALUES ('split_admission', FALSE), ('low_standard', FALSE),
                          ('long_stay', FALSE), ('low_risk_death', TRUE)) t(index_code, lr)
), counts AS (
    SELECT year, hospital_id, index_code, count(DISTINCT case_id) AS n_flagged
    FROM mart_supervision_cases GROUP BY ALL
), rates AS (
    SELECT h.year, h.hospital_id, i.index_code,
           CASE WHEN i.low_risk_base THEN h.n_low_risk ELSE h.n_cases END AS n_base,
           coalesce(c.n_flagged, 0) AS n_flagged
    FROM sv_hospital_base h CROSS JOIN case_indices i
    LEFT JOIN counts c USING (year, hospital_id, index_code)
), region AS (
    SELECT year, index_code, sum(n_flagged) / nullif(sum(n_base), 0) AS region_rate
    FROM rates GROUP BY ALL
), count_rows AS (
    SELECT r.year, r.hospital_id, r.index_code, r.n_base, r.n_flagged,
           r.n_flagged / nullif(r.n_base, 0) AS value, g.region_rate AS region_value,
           (r.n_flagged / nullif(r.n_base, 0)) / nullif(g.region_rate, 0) AS ratio_to_region,
           r.n_base * g.region_rate AS expected
    FROM rates r JOIN region g USING (year, index_code)
), upcode AS (
    -- per hospital-year: observed procedure / severity-coded cases and what the regional
    -- rates of its diagnosis categories would give (category-standardised), and the CMI
    -- standardised the same way (Σ rw ÷ Σ regional mean rw of the case's category)
    SELECT year, hospital_id, sum(n_cases) AS n_cases,
           sum(n_proc) AS n_proc, sum(n_cases * region_proc_rate) AS e_proc,
           sum(n_severity) AS n_severity, sum(n_cases * region_severity_rate) AS e_severity,
           sum(sum_rw) / nullif(sum(n_cases * region_rw), 0) AS cmi_index
    FROM sv_hospital_categories GROUP BY ALL
), upcode_hist AS (
    -- against its own history: last year's observed ÷ expected ratio carried into this year's
    -- expectation (the region's alone in the first year)
    SELECT *,
           e_proc * coalesce(CASE WHEN lag(year) OVER w = year - 1
                                  THEN lag(n_proc / nullif(e_proc, 0)) OVER w END, 1)
               AS e_proc_own,
           e_severity * coalesce(CASE WHEN lag(year) OVER w = year - 1
                                      THEN lag(n_severity / nullif(e_severity, 0)) OVER w END, 1)
               AS e_severity_own
    FROM upcode WINDOW w AS (PARTITION BY hospital_id ORDER BY year)
), upcode_rows AS (
    SELECT year, hospital_id, 'upcode_procedure' AS index_code, n_cases AS n_base,
           n_proc AS n_flagged, n_proc / n_cases AS value,
           sum(n_proc) OVER y / sum(n_cases) OVER y AS region_value,
           n_proc / nullif(e_proc, 0) AS ratio_to_region, e_proc_own AS expected,
           2 * (sqrt(n_proc) - sqrt(e_proc_own)) AS z_score
    FROM upcode_hist WINDOW y AS (PARTITION BY year)
    UNION ALL
    SELECT year, hospital_id, 'upcode_severity', n_cases, n_severity, n_severity / n_cases,
           sum(n_severity) OVER y / sum(n_cases) OVER y, n_severity / nullif(e_severity, 0),
           e_severity_own, 2 * (sqrt(n_severity) - sqrt(e_severity_own))
    FROM upcode_hist WINDOW y AS (PARTITION BY year)
    UNION ALL
    SELECT year, hospital_id, 'upcode_cmi', n_cases, NULL, cmi_index, 1.0, cmi_index, NULL, NULL
    FROM upcode_hist
), cost AS (
    SELECT h.*, h.cost_yuan / h.n_cases AS cost_per_case,
           sum(h.cost_yuan) OVER y / sum(h.n_cases) OVER y AS region_cost_per_case,
           sum(h.drug_yuan) OVER y / sum(h.cost_yuan) OVER y AS region_drug_share,
           sum(h.consumable_yuan) OVER y / sum(h.cost_yuan) OVER y AS region_consumable_share,
           sum(h.patient_paid_yuan) OVER y / nullif(sum(h.paid_base_yuan) OVER y, 0)
               AS region_oop_share
    FROM sv_hospital_base h WINDOW y AS (PARTITION BY year)
), cost_hist AS (
    SELECT *,
           CASE WHEN lag(year) OVER w = year - 1
                THEN cost_per_case / lag(cost_per_case) OVER w - 1 END AS growth,
           CASE WHEN lag(year) OVER w = year - 1
                THEN region_cost_per_case / lag(region_cost_per_case) OVER w - 1 END
               AS region_growth
    FROM cost WINDOW w AS (PARTITION BY hospital_id ORDER BY year)
), cost_rows AS (
    -- 费用结构 and 患者负担 against the region's shares; 费用控制: the growth of the cost per
    -- case beyond the region's growth (value = hospital growth − regional growth)
    SELECT year, hospital_id, 'drug_share' AS index_code, n_cases AS n_base,
           NULL::BIGINT AS n_flagged, drug_yuan / cost_yuan AS value,
           region_drug_share AS region_value,
           (drug_yuan / cost_yuan) / nullif(region_drug_share, 0) AS ratio_to_region
    FROM cost_hist
    UNION ALL
    SELECT year, hospital_id, 'consumable_share', n_cases, NULL, consumable_yuan / cost_yuan,
           region_consumable_share, (consumable_yuan / cost_yuan) / nullif(region_consumable_share, 0)
    FROM cost_hist
    UNION ALL
    SELECT year, hospital_id, 'oop_share', n_cases, NULL,
           patient_paid_yuan / nullif(paid_base_yuan, 0), region_oop_share,
           (patient_paid_yuan / nullif(paid_base_yuan, 0)) / nullif(region_oop_share, 0)
    FROM cost_hist
    UNION ALL
    SELECT year, hospital_id, 'cost_growth', n_cases, NULL, growth - region_growth,
           region_growth, NULL
    FROM cost_hist WHERE growth IS NOT NULL
)
SELECT year, hospital_id, index_code, n_base, n_flagged, value, region_value, ratio_to_region,
       expected, 2 * (sqrt(n_flagged) - sqrt(expected)) AS z_score
FROM count_rows
UNION ALL
SELECT * FROM upcode_rows
UNION ALL
-- 编码高套评分: the positive parts of the procedure and severity jumps added
SELECT year, hospital_id, 'upcode_score', n_base, NULL,
       greatest(z_proc, 0) + greatest(z_severity, 0), NULL, NULL, NULL,
       greatest(z_proc, 0) + greatest(z_severity, 0)
FROM (SELECT year, hospital_id, any_value(n_base) AS n_base,
             max(z_score) FILTER (WHERE index_code = 'upcode_procedure') AS z_proc,
             max(z_score) FILTER (WHERE index_code = 'upcode_severity') AS z_severity
      FROM upcode_rows GROUP BY ALL)
UNION ALL
SELECT year, hospital_id, index_code, n_base, n_flagged, value, region_value, ratio_to_region,
       NULL, NULL
FROM cost_rows;
