"""Opening the warehouse file for a batch run, and interrupting the runs open on it."""

from __future__ import annotations

import contextlib
import os
import weakref
from pathlib import Path

import duckdb

# DuckDB's memory cap for batch runs; beyond it DuckDB spills to disk instead of growing. The
# process holds more than DuckDB's buffers (what DuckDB keeps outside them, Python): at 40M
# discharges a cap of 4GB let stages reach 4.2-4.3 GiB, 3.5GB keeps each within 3.9 GiB, for
# a 4 GB machine budget (make bench)
MEMORY_LIMIT = os.environ.get("DIP_SIM_MEMORY_LIMIT", "3.5GB")

# every connection connect() made that is still referenced (id → weak reference): what a
# Ctrl-C interrupts. A dict rather than a WeakSet: copying its values is one step under the
# GIL, so the signal handler can list them while another thread connects
_OPENED: dict[int, weakref.ref] = {}


def connect(db_path: Path) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the warehouse for writing, with a memory cap."""
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(db_path))
    con.execute("SET memory_limit = ?", [MEMORY_LIMIT])
    # DuckDB's worker threads (default: one per core). One thread adds every float sum in the
    # same order run after run: a result reproducible to the last digit, at the cost of speed
    if threads := os.environ.get("DIP_SIM_THREADS"):
        con.execute("SET threads = ?", [int(threads)])
    key = id(con)
    _OPENED[key] = weakref.ref(con, lambda _ref: _OPENED.pop(key, None))
    return con


def interrupt_connections() -> None:
    """Stop the statement running on every connection :func:`connect` opened (from any thread).

    The statement fails with ``duckdb.InterruptException`` in the thread running it; an idle
    or closed connection is left as it is.
    """
    for ref in list(_OPENED.values()):
        con = ref()
        if con is not None:
            with contextlib.suppress(duckdb.Error):  # closed since
                con.interrupt()
