-- The negotiated coefficient of each hospital level (coefficients.hospital_level).
SELECT key AS level, value AS coefficient FROM param_coefficients_hospital_level
