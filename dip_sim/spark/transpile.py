"""A model's DuckDB SQL as Spark SQL: one SQL text per rule, translated at run time.

The models' SQL (``dip_sim/<stage>/<model>.sql``) is written once, in DuckDB's dialect, and
turned into Spark SQL here with sqlglot:

- ``getvariable('<name>')`` (a run parameter or fact DuckDB holds as a variable) is replaced by
  the value's literal, typed as DuckDB types it (:data:`dip_sim.pipeline.params.SCALAR_TYPES`):
  the value is known when the run starts, and a literal is what Spark needs where a constant is
  required (``percentile_cont(x, 0.05)``); ``run_params`` and the ``param_*`` tables reach
  Spark as tables (:mod:`dip_sim.spark.engine`);
- ``*`` with ``EXCLUDE``/``REPLACE``, and the ``*`` of a ``UNION ALL BY NAME``, are expanded
  into the columns, from the schema of the tables already made (sqlglot's qualifier), and the
  second SELECT of a union by name is put in the first's column order (a column it lacks is
  NULL): Spark has neither form;
- DuckDB's ``quantile_cont(x, q)`` becomes Spark's exact ``percentile(x, q)`` (both
  interpolate linearly between the two nearest values; sqlglot would write a form Spark
  refuses);
- a cast of a DOUBLE to ``DECIMAL(p, s)`` is written out as DuckDB computes it
  (:func:`duckdb_decimal_cast`): the engines round it differently, and an exact sum of such
  casts (``sum(CAST(points AS DECIMAL(38, 10)))``) must come out the same on both, digit for
  digit, for the data tests that recompute it on the warehouse; so is a cast of a DOUBLE or
  a DECIMAL to an integer, which DuckDB rounds and Spark truncates
  (:func:`duckdb_integer_cast`);
- the rest is sqlglot's DuckDB → Spark translation (``x -> …`` lambdas, ``split``,
  ``array_*`` functions, ``QUALIFY`` as a filtered subquery, explicit ``NULLS LAST`` …).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.qualify import qualify


class TranspileError(ValueError):
    """A model's SQL could not be turned into Spark SQL; the message names the model."""


def literal(value: Any, duck_type: str | None = None) -> exp.Expression:
    """The SQL literal of a parameter value (a cast to ``duck_type`` where one is given, so
    that the literal has the type the DuckDB variable has)."""
    if value is None:
        node: exp.Expression = exp.null()
    elif isinstance(value, bool):
        node = exp.Boolean(this=value)
    elif isinstance(value, (int, float)):
        node = exp.Literal.number(repr(value) if isinstance(value, float) else value)
    elif isinstance(value, (list, tuple)):
        return exp.Array(expressions=[literal(v) for v in value])
    else:
        node = exp.Literal.string(str(value))
    if duck_type:
        return exp.Cast(this=node, to=exp.DataType.build(duck_type, dialect="duckdb"))
    return node


def _replace_variables(tree: exp.Expression, variables: Mapping[str, exp.Expression],
                       model: str) -> exp.Expression:
    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Anonymous) and node.name.lower() == "getvariable":
            name = node.expressions[0].name if node.expressions else ""
            if name not in variables:
                raise TranspileError(f"模型 {model} 读取的运行参数 {name!r} 不存在")
            return variables[name].copy()
        return node
    return tree.transform(swap)


def _exact_percentiles(tree: exp.Expression) -> exp.Expression:
    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.PercentileCont) and node.expression is not None:
            return exp.Anonymous(this="percentile", expressions=[node.this, node.expression])
        return node
    return tree.transform(swap)


def _positional_unions(tree: exp.Expression, model: str) -> exp.Expression:
    for union in list(tree.find_all(exp.Union)):
        if not union.args.get("by_name"):
            continue
        right = union.expression
        if not isinstance(right, exp.Select):
            raise TranspileError(f"模型 {model}：UNION BY NAME 的第二部分应为一个 SELECT")
        names = union.this.named_selects
        given = {e.alias_or_name: e for e in right.expressions}
        extra = set(given) - set(names)
        if extra:
            raise TranspileError(f"模型 {model}：UNION BY NAME 的第二部分有第一部分没有的列 "
                                 f"{sorted(extra)}")
        right.set("expressions", [given.get(n) or exp.alias_(exp.null(), n) for n in names])
        union.set("by_name", None)
    return tree


# 2**32: an integral DOUBLE is split into two parts below 2**53, each converted exactly
_WORD = 4294967296


def _operand(value: exp.Expression) -> exp.Expression:
    """A copy of a cast's operand, in parentheses, for one more place it is read."""
    return exp.Paren(this=value.copy())


def _typeof(value: exp.Expression) -> exp.Expression:
    """Spark's ``typeof(value)``: a constant once the query is planned."""
    return exp.Anonymous(this="typeof", expressions=[_operand(value)])


def _is_double(value: exp.Expression) -> exp.Expression:
    return exp.In(this=_typeof(value), expressions=[exp.Literal.string("double"),
                                                    exp.Literal.string("float")])


def duckdb_decimal_cast(value: exp.Expression, precision: int, scale: int) -> exp.Expression:
    """``CAST(value AS DECIMAL(precision, scale))`` in Spark SQL with DuckDB's result.

    DuckDB casts a DOUBLE ``x`` to the integer nearest ``x · 10^scale`` in binary floating
    point, a tie away from zero (``round``), over ``10^scale``. Spark rounds the shortest
    decimal that reads back as ``x``, half up: at a tie in the digit after ``scale`` the two
    disagree (1.66347592685 is 1.6634759269 on Spark, 1.6634759268 on DuckDB, whose double
    lies just below the tie), and beyond 2^53 they disagree in the last digits (a double of
    10^7 points at scale 10). So, for a DOUBLE (or FLOAT) operand, the product is rounded by
    Spark's ``round(·, 0)``, which equals C's ``round`` on every double (below 2^52 the shortest
    decimal lies on the same side of the half as the binary value; above, the double is whole);
    that whole number is cast exactly (as two 32-bit parts, each below 2^53, where Spark's
    conversion is exact) and its decimal point put in place by the decimal text ``N E-scale``.
    Another operand (DECIMAL, integer, text) is cast as it is: Spark and DuckDB agree there.
    Whether it is a DOUBLE is asked of Spark (``typeof``): the SQL text does not say.
    """
    double = exp.DataType.build("DOUBLE")
    power = exp.Cast(this=exp.Literal.number(10 ** scale), to=double)
    word = exp.Cast(this=exp.Literal.number(_WORD), to=double)

    def whole() -> exp.Expression:  # round(x · 10^scale, 0): a whole DOUBLE
        return exp.Round(this=exp.Mul(this=_operand(value), expression=power.copy()),
                         decimals=exp.Literal.number(0))

    def high() -> exp.Expression:  # the whole number's part above 2^32 (floor: a BIGINT)
        return exp.Floor(this=exp.Div(this=whole(), expression=word.copy()))
    low = exp.Sub(this=whole(), expression=exp.Mul(this=high(), expression=word.copy()))
    integer = exp.DataType.build("DECIMAL(38, 0)")
    number = exp.Add(this=exp.Mul(this=exp.Cast(this=high(), to=integer),
                                  expression=exp.Literal.number(_WORD)),
                     expression=exp.Cast(this=exp.Paren(this=low), to=integer.copy()))
    text = exp.Concat(expressions=[exp.Cast(this=exp.Paren(this=number),
                                            to=exp.DataType.build("STRING")),
                                   exp.Literal.string(f"E-{scale}")])
    target = exp.DataType.build(f"DECIMAL({precision}, {scale})")
    return exp.Case(ifs=[exp.If(this=_is_double(value), true=exp.Cast(this=text, to=target))],
                    default=exp.Cast(this=_operand(value), to=target.copy()))


def duckdb_integer_cast(value: exp.Expression, to: exp.DataType) -> exp.Expression:
    """``CAST(value AS <integer type>)`` in Spark SQL with DuckDB's result: DuckDB rounds a
    DOUBLE half to even (2.5 → 2, 3.5 → 4), as Spark's ``rint`` does, and a DECIMAL half away
    from zero (2.5 → 3), as Spark does a decimal text cast to ``DECIMAL(38, 0)``; Spark's own
    cast truncates both (2.7 → 2). Every branch is cast to ``to``, so the result's type is the
    cast's, and each passes Spark's analysis whatever the operand's type (a BOOLEAN's cast
    reaches the first two as well).

    ``round(x, n)`` of a DOUBLE is not translated: DuckDB's and Spark's differ at a half
    (0.285, 2.675), and a branch by type would make the result a DOUBLE for a DECIMAL ``x``
    too. The models round decimals (``round(CAST(x AS DECIMAL(18, 6)), 1)``), which both
    engines round alike.
    """
    whole = exp.Anonymous(this="rint", expressions=[
        exp.Cast(this=_operand(value), to=exp.DataType.build("DOUBLE"))])
    rounded = exp.Cast(this=exp.Cast(this=_operand(value), to=exp.DataType.build("STRING")),
                       to=exp.DataType.build("DECIMAL(38, 0)"))
    is_decimal = exp.Like(this=_typeof(value), expression=exp.Literal.string("decimal%"))
    return exp.Case(ifs=[exp.If(this=_is_double(value), true=exp.Cast(this=whole, to=to.copy())),
                         exp.If(this=is_decimal, true=exp.Cast(this=rounded, to=to.copy()))],
                    default=exp.Cast(this=_operand(value), to=to.copy()))


def _duckdb_casts(tree: exp.Expression) -> exp.Expression:
    """Each cast of the model's SQL to a DECIMAL or an integer type, as DuckDB computes it
    (:func:`duckdb_decimal_cast`, :func:`duckdb_integer_cast`)."""
    # innermost first (deepest in the breadth-first order), so that a cast inside another's
    # operand is rewritten before that operand is copied into the rewritten outer cast; the
    # casts the rewriting writes are not in the list
    for cast in reversed(list(tree.find_all(exp.Cast))):
        if cast.to.is_type("decimal") and len(cast.to.expressions) == 2:
            precision, scale = (int(p.this.this) for p in cast.to.expressions)
            replacement = duckdb_decimal_cast(cast.this, precision, scale)
        elif cast.to.is_type(*exp.DataType.INTEGER_TYPES):
            replacement = duckdb_integer_cast(cast.this, cast.to)
        else:
            continue
        if cast is tree:
            return replacement
        cast.replace(replacement)
    return tree


def _needs_schema(tree: exp.Expression) -> bool:
    stars = any(s.args.get("except_") or s.args.get("except") or s.args.get("replace")
                for s in tree.find_all(exp.Star))
    return stars or any(u.args.get("by_name") for u in tree.find_all(exp.Union))


def needs_schema(sql: str) -> bool:
    """Whether translating ``sql`` needs the columns of the tables it reads (a ``*`` with
    ``EXCLUDE``/``REPLACE`` or a union by name)."""
    return _needs_schema(sqlglot.parse_one(sql, read="duckdb"))


def spark_sql(sql: str, model: str, variables: Mapping[str, exp.Expression],
              schema: Mapping[str, Mapping[str, str]]) -> str:
    """The Spark SQL of a model's DuckDB SELECT.

    ``variables``: each ``getvariable`` name → its literal (:func:`literal`); ``schema``: the
    columns (name → DuckDB type) of the tables in place, to expand ``* EXCLUDE/REPLACE``.
    """
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
        tree = _exact_percentiles(_replace_variables(tree, variables, model))
        if _needs_schema(tree):
            tree = qualify(tree, schema=dict(schema), dialect="duckdb", expand_stars=True,
                           validate_qualify_columns=False, quote_identifiers=False,
                           identify=False)
            tree = _positional_unions(tree, model)
        tree = _duckdb_casts(tree)
        return tree.sql(dialect="spark", unsupported_level=sqlglot.ErrorLevel.RAISE)
    except TranspileError:
        raise
    except sqlglot.errors.SqlglotError as exc:
        raise TranspileError(f"模型 {model} 的 SQL 无法转换为 Spark SQL：{exc}") from exc
