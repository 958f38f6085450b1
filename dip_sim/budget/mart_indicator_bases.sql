-- Each hospital's base for its annual DIP budget indicator (医院年度支付预算指标), from its
-- grouped history cases (阳政发〔2021〕3号: 根据医院各病种医疗费用情况和占比，确定医院的年度支付
-- 预算指标). Stored as indicator_bases: a scenario changing only the budget reads its base's.
-- The history years are weighted as the budget weights them (catalog.history_weights, 1:2:7
-- [2020, 3.0]) and averaged: a year's case counts as w_y / Σw of a case, so a hospital's
-- weighted annual cases in group g are n̄_hg = Σ_y w_y·n_hgy / Σ_y w_y (a year without cases
-- counts as zero).
--   expected points  E_h = Σ_g n̄_hg × rw_g × c_hg, c_hg the hospital coefficient as scoring
--                    takes it (int_coefficients_in_force + the hospital's bonus; 1 for a
--                    基层病种);
--   history points   P_h = Σ_g n̄_hg × rw_g (the catalogue's points, as the budget point value
--                    counts them);
--   history fund     F_h = Σ_y w_y·(fund payments of its grouped cases in y) / Σ_y w_y;
--   volume trend     T_h = clamp(V*_h / V̄_h, indicator.trend_floor, indicator.trend_cap),
--                    V̄_h = Σ_g n̄_hg its weighted annual cases and V*_h its projected cases:
--                    none → V̄_h (T = 1); last_year → n_last; growth → n_last × (1 + g_h),
--                    g_h = (n_last / n_first)^(1 / (last − first)) − 1 over the first and last
--                    history years (0 when the first year has no case or there is one year).
-- A hospital of the hospitals table without grouped history cases gets a row with zeros and
-- has_history false (mart_hospital_budget_indicators decides its base: indicator.new_hospital).
-- A case of a hospital missing from that table fails the critical quality rule
-- unknown_hospital and is never grouped, so no history case is left out here.
WITH w AS (
    SELECT sum(weight) AS total_weight, min(year) AS first_year, max(year) AS last_year
    FROM run_history
), cells AS (
    -- the history cases read once, summed by hospital, group and year (exact sums: the sums
    -- below add these as they would add the cases)
    SELECT hospital_id, group_code, year, count(*) AS n_cases,
           sum(CAST(weight AS DECIMAL(38, 10))) AS weight_sum,
           sum(CAST(weight * fund_paid_yuan AS DECIMAL(38, 10))) AS fund_w_sum
    FROM int_history_grouped GROUP BY hospital_id, group_code, year
), cases AS (
    SELECT h.*, c.rw, c.primary_group
    FROM cells h JOIN mart_catalog_groups c USING (group_code)
), mix AS (
    -- per hospital and group: weighted annual cases and the coefficient scoring would give
    SELECT x.hospital_id, x.group_code,
           CAST(sum(x.weight_sum) AS DOUBLE) / w.total_weight AS cases_w,
           any_value(x.rw) AS rw,
           CASE WHEN any_value(k.primary_group) THEN any_value(k.coefficient)
                ELSE any_value(k.coefficient) + coalesce(any_value(bn.bonus), 0) END
               AS coefficient
    FROM cases x
    JOIN hospitals hs USING (hospital_id)
    CROSS JOIN w
    JOIN int_coefficients_in_force k ON k.level = hs.level AND k.group_code = x.group_code
    LEFT JOIN run_bonus bn ON bn.hospital_id = x.hospital_id
    GROUP BY x.hospital_id, x.group_code, w.total_weight
), per_year AS (
    SELECT hospital_id,
           coalesce(CAST(sum(n_cases) FILTER (WHERE year = (SELECT first_year FROM w)) AS BIGINT),
                    0) AS n_first,
           coalesce(CAST(sum(n_cases) FILTER (WHERE year = (SELECT last_year FROM w)) AS BIGINT),
                    0) AS n_last,
           CAST(sum(fund_w_sum) AS DOUBLE) / any_value(w.total_weight) AS fund_w
    FROM cases CROSS JOIN w GROUP BY hospital_id
), hosp AS (
    SELECT hospital_id,
           -- sums as DECIMAL: the same to the last digit whatever order the rows come in
           CAST(sum(CAST(cases_w AS DECIMAL(38, 10))) AS DOUBLE) AS cases_w,
           CAST(sum(CAST(cases_w * rw * coefficient AS DECIMAL(38, 10))) AS DOUBLE) AS expected_points,
           CAST(sum(CAST(cases_w * rw AS DECIMAL(38, 10))) AS DOUBLE) AS history_points
    FROM mix GROUP BY hospital_id
), g AS (
    SELECT y.*, h.cases_w, h.expected_points, h.history_points,
           CASE WHEN y.n_first > 0 AND w.last_year > w.first_year
                THEN pow(y.n_last / y.n_first, 1.0 / (w.last_year - w.first_year)) - 1
                ELSE 0 END AS growth_rate
    FROM per_year y JOIN hosp h USING (hospital_id) CROSS JOIN w
)
SELECT p.run.scenario, hs.hospital_id, hs.level, g.hospital_id IS NOT NULL AS has_history,
       coalesce(g.cases_w, 0) AS history_cases, coalesce(g.n_last, 0) AS cases_last_year,
       coalesce(g.growth_rate, 0) AS growth_rate,
       coalesce(g.expected_points, 0) AS expected_points,
       coalesce(g.history_points, 0) AS history_points,
       coalesce(g.fund_w, 0) AS history_fund_paid_yuan,
       CASE WHEN g.hospital_id IS NULL OR p.indicator.trend_method = 'none' THEN 1.0
            ELSE least(greatest(
                CASE p.indicator.trend_method
                    WHEN 'last_year' THEN g.n_last
                    ELSE g.n_last * (1 + g.growth_rate) END / g.cases_w,
                p.indicator.trend_floor), p.indicator.trend_cap) END AS trend_factor
FROM hospitals hs
LEFT JOIN g USING (hospital_id)
CROSS JOIN run_params p
