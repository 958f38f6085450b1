-- The cost band of each group for the trimmed budget point value
-- (point_value.budget_refinement = quantile; DIP 3.0: leave out history cases below the 2.5%
-- or above the 97.5% cost quantile). Run only for that refinement (dip_sim/simulation.py).
-- Reads: int_history_grouped, the variables trim_low and trim_high (a quantile's fraction
-- must be a constant: set from point_value.trim_low / trim_high).
-- Writes int_pv_trim (grain: group): the band [low_yuan, high_yuan] of costs kept.
CREATE OR REPLACE TEMP TABLE int_pv_trim AS
SELECT group_code,
       quantile_cont(total_cost_yuan, getvariable('trim_low')) AS low_yuan,
       quantile_cont(total_cost_yuan, getvariable('trim_high')) AS high_yuan
FROM int_history_grouped
GROUP BY group_code;
