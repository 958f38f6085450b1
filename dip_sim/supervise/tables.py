"""The output tables of supervision and assessment (one set of rows per scenario).

Each is replaced for a scenario by :func:`dip_sim.supervise.run.supervise` (or by a
simulation run whose settlement uses the assessment scheme). Their columns, grain, labels and
data tests are in their contracts (``dip_sim/supervise/<table>.yaml``, :mod:`dip_sim.contract`);
index codes and their Chinese names are the ``codes`` of ``supervision_hospitals.index_code``.
"""

from __future__ import annotations

from dip_sim.contract import CONTRACTS, column_codes, create_sql

SUPERVISION_DDL: dict[str, str] = {
    table: create_sql(table) for table, c in CONTRACTS.items() if c.path.parent.name == "supervise"}

# index code → Chinese name (the UI and the reports), in the order of docs/supervision.md
INDEX_LABELS: dict[str, str] = dict(column_codes("index_code", "supervision_hospitals"))


def index_label(code: str) -> str:
    """The Chinese name of an index code (windows other than 15/31 days named generically)."""
    if code in INDEX_LABELS:
        return INDEX_LABELS[code]
    if code.startswith("readmit_"):
        days, kind = code[len("readmit_"):].split("d_")
        return f"{days} 日{'同病种' if kind == 'same' else ''}再入院"
    return code
