-- The auxiliary typing's dimensions: the enabled ones in their order of priority
-- (auxiliary.dimensions), and those the panel's splits name (priority NULL when not enabled).
SELECT d.value AS dimension, d.position AS priority
FROM param_auxiliary_dimensions d CROSS JOIN run_params p
WHERE p.auxiliary.enabled
UNION ALL
SELECT DISTINCT s.dimension, NULL::INTEGER AS priority
FROM run_splits s CROSS JOIN run_params p
WHERE NOT (p.auxiliary.enabled
           AND s.dimension IN (SELECT value FROM param_auxiliary_dimensions))
