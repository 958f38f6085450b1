-- 特例单议 (special review) and ungrouped cases (dip_rules.md §5).
-- Candidates, listed for review on every run: an extreme cost ratio (outlier 'extreme'); a stay
-- longer than los_multiple × the group's mean history LOS; ICU days ≥ icu_days_min; a
-- procedure on the new-technology list. The panel's decisions (a file: case, decision,
-- method, points, reviewer, date) pay an approved case by item (points = cost ÷ 预算点值) or
-- at the adjusted standard the file gives (points), up to cap_per_mille ‰ of the year's DIP
-- discharges, earliest decisions first; the overflow is paid as an ordinary case, and listed.
-- Ungrouped cases (eligible, no critical finding, no group): outside the fund (baseline), or
-- (ungrouped_mode = points) scored ungrouped_points_factor × cost ÷ 预算点值 inside it.
-- The mean stay shown is rounded as a decimal: the same text on DuckDB and Spark.
WITH flags AS (
    SELECT s.case_id, s.hospital_id, s.group_code, s.total_cost_yuan,
           list_filter([
               CASE WHEN s.outlier = 'extreme' THEN '费用极端异常' END,
               CASE WHEN s.los_days > p.special_review.los_multiple * g.mean_los_days
                    THEN '住院时间过长（' || s.los_days || ' 天，组均 '
                         || CAST(round(CAST(g.mean_los_days AS DECIMAL(18, 6)), 1) AS DOUBLE) || ' 天）' END,
               CASE WHEN s.icu_days >= p.special_review.icu_days_min
                    THEN '重症监护 ' || s.icu_days || ' 天' END,
               CASE WHEN t.codes IS NOT NULL THEN '新技术 ' || t.codes END
           ], lambda r: r IS NOT NULL) AS reasons
    FROM int_case_scores s
    LEFT JOIN mart_catalog_groups g USING (group_code)
    LEFT JOIN int_new_technology_cases t USING (case_id)
    CROSS JOIN run_params p
)
SELECT case_id, hospital_id, group_code, total_cost_yuan, array_to_string(reasons, '；') AS reasons
FROM flags WHERE array_length(reasons) > 0
