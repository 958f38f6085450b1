-- The catalogue supervision compares stays with: points, mean cost and mean stay per group.
SELECT group_code, rw, mean_cost_yuan, mean_los_days FROM mart_catalog_groups
