"""The warehouse's schema version: one number, stored in ``warehouse_meta`` as ``schema_version``.

A warehouse is stamped with :data:`SCHEMA_VERSION` when it is created (the first
``dip-sim ingest``) or fully rebuilt (``dip-sim rebuild``). Every command opening an existing
warehouse, and the dashboard, calls :func:`check`: a warehouse made by another version is
refused with one message saying to rebuild it. There is no upgrade in place: the warehouse is
derived from the input files, and ``dip-sim rebuild`` re-ingests the directories it recorded.

A warehouse without the ``load_batches`` table was not made by ``dip-sim ingest`` (an empty
file, or tables written by hand for a test) and is not checked.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from dip_sim.meta import get_meta, set_meta

# Raise by one whenever a stored table's columns change (an input, quality or output table,
# load_batches, runs, the supervision tables …): warehouses made before are then refused and
# rebuilt with ``dip-sim rebuild``, never altered in place.
SCHEMA_VERSION = 9

META_NAME = "schema_version"


class WarehouseVersionError(RuntimeError):
    """The warehouse was made by another schema version; ``str()`` is the one line to show."""

    def __init__(self, found: int, path: str = "") -> None:
        self.found = found
        where = path or "仓库文件"
        super().__init__(
            f"此仓库由数据结构版本 {found} 创建，本版 dip-sim 需要版本 {SCHEMA_VERSION}："
            f"请运行 dip-sim rebuild --db {where}（按记录的输入目录重新载入、质控并模拟）")


def stored_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The version the warehouse was stamped with; 0 for a dip-sim warehouse made before
    versions were recorded; None for one not made by ``dip-sim ingest`` (no ``load_batches``)."""
    value = get_meta(con, META_NAME)
    if value is not None:
        return int(value)
    made_by_ingest = con.execute("SELECT count(*) FROM information_schema.tables "
                                 "WHERE table_name = 'load_batches'").fetchall()[0][0]
    return 0 if made_by_ingest else None


def stamp(con: duckdb.DuckDBPyConnection) -> None:
    """Record :data:`SCHEMA_VERSION` as the warehouse's version (on creation or a full rebuild)."""
    set_meta(con, META_NAME, str(SCHEMA_VERSION))


def check(con: duckdb.DuckDBPyConnection, path: object = "") -> None:
    """Raise :class:`WarehouseVersionError` when the warehouse was made by another version.

    ``path`` names the warehouse file in the message (the command to run includes it).
    """
    found = stored_version(con)
    if found is not None and found != SCHEMA_VERSION:
        raise WarehouseVersionError(found, str(path))


def check_file(path: object) -> None:
    """:func:`check` the warehouse file at ``path``, if there is one (a missing file is left to
    the command: ingest creates it, the others say what to run first).

    Opened as the commands open it (for writing), so that a connection this process already
    holds on the file is shared rather than refused for a different configuration.
    """
    if not Path(str(path)).is_file():
        return
    with duckdb.connect(str(path)) as con:
        check(con, path)
