"""Pseudonymisation of patient identifiers with HMAC-SHA-256 (RFC 2104).

The key comes from configuration, never from committed data: ``$DIP_SIM_PSEUDONYM_KEY`` if
set, else the file ``data/secret/pseudonym.key`` (git-ignored). When neither exists a random
key is created in that file, so a demo runs out of the box; a bureau sets its own key once
and keeps it, because the same patient must hash to the same value in every load:
readmissions are linked across hospitals and years by the pseudonym.

A pseudonym is ``HMAC-SHA-256(key, UTF-8 identifier)``, its first 128 bits in hex (32
characters; RFC 2104 §5 allows keeping the leftmost bits, RFC 4231 §4.6 gives a 128-bit test
vector). It is computed inside the statement that loads the rows, so no identifier is stored
in clear, not even in a temp table, and the hashing is DuckDB's built-in ``sha256``, composed
as RFC 2104 §2 defines HMAC: ``H(K ⊕ opad ‖ H(K ⊕ ipad ‖ text))``. The key's two padded
blocks are derived once in Python with :mod:`hashlib` (:func:`hmac_pads`) and handed to the
connection as variables (:func:`set_pseudonym_key`); :func:`hmac_sha256_sql` is the HMAC of
any BLOB expression, :func:`pseudonym_sql` that of a text column. No hash function is
implemented here; the tests hold the SQL to RFC 4231's test vectors and to Python's
:mod:`hmac`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sys
from pathlib import Path

import duckdb

from dip_sim.paths import SECRET_DIR

KEY_ENV = "DIP_SIM_PSEUDONYM_KEY"
KEY_FILE = SECRET_DIR / "pseudonym.key"
# the method's name, stored with the key's fingerprint: a warehouse pseudonymised otherwise
# (another key or an older method) is refused rather than mixed
SCHEME = "hmac-sha256/128"
PSEUDONYM_HEX_CHARS = 32  # 128 bits of the 256-bit HMAC: no collision among billions of ids
_BLOCK = 64  # SHA-256 block size in bytes (RFC 2104 §2: B)


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


def hmac_pads(key: str | bytes) -> tuple[bytes, bytes]:
    """The HMAC-SHA-256 inner and outer padded keys of ``key`` (text as UTF-8), per RFC 2104 §2.

    A key longer than the block (64 bytes) is replaced by its SHA-256; the key is then padded
    with zeros to the block and XOR-ed with 0x36 (``K ⊕ ipad``) and with 0x5c (``K ⊕ opad``).
    """
    raw = key.encode("utf-8") if isinstance(key, str) else key
    if len(raw) > _BLOCK:
        raw = hashlib.sha256(raw).digest()
    raw = raw.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in raw), bytes(b ^ 0x5c for b in raw)


def set_pseudonym_key(con: duckdb.DuckDBPyConnection, key: str | bytes) -> None:
    """Give the connection what :func:`hmac_sha256_sql` reads: the key's two padded blocks."""
    ipad, opad = hmac_pads(key)
    con.execute("SET VARIABLE pseudonym_ipad = ?", [ipad])
    con.execute("SET VARIABLE pseudonym_opad = ?", [opad])


def hmac_sha256_sql(data: str) -> str:
    """SQL expression: HMAC-SHA-256 of the BLOB expression ``data`` as 64 hex characters.

    RFC 2104 §2, ``H(K ⊕ opad ‖ H(K ⊕ ipad ‖ data))``, with DuckDB's ``sha256`` as H and the
    padded keys :func:`set_pseudonym_key` put in the connection; NULL where ``data`` is NULL.
    """
    inner = f"unhex(sha256(getvariable('pseudonym_ipad') || {data}))"
    return f"sha256(getvariable('pseudonym_opad') || {inner})"


def pseudonym_sql(column: str) -> str:
    """SQL expression: the pseudonym of ``column`` (text, as UTF-8): its HMAC's first 32 hex chars.

    The same identifier gives the same pseudonym under the same key; without the key it can
    neither be read back nor recomputed from a list of candidate identifiers. NULL stays NULL.
    """
    return f"left({hmac_sha256_sql(f'encode({column})')}, {PSEUDONYM_HEX_CHARS})"


def pseudonym(key: str, identifier: str) -> str:
    """The pseudonym of one identifier, in Python: what :func:`pseudonym_sql` computes."""
    digest = hmac.new(key.encode("utf-8"), identifier.encode("utf-8"), hashlib.sha256)
    return digest.hexdigest()[:PSEUDONYM_HEX_CHARS]


def key_fingerprint(key: str) -> str:
    """What the warehouse stores to recognise its key: an HMAC under the key, not the key."""
    return hmac.new(key.encode("utf-8"), f"dip-sim key check|{SCHEME}".encode(),
                    hashlib.sha256).hexdigest()
