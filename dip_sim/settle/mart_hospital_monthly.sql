-- Monthly prepayment (月度预付) per hospital and month: gross = the month's points × 预算点值 ×
-- R (or, prepay_basis = minus_patient_paid, points × 预算点值 − the patients' payments of those
-- cases); the quality deposit withheld = gross × withhold rate; the month's review deductions;
-- prepaid (net) = gross − withheld − deductions; and the running total.
WITH m AS (
    SELECT s.hospital_id, s.month, CAST(sum(s.n_cases) AS BIGINT) AS n_cases,
           CAST(sum(s.points) AS DOUBLE) AS points,
           -- the month's points valued at the budget point value × R of each pool (exact sum)
           CAST(sum(CAST(CAST(s.points AS DOUBLE) * pl.fund_ratio AS DECIMAL(38, 10))) AS DOUBLE)
               AS points_r,
           CAST(sum(s.fund_paid_yuan) AS DOUBLE) AS ffs_fund_paid_yuan,
           CAST(sum(s.total_cost_yuan - s.fund_paid_yuan) AS DOUBLE) AS patient_paid_yuan
    FROM mart_case_score_cells s JOIN int_pools pl USING (pool)
    GROUP BY s.hospital_id, s.month
), d AS (
    SELECT hospital_id, month, sum(amount_yuan) AS deductions_yuan
    FROM run_deductions GROUP BY hospital_id, month
), md AS (  -- a month with deductions and no case still counts
    SELECT coalesce(m.hospital_id, d.hospital_id) AS hospital_id,
           coalesce(m.month, d.month) AS month, coalesce(m.n_cases, 0) AS n_cases,
           coalesce(m.points, 0) AS points, coalesce(m.points_r, 0) AS points_r,
           coalesce(m.ffs_fund_paid_yuan, 0) AS ffs_fund_paid_yuan,
           coalesce(m.patient_paid_yuan, 0) AS patient_paid_yuan,
           coalesce(d.deductions_yuan, 0) AS deductions_yuan
    FROM m FULL OUTER JOIN d ON d.hospital_id = m.hospital_id AND d.month = m.month
), g AS (
    SELECT md.*,
           CASE WHEN p.settlement.prepay_basis = 'minus_patient_paid'
                THEN greatest(md.points * v.pv_budget_yuan - md.patient_paid_yuan, 0)
                ELSE md.points_r * v.pv_budget_yuan END AS gross_prepay_yuan
    FROM md CROSS JOIN int_point_values v CROSS JOIN run_params p
)
SELECT p.run.scenario, p.run.sim_year AS year, g.hospital_id, g.month, g.n_cases, g.points,
       g.gross_prepay_yuan * (1 - p.settlement.withhold_rate) - g.deductions_yuan AS prepaid_yuan,
       g.ffs_fund_paid_yuan, g.gross_prepay_yuan,
       g.gross_prepay_yuan * p.settlement.withhold_rate AS withheld_yuan, g.deductions_yuan,
       sum(g.gross_prepay_yuan * (1 - p.settlement.withhold_rate) - g.deductions_yuan)
           OVER (PARTITION BY g.hospital_id ORDER BY g.month) AS cum_prepaid_yuan
FROM g CROSS JOIN run_params p
