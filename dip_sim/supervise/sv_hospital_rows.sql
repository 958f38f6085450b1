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
), upcode_sums AS (
    -- per hospital-year: observed procedure / severity-coded cases and what the regional
    -- rates of its diagnosis categories would give (category-standardised), Σ rw and Σ the
    -- regional mean rw of each case's category, and what its costs buy at the region's points
    -- per yuan of each category; sums of doubles exact (DECIMAL, as in catalog/int_keyed.sql),
    -- whatever order the rows come in
    SELECT year, hospital_id, sum(n_cases) AS n_cases, sum(n_proc) AS n_proc,
           sum(n_severity) AS n_severity,
           CAST(sum(CAST(n_cases * region_proc_rate AS DECIMAL(38, 10))) AS DOUBLE) AS e_proc,
           CAST(sum(CAST(n_cases * region_severity_rate AS DECIMAL(38, 10))) AS DOUBLE)
               AS e_severity,
           CAST(sum(CAST(sum_rw AS DECIMAL(38, 10))) AS DOUBLE) AS sum_rw,
           CAST(sum(CAST(n_cases * region_rw AS DECIMAL(38, 10))) AS DOUBLE) AS e_rw,
           CAST(sum(CAST(rw_for_cost AS DECIMAL(38, 10))) AS DOUBLE) AS rw_for_cost
    FROM sv_hospital_categories
    GROUP BY year, hospital_id
), upcode AS (
    -- the CMI standardised by category (Σ rw ÷ Σ regional mean rw of the case's category);
    -- points for cost: its catalogue points and what its costs buy, both in cases of the
    -- region's mean rw
    SELECT u.year, u.hospital_id, u.n_cases, u.n_proc, u.e_proc, u.n_severity, u.e_severity,
           u.sum_rw / nullif(u.e_rw, 0) AS cmi_index,
           u.sum_rw / m.mean_rw AS o_points, u.rw_for_cost / m.mean_rw AS e_points
    FROM upcode_sums u
    JOIN (SELECT year,
                 CAST(sum(CAST(sum_rw AS DECIMAL(38, 10))) AS DOUBLE) / sum(n_cases) AS mean_rw
          FROM sv_hospital_categories GROUP BY year) m USING (year)
), upcode_hist AS (
    -- against its own history: last year's observed ÷ expected ratio carried into this year's
    -- expectation (the region's alone in the first year)
    SELECT *,
           e_proc * coalesce(CASE WHEN lag(year) OVER w = year - 1
                                  THEN lag(n_proc / nullif(e_proc, 0)) OVER w END, 1)
               AS e_proc_own,
           e_severity * coalesce(CASE WHEN lag(year) OVER w = year - 1
                                      THEN lag(n_severity / nullif(e_severity, 0)) OVER w END, 1)
               AS e_severity_own,
           -- points for cost: against all its earlier years pooled (steadier than one year)
           e_points * coalesce(sum(o_points) OVER before / nullif(sum(e_points) OVER before, 0), 1)
               AS e_points_own
    FROM upcode
    WINDOW w AS (PARTITION BY hospital_id ORDER BY year),
           before AS (PARTITION BY hospital_id ORDER BY year
                      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
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
    UNION ALL
    -- 编码高套（分值与费用）: points gained without the cost that buys them, against the
    -- hospital's own points per cost of its earlier years (the region's alone in the first)
    SELECT year, hospital_id, 'upcode_points_cost', n_cases, NULL,
           o_points / nullif(e_points, 0), 1.0, o_points / nullif(e_points, 0), e_points_own,
           2 * (sqrt(o_points) - sqrt(e_points_own))
    FROM upcode_hist
), cost_sums AS (
    -- the region's sums exact (DECIMAL), as the hospitals' are in sv_hospital_base
    SELECT h.*, h.cost_yuan / h.n_cases AS cost_per_case,
           sum(h.n_cases) OVER y AS region_cases,
           CAST(sum(CAST(h.cost_yuan AS DECIMAL(38, 10))) OVER y AS DOUBLE) AS region_cost_yuan,
           CAST(sum(CAST(h.drug_yuan AS DECIMAL(38, 10))) OVER y AS DOUBLE) AS region_drug_yuan,
           CAST(sum(CAST(h.consumable_yuan AS DECIMAL(38, 10))) OVER y AS DOUBLE)
               AS region_consumable_yuan,
           CAST(sum(CAST(h.patient_paid_yuan AS DECIMAL(38, 10))) OVER y AS DOUBLE)
               AS region_patient_paid_yuan,
           CAST(sum(CAST(h.paid_base_yuan AS DECIMAL(38, 10))) OVER y AS DOUBLE)
               AS region_paid_base_yuan
    FROM sv_hospital_base h WINDOW y AS (PARTITION BY year)
), cost AS (
    SELECT *, region_cost_yuan / region_cases AS region_cost_per_case,
           region_drug_yuan / region_cost_yuan AS region_drug_share,
           region_consumable_yuan / region_cost_yuan AS region_consumable_share,
           region_patient_paid_yuan / nullif(region_paid_base_yuan, 0) AS region_oop_share
    FROM cost_sums
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
FROM cost_rows
