-- Per history year: its weight, its grouped cases, their total cost and fund payments and the
-- Σ of their groups' rw (the catalogue's points): what the budget point value weighs [2020,
-- 3.0], what the fund grows from (the year before the simulation year), and what the
-- projection's cost per point and budget point values start from. Stored (history_costs): a
-- scenario changing only the budget reads its base's instead of every history case again.
SELECT getvariable('run.scenario') AS scenario, h.year, any_value(h.weight) AS weight,
       count(*) AS n_cases, CAST(sum(h.fund_paid_yuan) AS DOUBLE) AS fund_paid_yuan,
       CAST(sum(h.total_cost_yuan) AS DOUBLE) AS total_cost_yuan,
       CAST(sum(CAST(c.rw AS DECIMAL(38, 10))) AS DOUBLE) AS total_rw  -- exact sum: see catalog/int_keyed.sql
FROM int_history_grouped h JOIN mart_catalog_groups c USING (group_code)
GROUP BY h.year
