"""API keys of the 预分组 API, one or more per hospital, stored hashed.

A key is a random token (``secrets.token_urlsafe``, 256 bits) shown once when it is made; the
file keeps only its SHA-256 (a high-entropy token needs no salt or slow hash), its prefix (to
tell keys apart in a listing), the hospital, when it was made and whether it was revoked. The
file is ``$DIP_SIM_API_KEYS`` or ``data/secret/api_keys.json`` (git-ignored).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from dip_sim.paths import SECRET_DIR

KEYS_ENV = "DIP_SIM_API_KEYS"
KEYS_FILE = SECRET_DIR / "api_keys.json"
PREFIX_CHARS = 8


class ApiKeyError(ValueError):
    """A key operation that cannot be done (message in Chinese)."""


@dataclass(frozen=True)
class ApiKey:
    """A stored key: its id (the token's prefix), hospital, creation and revocation."""

    key_id: str
    hospital_id: str
    created_at: str
    revoked_at: str | None


def keys_path() -> Path:
    """The keys file: ``$DIP_SIM_API_KEYS`` if set, else ``data/secret/api_keys.json``."""
    env = os.environ.get(KEYS_ENV, "").strip()
    return Path(env) if env else KEYS_FILE


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _load(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ApiKeyError(f"密钥文件 {path} 无法读取：{exc}") from None


def _save(entries: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(entries, ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)  # whole or not at all


def add_key(hospital_id: str, path: Path | None = None) -> tuple[str, ApiKey]:
    """Make a key for ``hospital_id``: (the token, shown only now; its stored entry)."""
    path = path or keys_path()
    if not hospital_id.strip():
        raise ApiKeyError("请用 --hospital 指定密钥所属的医院编码")
    entries = _load(path)
    token = secrets.token_urlsafe(32)
    while token.startswith("-"):  # its prefix is the key's id, typed after revoke-key
        token = secrets.token_urlsafe(32)
    entry = {"key_id": token[:PREFIX_CHARS], "sha256": _digest(token),
             "hospital_id": hospital_id.strip(),
             "created_at": dt.datetime.now().isoformat(timespec="seconds"), "revoked_at": None}
    entries.append(entry)
    _save(entries, path)
    return token, _entry(entry)


def _entry(e: dict) -> ApiKey:
    return ApiKey(e["key_id"], e["hospital_id"], e["created_at"], e.get("revoked_at"))


def list_keys(path: Path | None = None) -> list[ApiKey]:
    """Every stored key (never the token: only its id)."""
    return [_entry(e) for e in _load(path or keys_path())]


def revoke_key(key_id: str, path: Path | None = None) -> ApiKey:
    """Revoke the key whose id is ``key_id``; it is refused from then on."""
    path = path or keys_path()
    entries = _load(path)
    found = [e for e in entries if e["key_id"] == key_id]
    if len(found) != 1:
        raise ApiKeyError(f"没有编号为 {key_id} 的密钥" if not found
                        else f"编号 {key_id} 对应多个密钥，请用更长的前缀")
    found[0]["revoked_at"] = dt.datetime.now().isoformat(timespec="seconds")
    _save(entries, path)
    return _entry(found[0])


def check_key(token: str, path: Path | None = None) -> ApiKey | None:
    """The live key ``token`` is, or None (unknown or revoked); compared in constant time."""
    digest = _digest(token)
    match = None
    for e in _load(path or keys_path()):
        if hmac.compare_digest(e["sha256"], digest) and not e.get("revoked_at"):
            match = _entry(e)
    return match
