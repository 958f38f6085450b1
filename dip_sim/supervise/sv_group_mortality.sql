-- the group's regional mortality over every year of the data (死亡风险)
SELECT group_code, count(*) AS n_cases, avg(died::INTEGER) AS mortality,
       count(*) >= p.supervision.low_risk_min_cases AND avg(died::INTEGER) < p.supervision.low_risk_mortality AS low_risk
FROM sv_base CROSS JOIN run_params p
GROUP BY group_code, p.supervision.low_risk_min_cases, p.supervision.low_risk_mortality
