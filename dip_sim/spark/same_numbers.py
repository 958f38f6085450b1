"""Whether the Spark engine's stored tables hold the numbers DuckDB's run stored.

Each stored table of a scenario is read from the warehouse and from the Spark run's Parquet,
both ordered by the contract's key, and compared column by column: row counts and every
non-numeric value exactly; amounts (unit ``yuan``) to 0.01 yuan; every other number (points,
point values, ratios) to 1e-9 relative (a number within 1e-9 of zero on both sides counts as
equal: a balance of 0 against 4e-9 after the same sums in another order).

A rank over computed values (:data:`TIED_RANKS`) may order two rows whose values are equal
within that tolerance either way (two hospitals at a CMI index of exactly 1, one summed to
1.0000000000000002): such a rank counts as the same when the other engine's rank is held, in
the same partition, by a row whose ranked values equal this row's within the tolerance.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import duckdb

from dip_sim.contract import CONTRACTS
from dip_sim.spark.engine import has_rows, parquet_glob

AMOUNT_TOLERANCE_YUAN = 0.01
RELATIVE_TOLERANCE = 1e-9
# table → (rank column, the columns a rank is within, the values it ranks by)
TIED_RANKS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "supervision_hospitals": ("rank", ("year", "index_code"), ("value", "ratio_to_region",
                                                                "z_score")),
}


def _close(a: Any, b: Any, amount: bool) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    a, b = float(a), float(b)
    if amount:
        return abs(a - b) <= AMOUNT_TOLERANCE_YUAN + 1e-9
    return math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=RELATIVE_TOLERANCE)


def _tied(rows: list[tuple], columns: list[str], row: tuple, rank: Any,
          tied: tuple[str, tuple[str, ...], tuple[str, ...]]) -> bool:
    """Whether a row of ``rows`` in ``row``'s partition holds ``rank`` with ranked values
    equal to ``row``'s within the tolerance."""
    rank_column, within, values = tied
    at = {c: columns.index(c) for c in (rank_column, *within, *values)}
    return any(
        other[at[rank_column]] == rank
        and all(other[at[c]] == row[at[c]] for c in within)
        and all(_close(other[at[c]], row[at[c]], False) for c in values)
        for other in rows)


def table_differences(con: duckdb.DuckDBPyConnection, out: Path, table: str,
                      scenario: str, limit: int = 5) -> list[str]:
    """How ``scenario``'s rows of ``table`` in the warehouse differ from the Spark run's
    Parquet under ``out`` (empty: the same numbers)."""
    contract = CONTRACTS[table]
    columns = [c.name for c in contract.columns]
    order = ", ".join(contract.key) or ", ".join(columns)
    quoted = scenario.replace("'", "''")
    duck = con.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE scenario = '{quoted}' "
                       f"ORDER BY {order}").fetchall()
    folder = Path(out) / table
    spark = con.execute(
        f"SELECT {', '.join(columns)} FROM read_parquet('{parquet_glob(folder)}', "
        f"hive_partitioning = true, hive_types_autocast = false) WHERE scenario = '{quoted}' "
        f"ORDER BY {order}"
    ).fetchall() if has_rows(folder) else []
    if len(duck) != len(spark):
        return [f"{table}: DuckDB {len(duck)} 行，Spark {len(spark)} 行"]
    found = []
    numeric = {c.name: c.unit == "yuan" for c in contract.columns
               if c.type == "DOUBLE" or c.type.startswith("DECIMAL")}
    tied = TIED_RANKS.get(table)
    for duck_row, spark_row in zip(duck, spark, strict=True):
        for name, a, b in zip(columns, duck_row, spark_row, strict=True):
            same = _close(a, b, numeric[name]) if name in numeric else a == b
            if not same and tied and name == tied[0]:
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
