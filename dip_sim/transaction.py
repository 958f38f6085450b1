"""One transaction on a warehouse connection: every write of a step lands, or none does.

DuckDB has no nested transactions (a ``BEGIN`` inside an open one fails), so a
:func:`transaction` opened inside another on the same connection joins the outer one: a step
that is atomic on its own (one scenario's results) becomes part of its caller's larger unit
(every scenario of one ``dip-sim simulate``). Temp tables are transactional too; only
writes to the warehouse file matter to the user, and none of them survives a rollback, a
closed connection or a killed process unless committed.

Once the user has interrupted the command (:func:`refuse_commits`), :func:`commit` rolls back
instead: an interrupt that comes while the command is busy in Python, between statements,
still keeps its work out of the warehouse.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterator

import duckdb

# connections with a transaction opened by transaction(): a nested use joins it
_OPEN: weakref.WeakSet[duckdb.DuckDBPyConnection] = weakref.WeakSet()

# attempts at ROLLBACK when an interrupt stops the statement before it runs
_ROLLBACK_ATTEMPTS = 3

# set when the user interrupted the command: no transaction commits from then on
_REFUSING = threading.Event()


class CommitRefused(RuntimeError):
    """A commit asked for after the command was interrupted; the transaction is rolled back."""


def refuse_commits(refuse: bool = True) -> None:
    """Make every later :func:`commit` fail (the command was interrupted), or allow them again."""
    if refuse:
        _REFUSING.set()
    else:
        _REFUSING.clear()


def commit(con: duckdb.DuckDBPyConnection) -> None:
    """COMMIT ``con``'s transaction; raise :class:`CommitRefused` instead once commits are refused.

    The caller rolls back on the error, as on any other.
    """
    if _REFUSING.is_set():
        raise CommitRefused("命令已被中断，不提交")
    con.execute("COMMIT")


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Run the block in one transaction on ``con``: committed if it ends normally, else rolled back.

    Inside another ``transaction`` on the same connection the block joins that one: the
    outer block commits or rolls back both.
    """
    if con in _OPEN:
        yield
        return
    con.execute("BEGIN TRANSACTION")
    _OPEN.add(con)
    try:
        yield
        commit(con)
    except BaseException:
        rollback(con)
        raise
    finally:
        _OPEN.discard(con)


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    """End ``con``'s open transaction without keeping anything, never masking the caller's error.

    A Ctrl-C (``con.interrupt()``) may stop the ROLLBACK statement itself before it runs,
    leaving the transaction open: it is tried again. A transaction a failed COMMIT already
    ended needs nothing. If it still cannot be done, closing the connection discards it.
    """
    for _ in range(_ROLLBACK_ATTEMPTS):
        try:
            con.execute("ROLLBACK")
            return
        except duckdb.InterruptException:
            continue
        except duckdb.Error:
            return  # no transaction is open any more
