-- Supervision indices per hospital and year, from the case flags of mart_supervision_cases.
--
-- For a count index: rate = flagged ÷ base cases; the regional rate = Σ flagged ÷ Σ base of
-- the year; expected = base × regional rate; the score z = 2(√flagged − √expected), the
-- variance-stabilised deviation of a Poisson count (Freeman–Tukey): about N(0, 1) when the
-- hospital behaves as the region, and it does not blow up for a small hospital the way
-- (flagged − expected) ÷ √expected does. Worked example: 30 flagged where 10.24 were
-- expected gives 2(5.477 − 3.2) = 4.55.
--
-- The money of sv_base is DECIMAL, so its sums are exact (the same cases in another order
-- give the same bits); they are doubles from here on, as the ratios below are.
SELECT b.year, b.hospital_id, count(*) AS n_cases,
       count(*) FILTER (WHERE m.low_risk) AS n_low_risk,
       CAST(sum(b.total_cost_yuan) AS DOUBLE) AS cost_yuan,
       CAST(sum(b.drug_yuan) AS DOUBLE) AS drug_yuan,
       CAST(sum(b.consumable_yuan) AS DOUBLE) AS consumable_yuan,
       CAST(sum(b.patient_paid_yuan) AS DOUBLE) AS patient_paid_yuan,
       CAST(sum(b.total_cost_yuan) FILTER (WHERE b.patient_paid_yuan IS NOT NULL) AS DOUBLE)
           AS paid_base_yuan
FROM sv_base b LEFT JOIN sv_group_mortality m USING (group_code)
GROUP BY ALL
