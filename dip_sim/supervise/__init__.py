"""Supervision (违规行为监管) and assessment (绩效考核); see docs/supervision.md.

The stage's models (docs/stages.md): ``mart_supervision_cases`` flags cases (二次入院,
分解住院, 低标入院, 超长住院, 低风险组死亡); ``sv_hospital_rows`` and
``mart_supervision_hospitals`` turn them into per hospital-year indices against the region,
with 编码高套 by diagnosis category (``mart_supervision_upcoding``), 费用结构 and 患者负担;
``mart_assessment`` scores each hospital-year 0–100 and maps the score to the assessment
coefficient and the deposit release; ``anomaly.py`` screens hospital-months with an isolation
forest. ``run.py`` holds the Python models and runs the stage on a stored scenario.
"""
