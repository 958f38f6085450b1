"""Conditions over parameters, written as short Python expressions and evaluated safely.

The stage manifest's ``skip_when`` and the cross-parameter rules (:mod:`dip_sim.policy.rules`)
are such conditions, e.g. ``point_value.budget_refinement == 'none'`` or
``budget.method == 'fixed' and budget.fixed_fund_yuan == None``. A dotted name is a
parameter (``section.key``) or a fact of the run (``run.n_history_years``,
``run.adjustments.split``: how many of the panel's adjustments have that action). Only
comparisons, ``and``/``or``/``not``, constants, ``len()`` and ``in`` over a literal tuple are
allowed: a condition is data, not code.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from dip_sim.policy.parameters import PolicyError

_COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
            ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
            ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
            ast.Is: operator.is_, ast.IsNot: operator.is_not}


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head else None
    return None


@lru_cache(maxsize=512)
def parse(text: str) -> ast.Expression:
    """The expression's tree, refused (naming the text) when it uses anything not allowed."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise PolicyError(f"条件 {text!r} 无法解析: {exc.msg}") from None
    for node in ast.walk(tree):
        allowed = (ast.Expression, ast.Compare, ast.BoolOp, ast.UnaryOp, ast.Constant, ast.Name,
                   ast.Attribute, ast.Load, ast.And, ast.Or, ast.Not, ast.Tuple, ast.Call,
                   *_COMPARE)
        if not isinstance(node, allowed):
            raise PolicyError(f"条件 {text!r} 含不允许的写法 {type(node).__name__}")
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name)
                                               and node.func.id == "len"):
            raise PolicyError(f"条件 {text!r} 只能调用 len()")
    return tree


def names(text: str) -> set[str]:
    """The dotted names an expression reads (parameters and run facts)."""
    found = set()
    for node in ast.walk(parse(text)):
        if isinstance(node, ast.Attribute | ast.Name):
            name = _dotted(node)
            if name and "." in name:
                found.add(name)
    # an attribute chain yields its prefixes too ('run.adjustments' of 'run.adjustments.split')
    return {n for n in found if not any(o != n and o.startswith(n + ".") for o in found)}


def evaluate(text: str, values: Mapping[str, Any]) -> Any:
    """The expression's value, dotted names read from ``values`` (unknown → refused)."""

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Tuple):
            return tuple(ev(e) for e in node.elts)
        if isinstance(node, ast.Attribute | ast.Name):
            name = _dotted(node)
            if name not in values:
                raise PolicyError(f"条件 {text!r} 中的 {name} 不是参数或运行信息")
            return values[name]
        if isinstance(node, ast.UnaryOp):
            return not ev(node.operand)
        if isinstance(node, ast.BoolOp):
            if isinstance(node.op, ast.And):
                return all(ev(v) for v in node.values)
            return any(ev(v) for v in node.values)
        if isinstance(node, ast.Call):
            return len(ev(node.args[0]))
        if isinstance(node, ast.Compare):
            left = ev(node.left)
            for op, right_node in zip(node.ops, node.comparators, strict=True):
                right = ev(right_node)
                if not _COMPARE[type(op)](left, right):
                    return False
                left = right
            return True
        raise PolicyError(f"条件 {text!r} 含不允许的写法")

    return ev(parse(text))
