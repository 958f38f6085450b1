-- 特例单议 (special review) and ungrouped cases (issue 5 §4; dip_rules.md §5).
-- Candidates, listed for review on every run: an extreme cost ratio (outlier 'extreme'); a stay
-- longer than los_multiple × the group's mean history LOS; ICU days ≥ icu_days_min; a
-- procedure on the new-technology list. The panel's decisions (a file: case, decision,
-- method, points, reviewer, date) pay an approved case by item (points = cost ÷ 预算点值) or
-- at the adjusted standard the file gives (points), up to cap_per_mille ‰ of the year's DIP
-- discharges, earliest decisions first; the overflow is paid as an ordinary case, and listed.
-- Ungrouped cases (eligible, no critical finding, no group): outside the fund (baseline), or
-- (ungrouped_mode = points) scored ungrouped_points_factor × cost ÷ 预算点值 inside it.
-- Reads: mart_case_scores (with los_days, icu_days), mart_catalog_groups (mean LOS of the
--   history cases), int_new_technology_cases (new_technology.sql), case_features,
--   mart_case_groups, int_budget, run_params, run_decisions.
-- Writes: mart_special_cases (grain: candidate or decided case); updates mart_case_scores
--   (approved cases; ungrouped cases added).
CREATE OR REPLACE TEMP TABLE int_special_candidates AS
WITH flags AS (
    SELECT s.case_id, s.hospital_id, s.group_code, s.total_cost_yuan,
           list_filter([
               CASE WHEN s.outlier = 'extreme' THEN '费用极端异常' END,
               CASE WHEN s.los_days > p.special_los_multiple * g.mean_los_days
                    THEN '住院时间过长（' || s.los_days || ' 天，组均 '
                         || round(g.mean_los_days, 1) || ' 天）' END,
               CASE WHEN s.icu_days >= p.special_icu_days_min
                    THEN '重症监护 ' || s.icu_days || ' 天' END,
               CASE WHEN t.codes IS NOT NULL THEN '新技术 ' || t.codes END
           ], lambda r: r IS NOT NULL) AS reasons
    FROM mart_case_scores s
    LEFT JOIN mart_catalog_groups g USING (group_code)
    LEFT JOIN int_new_technology_cases t USING (case_id)
    CROSS JOIN run_params p
)
SELECT case_id, hospital_id, group_code, total_cost_yuan, array_to_string(reasons, '；') AS reasons
FROM flags WHERE len(reasons) > 0;

-- decisions on cases of this year's DIP cases; the approved ones within the cap
CREATE OR REPLACE TEMP TABLE int_special_decided AS
WITH d AS (
    SELECT d.*, s.hospital_id, s.group_code, s.total_cost_yuan
    FROM run_decisions d JOIN mart_case_scores s USING (case_id)
), ranked AS (
    SELECT d.*,
           row_number() OVER (PARTITION BY d.decision = 'approved'
                              ORDER BY d.date, d.case_id) AS rank_approved
    FROM d
)
SELECT r.*,
       r.decision = 'approved'
       AND r.rank_approved <= floor(p.special_cap_per_mille / 1000
                                    * (SELECT count(*) FROM mart_case_scores)) AS within_cap,
       CASE r.method WHEN 'adjusted' THEN r.points
                     ELSE r.total_cost_yuan / b.pv_budget_yuan END AS special_points
FROM ranked r CROSS JOIN run_params p CROSS JOIN int_budget b;

CREATE OR REPLACE TEMP TABLE mart_special_cases AS
SELECT p.scenario, p.sim_year AS year,
       coalesce(d.case_id, c.case_id) AS case_id,
       coalesce(d.hospital_id, c.hospital_id) AS hospital_id,
       coalesce(d.group_code, c.group_code) AS group_code,
       c.reasons, d.decision, d.method, d.reviewer, d.date AS decision_date,
       coalesce(d.within_cap, false) AS paid_as_special,
       CASE WHEN d.decision = 'approved' AND NOT d.within_cap
            THEN '超出特例单议上限（' || p.special_cap_per_mille || '‰），按病种分值结算' END
           AS cap_note,
       s.case_points AS points_ordinary,
       CASE WHEN d.within_cap THEN d.special_points END AS points_special
FROM int_special_candidates c
FULL OUTER JOIN int_special_decided d USING (case_id)
JOIN mart_case_scores s ON s.case_id = coalesce(d.case_id, c.case_id)
CROSS JOIN run_params p;

UPDATE mart_case_scores s
SET case_points = d.special_points, outlier = 'special'
FROM int_special_decided d
WHERE d.case_id = s.case_id AND d.within_cap;

-- ungrouped cases paid inside the fund (ungrouped_mode = points)
INSERT INTO mart_case_scores BY NAME
SELECT p.scenario, p.sim_year AS year, f.case_id, f.hospital_id, f.month,
       NULL AS group_code, 'ungrouped' AS group_type, NULL AS rw, 1.0 AS level_coefficient,
       NULL AS aux_type, 1.0 AS aux_coefficient, false AS primary_group, 1.0 AS tcm_factor,
       NULL AS cost_ratio, 'ungrouped' AS outlier,
       p.ungrouped_points_factor * CAST(f.total_cost_yuan AS DOUBLE) / b.pv_budget_yuan
           AS case_points,
       CAST(f.total_cost_yuan AS DOUBLE) AS total_cost_yuan,
       CAST(f.fund_paid_yuan AS DOUBLE) AS fund_paid_yuan, NULL AS case_amount_yuan,
       CASE WHEN p.split_by_insurance THEN coalesce(f.insurance_type, 'unknown')
            ELSE 'all' END AS pool, f.los_days, f.icu_days
FROM case_features f
JOIN mart_case_groups g USING (case_id)
CROSS JOIN run_params p CROSS JOIN int_budget b
WHERE p.ungrouped_mode = 'points' AND f.year = p.sim_year AND f.eligible
  AND NOT g.grouped AND coalesce(f.severity, 'ok') <> 'critical';
