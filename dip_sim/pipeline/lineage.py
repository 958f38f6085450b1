"""Checking the manifest against the code: what each SQL file really reads, and which
parameters the models really read.

The SQL is parsed with sqlglot (DuckDB dialect): the tables a model's SELECT reads are those
it names, less its own CTEs. A parameter is read as ``p.<file>.<key>`` (``run_params p``),
as ``getvariable('<file>.<key>')`` or through its list table (``param_<file>_<key>``); a
Python model names it as a string (``run.values["budget.method"]``). Each check returns its
problems as sentences, empty when the manifest and the code agree.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping

import sqlglot
from sqlglot import exp

from dip_sim.access import SECTION as ACCESS_SECTION
from dip_sim.pipeline.graph import Graph, Model, is_parameter_table
from dip_sim.pipeline.params import is_list, list_table
from dip_sim.policy.parameters import Parameter

_STRUCT_READ = re.compile(r"\bp\.([a-z_]+\.[a-z_]+)\b")
_VARIABLE_READ = re.compile(r"getvariable\('([a-z_]+\.[a-z_]+)'\)")
_STRING = re.compile(r"""["']([a-z_]+\.[a-z_]+)["']""")


def sql_reads(text: str) -> set[str]:
    """The tables and views a SELECT reads (its CTEs left out)."""
    tree = sqlglot.parse_one(text, read="duckdb")
    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    return {t.name for t in tree.find_all(exp.Table) if t.name and t.name not in ctes}


def sql_parameters(text: str, params: Mapping[str, Parameter]) -> set[str]:
    """The parameters a SELECT reads (the run's facts, ``p.run.*``, left out)."""
    found = set(_STRUCT_READ.findall(text)) | set(_VARIABLE_READ.findall(text))
    tables = {list_table(name): name for name, p in params.items() if is_list(p)}
    found |= {tables[t] for t in sql_reads(text) if t in tables}
    return {name for name in found if not name.startswith("run.")}


def python_parameters(model: Model) -> set[str]:
    """The dotted names the Python model's function quotes."""
    return set(_STRING.findall(inspect.getsource(model.function())))


def lineage_problems(graph: Graph, text_of: Callable[[Model], str] | None = None) -> list[str]:
    """Each SQL model whose file reads other tables than the manifest declares."""
    problems = []
    for model in graph.models:
        if not model.sql:
            continue
        text = text_of(model) if text_of else model.sql_text()
        found, declared = sql_reads(text), set(model.reads)
        for table in sorted(found - declared):
            problems.append(f"{model.sql} 读取 {table}，清单 manifest.yaml 未声明")
        for table in sorted(declared - found):
            problems.append(f"manifest.yaml 声明 {model.name} 读取 {table}，{model.sql} 并未读取")
    return problems


def parameter_problems(graph: Graph, params: Mapping[str, Parameter],
                       text_of: Callable[[Model], str] | None = None) -> list[str]:
    """Parameters declared but not read (or read but not declared), parameters that do not
    exist, and parameters of data/policy/ that no model reads."""
    problems, read = [], set()
    for model in graph.models:
        declared = set(model.params)
        if model.sql:
            found = sql_parameters(text_of(model) if text_of else model.sql_text(), params)
        else:
            found = {n for n in python_parameters(model) if n in params or n in declared}
        for name in sorted(found - declared):
            problems.append(f"模型 {model.name} 读取参数 {name}，清单未声明")
        for name in sorted(declared - found):
            problems.append(f"清单声明模型 {model.name} 读取参数 {name}，其代码并未读取")
        for name in sorted((found | declared | model.skip_params()) - set(params)):
            problems.append(f"模型 {model.name} 读取的参数 {name} 不存在（data/policy/ 中没有）")
        for table in model.reads:
            if is_parameter_table(table) and table != "run_params" and table not in {
                    list_table(n) for n, p in params.items() if is_list(p)}:
                problems.append(f"模型 {model.name} 读取的参数表 {table} 不对应任何参数")
        read |= found | declared | model.skip_params()
    served = {n for n in params if n.startswith(f"{ACCESS_SECTION}.")}  # read while serving
    for name in sorted(set(params) - read - served):
        problems.append(f"参数 {name} 没有任何模型读取")
    return problems
