"""Dashboard users and roles (docs/dashboard.md): a local users file with salted password hashes.

The file is ``$DIP_SIM_USERS`` or ``data/secret/users.json`` (git-ignored), one entry per
user: role, hospital (for a hospital user) and the password's scrypt hash (RFC 7914, Python's
``hashlib.scrypt``: a random 16-byte salt per password, n = 2^14, r = 8, p = 1), never the
password. ``dip-sim users add NAME --role bureau|expert|hospital [--hospital H001]`` manages
it; ``make run`` creates demo accounts when there is none.

Roles: ``bureau`` sees everything; ``expert`` the catalogue, data quality and all hospitals'
aggregates; ``hospital`` its own hospital's rows and region-wide aggregates only (the data
layer filters every per-hospital query to it: ``dip_sim.dashboard.data``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from dip_sim.paths import SECRET_DIR

USERS_ENV = "DIP_SIM_USERS"
USERS_FILE = SECRET_DIR / "users.json"
ROLES: dict[str, str] = {"bureau": "医保局", "expert": "专家组", "hospital": "医院"}
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_NAME = re.compile(r"^[A-Za-z0-9_.\-\u4e00-\u9fff]{1,40}$")


class AuthError(ValueError):
    """A user cannot be added or found; the message says why."""


@dataclass(frozen=True)
class User:
    """A signed-in user."""

    name: str
    role: str
    hospital_id: str | None = None

    @property
    def role_zh(self) -> str:
        """The role's Chinese name."""
        return ROLES[self.role]


def users_path() -> Path:
    """The users file: ``$DIP_SIM_USERS`` if set, else ``data/secret/users.json``."""
    env = os.environ.get(USERS_ENV, "").strip()
    return Path(env) if env else USERS_FILE


def hash_password(password: str, salt: bytes | None = None) -> dict:
    """The stored form of ``password``: algorithm, parameters, salt and hash (hex)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **_SCRYPT)
    return {"algorithm": "scrypt", **_SCRYPT, "salt": salt.hex(), "hash": digest.hex()}


def _check_password(password: str, stored: dict) -> bool:
    digest = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(stored["salt"]),
                            dklen=32, n=stored["n"], r=stored["r"], p=stored["p"])
    return hmac.compare_digest(digest.hex(), stored["hash"])


def load_users(path: Path | None = None) -> dict[str, dict]:
    """Every user's record (name → role, hospital_id, password); {} when there is no file."""
    path = path or users_path()
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise AuthError(f"用户文件 {path} 无法读取：{exc}") from None


def _save(users: dict[str, dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(users, ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)  # whole or not at all


def add_user(name: str, role: str, password: str, hospital_id: str | None = None,
             path: Path | None = None) -> User:
    """Add or replace user ``name``; a hospital user needs its hospital, others none."""
    path = path or users_path()
    if not _NAME.match(name):
        raise AuthError(f"用户名 {name!r} 无效：1–40 个字母、数字、汉字或 _ . -")
    if role not in ROLES:
        raise AuthError(f"角色 {role!r} 未知，应为 {list(ROLES)} 之一")
    if role == "hospital" and not hospital_id:
        raise AuthError("医院用户须指定 --hospital（定点医疗机构代码）")
    if role != "hospital" and hospital_id:
        raise AuthError(f"角色 {role} 不属于某家医院，不能指定 --hospital")
    if len(password) < 8:
        raise AuthError("密码至少 8 个字符")
    users = load_users(path)
    users[name] = {"role": role, "hospital_id": hospital_id, "password": hash_password(password)}
    _save(users, path)
    return User(name, role, hospital_id)


def remove_user(name: str, path: Path | None = None) -> None:
    """Remove user ``name``."""
    path = path or users_path()
    users = load_users(path)
    if name not in users:
        raise AuthError(f"没有用户 {name}")
    del users[name]
    _save(users, path)


def authenticate(name: str, password: str, path: Path | None = None) -> User | None:
    """The user when ``password`` is right, else None (the same time whether or not it exists)."""
    record = load_users(path).get(name)
    if record is None:
        _check_password(password, hash_password("not a user"))  # as long as a real check
        return None
    if not _check_password(password, record["password"]):
        return None
    return User(name, record["role"], record.get("hospital_id"))


def create_demo_accounts(hospital_id: str, path: Path | None = None) -> list[tuple[str, ...]]:
    """When there is no users file: a bureau, an expert and a hospital user with random
    passwords; return (name, role, hospital, password) to print. Existing files are kept."""
    path = path or users_path()
    if load_users(path):
        return []
    accounts = [("bureau", "bureau", None), ("expert", "expert", None),
                (f"hospital_{hospital_id}", "hospital", hospital_id)]
    out = []
    for name, role, hospital in accounts:
        password = secrets.token_urlsafe(9)
        add_user(name, role, password, hospital, path)
        out.append((name, role, hospital or "", password))
    return out
