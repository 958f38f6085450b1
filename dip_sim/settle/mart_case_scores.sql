-- Every scored case with its share of its hospital's DIP amount (by points): Σ over a
-- hospital's cases = its DIP amount; the year-end amount = that + the settlement's
-- adjustments (a data test holds the sums).
SELECT s.* REPLACE (s.case_points / NULLIF(hp.points, 0) * h.dip_amount_yuan AS case_amount_yuan)
FROM int_case_points s
LEFT JOIN int_hospital_points hp USING (hospital_id)
LEFT JOIN mart_hospital_settlement h USING (hospital_id)
