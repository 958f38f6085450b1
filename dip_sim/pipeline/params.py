"""The run's parameters as tables, generated from the parameter registry (``data/policy/``).

SQL reads a parameter by its own dotted name, never through a hand-kept list:

- ``run_params``: one row, one STRUCT column per YAML file, one field per scalar parameter, so
  a model reads ``p.point_value.mode`` after ``CROSS JOIN run_params p``; the column ``run``
  holds the facts of the run (``p.run.scenario``, ``p.run.sim_year``,
  ``p.run.catalog_version``);
- every scalar parameter, and every fact of the run, is also a DuckDB variable of the same name,
  for the places SQL needs a constant: ``quantile_cont(x, getvariable('point_value.trim_low'))``,
  or a filter DuckDB can use to skip row groups (``year = getvariable('run.sim_year')``);
- a list-typed parameter is a table ``param_<file>_<key>`` (:func:`list_table`), e.g.
  ``param_catalog_history_weights (position, value)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb

from dip_sim.policy.parameters import Parameter

# parameter type → DuckDB type of its value
SCALAR_TYPES: dict[str, str] = {
    "int": "INTEGER", "float": "DOUBLE", "float_or_null": "DOUBLE", "bool": "BOOLEAN",
    "enum": "VARCHAR", "file_or_null": "VARCHAR", "text": "VARCHAR",
}
# list-typed parameter → the columns of its table (after ``position``, where it has one)
LIST_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "weights": (("position", "INTEGER"), ("value", "DOUBLE")),
    "int_list": (("position", "INTEGER"), ("value", "INTEGER")),
    "enum_list": (("position", "INTEGER"), ("value", "VARCHAR")),
    "bands": (("position", "INTEGER"), ("lower_bound", "DOUBLE"), ("value", "DOUBLE")),
    "level_map": (("key", "INTEGER"), ("value", "DOUBLE")),
}
# the facts of a run, beside the parameters: field → DuckDB type
RUN_FIELDS: dict[str, str] = {"scenario": "VARCHAR", "sim_year": "INTEGER",
                              "catalog_version": "VARCHAR", "history_years": "INTEGER[]"}


def list_table(name: str) -> str:
    """The table holding list-typed parameter ``name`` (``catalog.history_weights`` →
    ``param_catalog_history_weights``)."""
    return "param_" + name.replace(".", "_")


def is_list(param: Parameter) -> bool:
    """Whether the parameter's value is a list or a map (a table rather than a field)."""
    return param.type in LIST_COLUMNS


def _rows(param: Parameter, value: Any) -> list[list[Any]]:
    if param.type == "level_map":
        return sorted([int(k), v] for k, v in value.items())
    if param.type == "bands":
        return [[i, b[0], b[1]] for i, b in enumerate(value, start=1)]
    return [[i, v] for i, v in enumerate(value, start=1)]


def set_run_params(con: duckdb.DuckDBPyConnection, params: Mapping[str, Parameter],
                   values: Mapping[str, Any], run: Mapping[str, Any]) -> None:
    """Write ``run_params``, the parameter variables and the list tables for one run.

    ``values``: every parameter's value for this run (dotted name → value); ``run``: the
    :data:`RUN_FIELDS`.
    """
    sections: dict[str, list[tuple[str, Parameter]]] = {}
    for name, param in params.items():
        if not is_list(param):
            section, key = name.split(".", 1)
            sections.setdefault(section, []).append((key, param))
    columns, args = [], []
    fields = ", ".join(f"'{k}': ?::{t}" for k, t in RUN_FIELDS.items())
    columns.append(f"{{{fields}}} AS run")
    args += [run[k] for k in RUN_FIELDS]
    for section, entries in sorted(sections.items()):
        fields = ", ".join(f"'{key}': ?::{SCALAR_TYPES[p.type]}" for key, p in entries)
        columns.append(f'{{{fields}}} AS "{section}"')
        args += [values[p.name] for _, p in entries]
    con.execute(f"CREATE OR REPLACE TEMP TABLE run_params AS SELECT {', '.join(columns)}", args)
    for name, param in params.items():
        if is_list(param):
            table = list_table(name)
            spec = ", ".join(f"{c} {t}" for c, t in LIST_COLUMNS[param.type])
            con.execute(f"CREATE OR REPLACE TEMP TABLE {table} ({spec})")
            rows = _rows(param, values[name])
            if rows:
                marks = ", ".join("?" for _ in LIST_COLUMNS[param.type])
                con.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        else:
            con.execute(f'SET VARIABLE "{name}" = ?::{SCALAR_TYPES[param.type]}', [values[name]])
    for key, kind in RUN_FIELDS.items():  # the run's facts too: run.sim_year …
        con.execute(f'SET VARIABLE "run.{key}" = ?::{kind}', [run[key]])


def run_facts(scenario: str, year: int, history: Sequence[int], catalog_version: str = ""
              ) -> dict[str, Any]:
    """The :data:`RUN_FIELDS` of a run."""
    return {"scenario": scenario, "sim_year": year, "catalog_version": catalog_version,
            "history_years": sorted(history)}
