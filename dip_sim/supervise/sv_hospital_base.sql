-- Supervision indices per hospital and year, from the case flags of mart_supervision_cases.
--
-- For a count index: rate = flagged ÷ base cases; the regional rate = Σ flagged ÷ Σ base of
-- the year; expected = base × regional rate; the score z = 2(√flagged − √expected), the
-- variance-stabilised deviation of a Poisson count (Freeman–Tukey): about N(0, 1) when the
-- hospital behaves as the region, and it does not blow up for a small hospital the way
-- (flagged − expected) ÷ √expected does. Worked example: 30 flagged where 10.24 were
-- expected gives 2(5.477 − 3.2) = 4.55.
SELECT b.year, b.hospital_id, count(*) AS n_cases,
       count(*) FILTER (WHERE m.low_risk) AS n_low_risk,
       sum(b.total_cost_yuan) AS cost_yuan, sum(b.drug_yuan) AS drug_yuan,
       sum(b.consumable_yuan) AS consumable_yuan,
       sum(b.patient_paid_yuan) AS patient_paid_yuan,
       sum(b.total_cost_yuan) FILTER (WHERE b.patient_paid_yuan IS NOT NULL) AS paid_base_yuan
FROM sv_base b LEFT JOIN sv_group_mortality m USING (group_code)
GROUP BY ALL
