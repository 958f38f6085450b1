-- The assessment coefficient and deposit release each hospital's settlement takes
-- (医保发〔2025〕18号: 考核结果与年度清算挂钩): the 绩效考核 scheme's scores of the simulation year
-- (settlement.assessment_source = scheme; mart_assessment is empty otherwise) or the file's
-- (settlement.assessment_file; empty with the scheme). A hospital without either keeps 1 and
-- a full release.
SELECT a.hospital_id, a.assessment_coefficient, a.withhold_release
FROM mart_assessment a CROSS JOIN run_params p
WHERE a.year = p.run.sim_year
UNION ALL
SELECT hospital_id, coefficient AS assessment_coefficient, withhold_release
FROM run_assessment_file
