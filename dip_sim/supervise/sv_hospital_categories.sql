-- 编码高套: each hospital's cases of a diagnosis category against the category's regional
-- rates in the same year (grain: hospital × year × category). Sums are exact (costs are
-- DECIMAL; rw is summed as DECIMAL, as in catalog/int_keyed.sql): the same cases in another
-- order give the same bits.
WITH region AS (
    SELECT year, dx3,
           CAST(sum(CAST(rw AS DECIMAL(38, 10))) AS DOUBLE) / nullif(count(rw), 0) AS region_rw,
           avg(has_proc::INTEGER) AS region_proc_rate,
           avg(severity_coded::INTEGER) AS region_severity_rate,
           -- the catalogue points a yuan of cost buys in the category, region-wide
           CAST(sum(CAST(rw AS DECIMAL(38, 10))) AS DOUBLE)
               / nullif(CAST(sum(total_cost_yuan) AS DOUBLE), 0)
               AS region_rw_per_yuan
    FROM sv_base GROUP BY year, dx3
)
SELECT b.year, b.hospital_id, b.dx3, count(*) AS n_cases,
       CAST(sum(CAST(b.rw AS DECIMAL(38, 10))) AS DOUBLE) AS sum_rw,
       sum(b.has_proc::INTEGER) AS n_proc, sum(b.severity_coded::INTEGER) AS n_severity,
       any_value(r.region_rw) AS region_rw, any_value(r.region_proc_rate) AS region_proc_rate,
       any_value(r.region_severity_rate) AS region_severity_rate,
       CAST(sum(b.total_cost_yuan) AS DOUBLE) * any_value(r.region_rw_per_yuan) AS rw_for_cost
FROM sv_base b JOIN region r USING (year, dx3)
GROUP BY b.year, b.hospital_id, b.dx3
