"""Point-value projection (点值预测): the simulation year carried forward a few years.

Under a fixed budget, points that grow faster than the fund push the point value down year
after year (点值贬值). The stage's models (docs/stages.md, docs/rules.md#点值预测) take each
hospital's cases of the simulation year by group (``mart_projection_cells``), grow their
volume by the history trend (or a set rate, under a cap), their points per case by the case-mix
drift and the coding intensity and their cost per point by its history trend
(``int_projection_rates``), grow the DIP fund by the budget method, and give each year's budget
and settlement point values (``mart_projection_years``) and each hospital's points and amount
(``mart_projection_hospitals``). ``dip-sim project`` and the page 预测 read them.
"""
