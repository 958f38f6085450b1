"""Feedback and confirmation (反馈沟通 → 确认, docs/feedback.md): hospitals' objections to the
catalogue and to their cases' grouping, the expert panel's decisions, and the panel's
confirmation of a catalogue version.

Kept outside the DuckDB warehouse, in a store made for concurrent writes (SQLite in WAL mode by
default, PostgreSQL when a URL is configured), append-only, so that nothing is lost to a batch
run holding the warehouse and nothing is rewritten by a re-simulation. Modules: ``rules`` (what
may be raised and decided, and by whom), ``store`` (the tables and their reads and writes),
``links`` (the panel's catalogue adjustments an accepted objection points to), ``export`` (the
Excel workbook for the panel's meeting).
"""
