-- The readmission windows in days (supervision.readmit_days).
SELECT DISTINCT value AS days FROM param_supervision_readmit_days
