"""Named facts about the warehouse itself, in table ``warehouse_meta`` (name → value).

- ``pseudonym_key_check``: fingerprint (an HMAC under the key, naming the method) of the key
  patient identifiers were pseudonymised with; ``pseudonym_key_sha256`` marks a warehouse of
  the earlier keyed-hash method, which is refused.
- ``loaded_batch_id``: the last ingest batch committed.
- ``quality_batch_id``: the batch the quality tables were last built after. When it differs
  from ``loaded_batch_id``, ``case_features`` / ``case_status`` do not reflect the latest load
  and the simulation refuses to run on them.
- ``schema_version``: the version of the stored tables' columns the warehouse was made with
  (:mod:`dip_sim.warehouse_version`); another version is refused until ``dip-sim rebuild``.
- ``ingest_sources``: JSON list of the directories loaded, in order, each with its batch and
  its options (mapping files, sheets, allow_unmapped): what ``dip-sim rebuild`` loads again.
"""

from __future__ import annotations

import duckdb

META_DDL = "CREATE TABLE IF NOT EXISTS warehouse_meta (name VARCHAR, value VARCHAR)"


def get_meta(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    """The value stored under ``name`` (None if absent or the table does not exist)."""
    exists = con.execute("SELECT count(*) FROM information_schema.tables "
                         "WHERE table_name = 'warehouse_meta'").fetchall()[0][0]
    if not exists:
        return None
    rows = con.execute("SELECT value FROM warehouse_meta WHERE name = ?", [name]).fetchall()
    return rows[0][0] if rows else None


def set_meta(con: duckdb.DuckDBPyConnection, name: str, value: str | None) -> None:
    """Store ``value`` under ``name``, replacing an earlier value."""
    con.execute(META_DDL)
    con.execute("DELETE FROM warehouse_meta WHERE name = ?", [name])
    con.execute("INSERT INTO warehouse_meta VALUES (?, ?)", [name, value])
