"""Whether the Spark engine's stored tables hold the numbers DuckDB's run stored.

Each stored table of a scenario is read from the warehouse and from the Spark run's Parquet,
its rows matched on the contract's key, and compared column by column: row counts and every
non-numeric value exactly; amounts to 0.01 yuan (unit ``yuan``; one fen for unit ``fen``: the
cents a largest-remainder split hands out, which a near tie between two hospitals' remainders,
1e-12 apart, may give to either); every other number (points,
point values, ratios) to 1e-9 relative (a number within 1e-9 of zero on both sides counts as
equal: a balance of 0 against 4e-9 after the same sums in another order). A difference of two
values (:data:`SCALE_OF`) is judged relative to the values differenced.

A rank over computed values (:data:`TIED_RANKS`) may order rows whose values are equal within
that tolerance either way (hospitals at a CMI index of exactly 1, one summed to
1.0000000000000002: one engine ranks them all 7th, the other 7th to 15th): such a rank counts as
the same when it lies among the ranks the tied rows span (:func:`_tied`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import duckdb

from dip_sim.contract import CONTRACTS
from dip_sim.spark.engine import has_rows, parquet_glob
from dip_sim.sql_text import quoted

AMOUNT_TOLERANCE_YUAN = 0.01
# the tolerance of an amount by its unit: 0.01 yuan, i.e. one fen (a cent); a few units in the
# last place of a double on top (28,809,325.42 − 28,809,325.41 is 0.0100000016 in doubles)
AMOUNT_TOLERANCE: dict[str, float] = {"yuan": AMOUNT_TOLERANCE_YUAN, "fen": 1.0}
ULPS = 4e-15
RELATIVE_TOLERANCE = 1e-9
# a difference of two values, judged relative to the values differenced (table, column) → the
# column holding them: cancellation leaves a small difference few exact digits of its own (a
# hospital's points change of 6.26 from some 200,000 points each year, summed in another
# order, agrees to 3e-11 of the points but only to 3e-8 of itself)
SCALE_OF: dict[tuple[str, str], str] = {("projection_hospitals", "points_change"): "points"}
# table → (rank column, the columns a rank is within, the values it ranks by)
TIED_RANKS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "supervision_hospitals": ("rank", ("year", "index_code"), ("value", "ratio_to_region",
                                                                "z_score")),
}


def _close(a: Any, b: Any, amount: float | None) -> bool:
    """Whether two values agree: within ``amount`` (an amount's tolerance, in its unit), else
    to the relative tolerance."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    a, b = float(a), float(b)
    if amount:
        return abs(a - b) <= amount + ULPS * max(abs(a), abs(b)) + 1e-12
    return math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=RELATIVE_TOLERANCE)


def _tied(rows: list[tuple], columns: list[str], row: tuple, rank: Any,
          tied: tuple[str, tuple[str, ...], tuple[str, ...]]) -> bool:
    """Whether ``rank`` is one ``row`` could hold among the rows of ``rows`` tied with it:
    those of its partition whose ranked values equal its own within the tolerance. Ranked
    first at ``lo``, the ``k`` of them take ranks ``lo`` to ``lo + k − 1`` in some order on
    another engine (or all ``lo``, when its values tie exactly)."""
    rank_column, within, values = tied
    at = {c: columns.index(c) for c in (rank_column, *within, *values)}
    group = [other for other in rows
             if all(other[at[c]] == row[at[c]] for c in within)
             and all(_close(other[at[c]], row[at[c]], None) for c in values)]
    if rank is None or not group:
        return False
    low = min(other[at[rank_column]] for other in group)
    return low <= rank <= low + len(group) - 1


def _kind(column) -> str:
    """How a column is compared: ``amount`` (a unit of :data:`AMOUNT_TOLERANCE`), ``number``
    (a double or decimal) or ``other`` (exactly)."""
    if column.unit in AMOUNT_TOLERANCE:
        return "amount"
    return "number" if column.type == "DOUBLE" or column.type.startswith("DECIMAL") else "other"


def _tolerance(contract, column: str) -> float:
    unit = next(c.unit for c in contract.columns if c.name == column)
    return AMOUNT_TOLERANCE.get(unit, AMOUNT_TOLERANCE_YUAN)


def _rows_sql(con_table: str, columns: list[str], scenario: str) -> str:
    return f"SELECT {', '.join(columns)} FROM {con_table} WHERE scenario = {quoted(scenario)}"


def _spark_source(out: Path) -> str:
    return (f"read_parquet('{parquet_glob(out)}', hive_partitioning = true, "
            f"hive_types_autocast = false)")


def _differs_sql(column: str, kind: str, scale: str | None = None,
                 tolerance: float = AMOUNT_TOLERANCE_YUAN) -> str:
    """The SQL condition under which the two engines' values of ``column`` differ (``kind``:
    amount, number or other), as :func:`_close` judges them; ``scale``: the column of the
    values a difference is judged relative to (:data:`SCALE_OF`); ``tolerance``: an amount's,
    in its unit. The two sides are the joined rows ``d`` (DuckDB) and ``s`` (Spark); NULL
    when a value is missing on one side only and the other is NaN."""
    a, b = f"d.{column}", f"s.{column}"
    if kind == "other":
        return f"{a} IS DISTINCT FROM {b}"
    x, y = f"CAST({a} AS DOUBLE)", f"CAST({b} AS DOUBLE)"
    sizes = f"abs({x}), abs({y})" + (f", abs(CAST(d.{scale} AS DOUBLE)), "
                                     f"abs(CAST(s.{scale} AS DOUBLE))" if scale else "")
    if kind == "amount":
        close = (f"abs({x} - {y}) <= {tolerance} + {ULPS} * greatest(abs({x}), abs({y})) "
                 f"+ 1e-12")
    else:
        close = (f"abs({x} - {y}) <= greatest({RELATIVE_TOLERANCE} * greatest({sizes}), "
                 f"{RELATIVE_TOLERANCE})")
    return (f"NOT (({a} IS NULL AND {b} IS NULL) OR (isnan({x}) AND isnan({y})) "
            f"OR coalesce({close}, false))")


def table_differences(con: duckdb.DuckDBPyConnection, out: Path, table: str,
                      scenario: str, limit: int = 5) -> list[str]:
    """How ``scenario``'s rows of ``table`` in the warehouse differ from the Spark run's
    Parquet under ``out`` (empty: the same numbers). The rows are matched on the contract's
    key and compared in SQL (a table of millions of cases compares in seconds); a table with
    a tied rank (:data:`TIED_RANKS`, one row per hospital and index) is compared row by row
    in order."""
    contract = CONTRACTS[table]
    # the stored columns (one computed on read comes from the compared ones of another table)
    columns = [c.name for c in contract.stored_columns]
    folder = Path(out) / table
    spark_rows = (_rows_sql(_spark_source(folder), columns, scenario) if has_rows(folder)
                  else f"SELECT {', '.join(columns)} FROM {table} WHERE false")
    duck_rows = _rows_sql(table, columns, scenario)
    n_duck, n_spark = (con.execute(f"SELECT count(*) FROM ({q})").fetchall()[0][0]
                       for q in (duck_rows, spark_rows))
    if n_duck != n_spark:
        return [f"{table}: DuckDB {n_duck} 行，Spark {n_spark} 行"]
    if table in TIED_RANKS:
        return _ordered_differences(con, table, columns, duck_rows, spark_rows, limit)
    kinds = {c.name: _kind(c) for c in contract.columns}
    compared = [c for c in columns if c not in contract.key]
    on = " AND ".join(f"d.{k} IS NOT DISTINCT FROM s.{k}" for k in contract.key)
    key = ", ".join(f"{k} := coalesce(d.{k}, s.{k})" for k in contract.key)
    # one pass over the join: each column's verdict beside its two values as text, and only
    # the rows with a difference kept (the join of two tables of millions of cases is never
    # held whole)
    verdicts = {c: _differs_sql(c, kinds[c], SCALE_OF.get((table, c)), _tolerance(contract, c))
                for c in compared}
    cells = ", ".join(f"CAST(d.{c} AS VARCHAR) AS d_{c}, CAST(s.{c} AS VARCHAR) AS s_{c}, "
                      f"coalesce({verdicts[c]}, true) AS x_{c}" for c in compared)
    differing = " OR ".join(["NOT (in_duck AND in_spark)", *(f"x_{c}" for c in compared)])
    rows = con.execute(f"""
        SELECT * FROM (
            SELECT struct_pack({key}) AS key, d.here IS NOT NULL AS in_duck,
                   s.here IS NOT NULL AS in_spark{", " + cells if cells else ""}
            FROM (SELECT *, true AS here FROM ({duck_rows})) d
            FULL JOIN (SELECT *, true AS here FROM ({spark_rows})) s ON {on})
        WHERE {differing}
        LIMIT {int(limit)}""").fetchall()
    found = []
    for where, in_duck, in_spark, *values in rows:
        if not (in_duck and in_spark):  # a row of one engine only
            found.append(f"{table}.(key) {where}: DuckDB {_present(in_duck)!r}，"
                         f"Spark {_present(in_spark)!r}")
            continue
        for i, name in enumerate(compared):
            a, b, differs = values[3 * i:3 * i + 3]
            if differs:
                found.append(f"{table}.{name} {where}: DuckDB {a!r}，Spark {b!r}")
    return found[:limit]


def _present(here: bool) -> str:
    return "present" if here else "missing"


def _ordered_differences(con: duckdb.DuckDBPyConnection, table: str, columns: list[str],
                         duck_rows: str, spark_rows: str, limit: int) -> list[str]:
    """The differences of a small table, its rows compared in the order of its key, a tied
    rank judged by :func:`_tied`."""
    contract = CONTRACTS[table]
    order = ", ".join(contract.key)
    duck = con.execute(f"{duck_rows} ORDER BY {order}").fetchall()
    spark = con.execute(f"{spark_rows} ORDER BY {order}").fetchall()
    found = []
    numeric = {c.name: AMOUNT_TOLERANCE.get(c.unit) for c in contract.columns
               if _kind(c) != "other"}
    tied = TIED_RANKS[table]
    for duck_row, spark_row in zip(duck, spark, strict=True):
        for name, a, b in zip(columns, duck_row, spark_row, strict=True):
            same = _close(a, b, numeric[name]) if name in numeric else a == b
            if not same and name == tied[0]:
                same = _tied(duck, columns, duck_row, b, tied)
            if not same:
                key = {k: duck_row[columns.index(k)] for k in contract.key}
                found.append(f"{table}.{name} {key}: DuckDB {a!r}，Spark {b!r}")
                if len(found) >= limit:
                    return found
    return found


def differences(con: duckdb.DuckDBPyConnection, out: Path, scenario: str,
                tables: list[str]) -> list[str]:
    """The differences of every table in ``tables`` (:func:`table_differences`)."""
    return [d for table in tables for d in table_differences(con, out, table, scenario)]
