"""Monitoring the year while it runs (运行监测): the year to date against the history.

The pilot plan asks the bureau to watch the system while it runs (在系统运行期间实时监测运行情况).
The stage's models (docs/stages.md, docs/rules.md#运行监测) take the simulation year's cases
discharged up to ``monitoring.through_month`` (or the last month loaded): the points per month
against the same months of the history years (``mart_monitor_months``), a running estimate of
the year's settlement point value with a range from the history years' seasonality
(``mart_monitor_estimate``), and each hospital's points share against its share of the budget
indicator, its outlier and ungrouped rates and its growth against its history pace
(``mart_monitor_hospitals``), with alerts at the thresholds of ``data/policy/monitoring.yaml``.
``dip-sim monitor --through-month M`` reruns the stage for another month without storing;
the page 运行监测 and the supervision report show the stored alerts.
"""
