"""Pseudonymisation of patient identifiers with a keyed hash.

The key comes from configuration, never from committed data: ``$DIP_SIM_PSEUDONYM_KEY`` if
set, else the file ``data/secret/pseudonym.key`` (git-ignored). When neither exists a random
key is created in that file, so a demo runs out of the box; a bureau sets its own key once
and keeps it, because the same patient must hash to the same value in every load.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from dip_sim.paths import SECRET_DIR

KEY_ENV = "DIP_SIM_PSEUDONYM_KEY"
KEY_FILE = SECRET_DIR / "pseudonym.key"


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


def pseudonym_sql(column: str) -> str:
    """SQL expression hashing ``column`` with the key in the variable ``pseudonym_key``.

    SHA-256 over key, a separator and the identifier, truncated to 32 hex characters: the
    same identifier gives the same pseudonym under the same key, and cannot be read back.
    """
    return (f"CASE WHEN {column} IS NULL THEN NULL "
            f"ELSE substr(sha256(getvariable('pseudonym_key') || '|' || {column}), 1, 32) END")
