"""Each scenario's complete view of the result tables, over the rows each run made itself.

A scenario run that reuses its base scenario's results for the stages its parameters do not
reach (:mod:`dip_sim.pipeline.incremental`) stores only the tables its own stages made. So
that every reader (the dashboard, reports, ``compare``, outside SQL) still sees a whole
scenario without knowing, each scenario-keyed result table ``T`` is kept as:

- ``stored.T``: the rows each scenario's run made itself (what :func:`dip_sim.pipeline.run.store`
  writes);
- ``scenario_sources``: for every scenario, pooling region and table, the scenario whose rows
  stand for it (the scenario itself when its run made the table, else its base's source,
  followed to the end); each region's run reuses its own base rows;
- ``main.T``, a view: every scenario's rows, the stored rows of its source (in the same
  region) relabelled with its name. ``SELECT … FROM case_groups WHERE scenario = 'x'`` reads
  x's complete table.

``runs`` stays a table of its own (one row per scenario, written by the run itself), and so do
the supervision tables (``dip-sim supervise`` stores its rows per scenario).
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from dip_sim.contract import CONTRACTS, join_key
from dip_sim.schema import SCENARIO_TABLES
from dip_sim.sql_text import quoted

SCHEMA = "stored"
SOURCES = "scenario_sources"
# the result tables kept as stored rows plus a view; runs is the run's own record
LAYERED: tuple[str, ...] = tuple(t for t in SCENARIO_TABLES if t != "runs")


class LayoutError(RuntimeError):
    """The warehouse keeps its result tables in an older layout; the message says to rebuild."""


def _columns(table: str) -> str:
    return ",\n".join(f"    {c.ddl}" for c in CONTRACTS[table].stored_columns)


def view_sql(table: str) -> str:
    """The ``main.T`` view: each scenario's rows of ``T``, read from its source's stored rows,
    with the columns its contract computes on read (``on_read``: from the row of another
    result table of the same scenario, region and key, e.g. a case's DIP amount from its
    hospital's settlement, so that a new budget rewrites no case)."""
    computed = [c for c in CONTRACTS[table].columns if c.on_read]
    select = "t.* REPLACE (s.scenario AS scenario)" + "".join(
        f",\n       {c.on_read} AS {c.name}" for c in computed)
    joins = ""
    for other in dict.fromkeys(c.on_read_join for c in computed):
        on = "".join(f" AND {other}.{k} = t.{k}" for k in join_key(CONTRACTS[other]))
        joins += (f"\nLEFT JOIN main.{other} ON {other}.scenario = s.scenario "
                  f"AND {other}.region = t.region{on}")
    return (f"CREATE OR REPLACE VIEW main.{table} AS\n"
            f"SELECT {select}\n"
            f"FROM {SCHEMA}.{table} t\n"
            f"JOIN main.{SOURCES} s ON s.table_name = '{table}' AND s.source = t.scenario\n"
            f"    AND s.region = t.region{joins}")


def ensure(con: duckdb.DuckDBPyConnection) -> None:
    """Create the stored tables, ``scenario_sources`` and the views where they are missing.

    A warehouse whose result tables are plain tables (made before this layout) is refused
    with the command that rebuilds it.
    """
    kinds = dict(con.execute(
        "SELECT table_name, 'table' FROM duckdb_tables() WHERE schema_name = 'main' "
        "AND database_name = current_database() UNION ALL "
        "SELECT view_name, 'view' FROM duckdb_views() WHERE schema_name = 'main' "
        "AND database_name = current_database() AND NOT internal").fetchall())
    old = [t for t in LAYERED if kinds.get(t) == "table"]
    if old:
        raise LayoutError(f"仓库中的结果表 {', '.join(old[:3])} 为旧的存储结构：请运行 dip-sim rebuild "
                          "（按记录的输入目录重新载入、质控并模拟）")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    con.execute(f"CREATE TABLE IF NOT EXISTS main.{SOURCES} (scenario VARCHAR NOT NULL, "
                "table_name VARCHAR NOT NULL, source VARCHAR NOT NULL, region VARCHAR NOT NULL)")
    for table in LAYERED:
        con.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA}.{table} (\n{_columns(table)}\n)")
    # a view reading another on read comes after it
    for table in sorted(LAYERED, key=lambda t: any(c.on_read for c in CONTRACTS[t].columns)):
        if kinds.get(table) != "view":
            con.execute(view_sql(table))


def rows_sql(con: duckdb.DuckDBPyConnection, table: str, scenario: str, region: str,
             label: str | None = None) -> str:
    """A SELECT of ``scenario``'s rows of ``table`` in ``region`` read straight from the stored
    rows of its source (in the order they were stored, as the view would give them
    relabelled), without the ``region`` column (the models' own tables have none), with
    ``scenario`` set to ``label`` (an SQL expression; default: the scenario's name)."""
    in_region = f"region = {quoted(region)}"
    if table not in LAYERED:
        return (f"SELECT * EXCLUDE (region) FROM main.{table} "
                f"WHERE scenario = {quoted(scenario)} AND {in_region}")
    label = label or quoted(scenario)
    found = con.execute(f"SELECT source FROM main.{SOURCES} WHERE scenario = ? AND "
                        "table_name = ? AND region = ?", [scenario, table, region]).fetchall()
    source = found[0][0] if found else scenario
    return (f"SELECT * EXCLUDE (region) REPLACE ({label} AS scenario) "
            f"FROM {SCHEMA}.{table} WHERE scenario = {quoted(source)} AND {in_region}")


def set_sources(con: duckdb.DuckDBPyConnection, scenario: str, region: str, made: Iterable[str],
                base: str | None) -> None:
    """Record where ``scenario``'s rows of each layered table in ``region`` are: its own for
    the tables in ``made``, else those its base's rows come from (a full run: ``base`` None,
    all its own)."""
    made = set(made)
    con.execute(f"DELETE FROM {SOURCES} WHERE scenario = ? AND region = ?", [scenario, region])
    own = [t for t in LAYERED if base is None or t in made]
    if own:
        con.executemany(f"INSERT INTO {SOURCES} BY NAME SELECT ? AS scenario, ? AS table_name, "
                        "? AS source, ? AS region",
                        [[scenario, t, scenario, region] for t in own])
    if base is not None:
        con.execute(f"""
            INSERT INTO {SOURCES} BY NAME
            SELECT ? AS scenario, table_name, source, region FROM {SOURCES}
            WHERE scenario = ? AND region = ? AND NOT list_contains(?, table_name)""",
                    [scenario, base, region, own])


def drop_unreferenced(con: duckdb.DuckDBPyConnection, scenario: str, region: str) -> None:
    """Delete ``scenario``'s stored rows in ``region`` of the tables no scenario reads from it
    any more."""
    # the tables holding rows of the scenario that no scenario reads, found in one query
    name, in_region = quoted(scenario), quoted(region)
    found = con.execute("\nUNION ALL\n".join(
        f"SELECT '{table}' WHERE EXISTS (SELECT 1 FROM {SCHEMA}.{table} WHERE scenario = {name} "
        f"AND region = {in_region}) AND NOT EXISTS (SELECT 1 FROM {SOURCES} WHERE table_name = "
        f"'{table}' AND source = {name} AND region = {in_region})" for table in LAYERED)
    ).fetchall()
    for (table,) in found:
        con.execute(f"DELETE FROM {SCHEMA}.{table} WHERE scenario = ? AND region = ?",
                    [scenario, region])
