-- The discharge dispositions (离院方式) after which a new stay is no readmission
-- (supervision.readmit_excluded_dispositions).
SELECT value AS code FROM param_supervision_readmit_excluded_dispositions
