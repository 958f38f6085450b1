"""Pseudonymisation of patient identifiers with HMAC-SHA256 (RFC 2104).

The key comes from configuration, never from committed data: ``$DIP_SIM_PSEUDONYM_KEY`` if
set, else the file ``data/secret/pseudonym.key`` (git-ignored). When neither exists a random
key is created in that file, so a demo runs out of the box; a bureau sets its own key once
and keeps it, because the same patient must hash to the same value in every load (issue 3
§2: readmissions are linked across hospitals and years by the pseudonym).

The HMAC is computed inside the statement that loads the rows, so no identifier is stored
in clear, not even in a temp table. :func:`set_pseudonym_key` derives the key's inner and
outer pads once and gives the connection the function ``dip_pseudonym``: the compiled
``dip_sim._hmac`` (built on install from ``dip_sim/native/hmac_sha256.c``), which hashes the
pads once per chunk and each identifier in two SHA-256 blocks, on the CPU's SHA instructions
where there are any. Where it could not be built, :func:`pseudonym_sql` is the HMAC written in
DuckDB's SQL, ``H(opad ‖ H(ipad ‖ id))``: the same values, about 1 s slower per 2.5 million
rows. The tests hold both equal to Python's :mod:`hmac`.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import sys
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dip_sim.paths import SECRET_DIR

try:
    from dip_sim import _hmac as native
except ImportError:  # not compiled here: the SQL form is used (same values, slower)
    native = None

KEY_ENV = "DIP_SIM_PSEUDONYM_KEY"
KEY_FILE = SECRET_DIR / "pseudonym.key"
# the method's name, stored with the key's fingerprint: a warehouse pseudonymised otherwise
# (another key or an older method) is refused rather than mixed
SCHEME = "hmac-sha256/128"
PSEUDONYM_HEX_CHARS = 32  # 128 bits of the 256-bit HMAC: no collision among billions of ids
_BLOCK = 64  # SHA-256 block size in bytes (RFC 2104: B)


def pseudonym_key(key_file: Path = KEY_FILE) -> str:
    """Return the pseudonymisation key, creating a random one in ``key_file`` if none is set."""
    key = os.environ.get(KEY_ENV, "").strip()
    if key:
        return key
    if key_file.exists():
        key = key_file.read_text(encoding="utf-8").strip()
        if key:
            return key
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    key_file.write_text(key + "\n", encoding="utf-8")
    key_file.chmod(0o600)
    print(f"已生成假名化密钥 {key_file}（请妥善保存；也可用环境变量 {KEY_ENV} 指定）",
          file=sys.stderr)
    return key


def hmac_pads(key: str) -> tuple[bytes, bytes]:
    """The HMAC-SHA256 inner and outer pads of ``key`` (RFC 2104 §2).

    A key longer than the block is hashed first; the key is padded with zeros to the block
    and XOR-ed with 0x36 (inner) and 0x5c (outer).
    """
    raw = key.encode("utf-8")
    if len(raw) > _BLOCK:
        raw = hashlib.sha256(raw).digest()
    raw = raw.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in raw), bytes(b ^ 0x5c for b in raw)


def _native_function(ipad: bytes, opad: bytes):
    """The Arrow function DuckDB calls with a chunk of identifiers: their pseudonyms."""
    def pseudonyms(ids: pa.Array) -> pa.Array:
        if isinstance(ids, pa.ChunkedArray):
            ids = ids.combine_chunks()
        if ids.type not in (pa.string(), pa.large_string()):
            ids = ids.cast(pa.large_string())
        wide = ids.type == pa.large_string()
        width = 8 if wide else 4
        _, offsets, data = ids.buffers()
        n = len(ids)
        offsets = memoryview(offsets)[ids.offset * width:(ids.offset + n + 1) * width]
        hexes = native.hmac_sha256_hex(b"" if data is None else data, offsets, wide, ipad, opad,
                                       PSEUDONYM_HEX_CHARS)
        out = pa.Array.from_buffers(pa.string(), n, [
            None, pa.py_buffer(np.arange(0, (n + 1) * PSEUDONYM_HEX_CHARS, PSEUDONYM_HEX_CHARS,
                                         dtype=np.int32)),
            pa.py_buffer(hexes)])
        return pc.if_else(ids.is_null(), pa.scalar(None, pa.string()), out) if ids.null_count \
            else out
    return pseudonyms


def set_pseudonym_key(con: duckdb.DuckDBPyConnection, key: str) -> None:
    """Give the connection what :func:`pseudonym_sql` reads: the key's pads, the native function."""
    ipad, opad = hmac_pads(key)
    con.execute("SET VARIABLE pseudonym_ipad = ?", [ipad])
    con.execute("SET VARIABLE pseudonym_opad = ?", [opad])
    if native is not None:
        with contextlib.suppress(duckdb.InvalidInputException):  # not registered yet
            con.remove_function("dip_pseudonym")
        con.create_function("dip_pseudonym", _native_function(ipad, opad), ["VARCHAR"],
                            "VARCHAR", type="arrow", side_effects=False)


def pseudonym_sql(column: str, use_native: bool | None = None) -> str:
    """SQL expression: HMAC-SHA256 of ``column`` (text, UTF-8) as 32 hex characters.

    The same identifier gives the same pseudonym under the same key; without the key it can
    neither be read back nor recomputed from a list of candidate identifiers. ``use_native``
    (default: when compiled) calls ``dip_pseudonym``, else the HMAC is written in SQL.
    """
    if use_native is None:
        use_native = native is not None
    if use_native:
        return f"dip_pseudonym({column})"
    inner = f"unhex(sha256(getvariable('pseudonym_ipad') || encode({column})))"
    return (f"CASE WHEN {column} IS NULL THEN NULL ELSE "
            f"substr(sha256(getvariable('pseudonym_opad') || {inner}), 1, "
            f"{PSEUDONYM_HEX_CHARS}) END")


def pseudonym(key: str, identifier: str) -> str:
    """The pseudonym of one identifier, in Python: what :func:`pseudonym_sql` computes."""
    digest = hmac.new(key.encode("utf-8"), identifier.encode("utf-8"), hashlib.sha256)
    return digest.hexdigest()[:PSEUDONYM_HEX_CHARS]


def key_fingerprint(key: str) -> str:
    """What the warehouse stores to recognise its key: an HMAC under the key, not the key."""
    return hmac.new(key.encode("utf-8"), f"dip-sim key check|{SCHEME}".encode(),
                    hashlib.sha256).hexdigest()
