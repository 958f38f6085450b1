-- Point values and hospital settlement (dip_rules.md §4 and §6, issue 2 §3).
-- Reads: mart_case_scores, int_budget, run_params.
-- Writes temp tables mart_point_values (1 row), mart_hospital_monthly
-- (grain: hospital × month), mart_hospital_settlement (grain: hospital).
CREATE OR REPLACE TEMP TABLE mart_point_values AS
SELECT p.scenario, p.sim_year AS year, b.dip_fund_yuan, b.fund_ratio,
       t.total_points, b.pv_budget_yuan,
       -- 结算点值 = (DIP fund ÷ R) ÷ Σ case points [2020, 3.0]
       (b.dip_fund_yuan / b.fund_ratio) / t.total_points AS pv_settlement_yuan
FROM int_budget b
-- exact sums (see grouping/catalog.sql): the same inputs give the same bits
CROSS JOIN (SELECT CAST(sum(CAST(case_points AS DECIMAL(38, 10))) AS DOUBLE) AS total_points FROM mart_case_scores) t
CROSS JOIN run_params p;

-- monthly prepayment = the month's points × 预算点值 × R × (1 − withhold)
CREATE OR REPLACE TEMP TABLE mart_hospital_monthly AS
WITH m AS (
    SELECT hospital_id, month, count(*) AS n_cases, CAST(sum(CAST(case_points AS DECIMAL(38, 10))) AS DOUBLE) AS points,
           CAST(sum(CAST(fund_paid_yuan AS DECIMAL(38, 10))) AS DOUBLE) AS ffs_fund_paid_yuan
    FROM mart_case_scores GROUP BY hospital_id, month
)
SELECT p.scenario, p.sim_year AS year, m.hospital_id, m.month, m.n_cases, m.points,
       m.points * v.pv_budget_yuan * v.fund_ratio * (1 - p.withhold_rate) AS prepaid_yuan,
       m.ffs_fund_paid_yuan
FROM m CROSS JOIN mart_point_values v CROSS JOIN run_params p;

-- DIP amount = Σ case points × 结算点值 × R (Σ over hospitals = DIP fund);
-- FFS = Σ fund payments of its grouped cases; clearing = DIP amount − Σ prepayments
CREATE OR REPLACE TEMP TABLE mart_hospital_settlement AS
WITH h AS (
    SELECT hospital_id, sum(n_cases) AS n_cases, CAST(sum(CAST(points AS DECIMAL(38, 10))) AS DOUBLE) AS total_points,
           CAST(sum(CAST(ffs_fund_paid_yuan AS DECIMAL(38, 10))) AS DOUBLE) AS ffs_fund_paid_yuan,
           CAST(sum(CAST(prepaid_yuan AS DECIMAL(38, 10))) AS DOUBLE) AS prepaid_yuan
    FROM mart_hospital_monthly GROUP BY hospital_id
), a AS (
    SELECT h.*, h.total_points * v.pv_settlement_yuan * v.fund_ratio AS dip_amount_yuan
    FROM h CROSS JOIN mart_point_values v
)
SELECT p.scenario, p.sim_year AS year, a.hospital_id, a.n_cases, a.total_points,
       a.dip_amount_yuan, a.ffs_fund_paid_yuan,
       a.dip_amount_yuan - a.ffs_fund_paid_yuan AS diff_yuan,
       a.prepaid_yuan,
       a.dip_amount_yuan - a.prepaid_yuan AS clearing_yuan
FROM a CROSS JOIN run_params p;
