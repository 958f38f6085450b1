"""Metrics (分组质量指标): the catalogue's quality figures, per group, per year and per hospital,
made after settlement from the run's grouping and amounts."""
