"""Sign-in guards of the dashboard (docs/dashboard.md): signed session tokens and the throttle
on failed sign-ins.

Session tokens: a user's name, role and hospital signed with a server key (itsdangerous's
``URLSafeTimedSerializer``, HMAC-SHA1 over a timestamped payload) and refused after
``access.session_hours``. The key is ``$DIP_SIM_SESSION_KEY``, else a random key generated once
in ``data/secret/session_key`` (mode 0600). A token is also refused when its user was removed
or its role or hospital changed since (checked against the users file).

Signing out revokes the token (its SHA-256 kept in the same SQLite file until it would have
expired), so that a copy of the cookie no longer signs in.

Throttle: failed sign-ins are counted per user name and per client in a small SQLite file in
WAL mode (``$DIP_SIM_SIGNIN_DB`` or ``data/secret/signin.sqlite``), shared by every session of
the server. After the k-th failure within ``access.signin_window_minutes`` the next attempt
waits ``signin_delay_seconds × 2^(k−1)`` (at most ``signin_delay_max_seconds``); at
``signin_max_failures`` failures the name (or client) is locked for ``signin_lock_minutes``
(GB/T 22239-2019 8.1.4.1, 登录失败处理). Every failure and lockout is logged (user, client,
time; never the password) to ``signin.log`` beside the SQLite file.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from dip_sim.access import access_settings
from dip_sim.auth import User, load_users
from dip_sim.paths import SECRET_DIR

KEY_ENV = "DIP_SIM_SESSION_KEY"
KEY_FILE = SECRET_DIR / "session_key"
THROTTLE_ENV = "DIP_SIM_SIGNIN_DB"
THROTTLE_FILE = SECRET_DIR / "signin.sqlite"
_SALT = "dip-sim-dashboard-session"

Clock = Callable[[], float]


# --- session tokens ------------------------------------------------------------------------


def session_key(path: Path | None = None) -> str:
    """The key that signs session tokens: ``$DIP_SIM_SESSION_KEY``, else the key file
    (created with a random 32-byte key, mode 0600, the first time)."""
    env = os.environ.get(KEY_ENV, "").strip()
    if env:
        return env
    path = path or KEY_FILE
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:  # O_EXCL: two servers starting at once keep one key
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
    return path.read_text(encoding="utf-8").strip()


def _serializer(key: str | None = None) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key or session_key(), salt=_SALT)


def issue_token(user: User, key: str | None = None) -> str:
    """A signed, timestamped token naming ``user`` (name, role, hospital)."""
    return _serializer(key).dumps({"n": user.name, "r": user.role, "h": user.hospital_id})


def read_token(token: str, key: str | None = None, users: dict | None = None,
               now: float | None = None, max_age_hours: float | None = None) -> User | None:
    """The user a valid token names, or None: a forged or altered token, one older than
    ``access.session_hours``, one signed out (:func:`revoke`), or one whose user is gone or
    has another role or hospital now (``users``: the users file's records, read when not
    given)."""
    hours = max_age_hours if max_age_hours is not None else access_settings().session_hours
    serializer = _serializer(key)
    try:
        if now is None:
            payload = serializer.loads(token, max_age=int(hours * 3600))
        else:  # an injected clock (tests): check the age against it
            payload, signed_at = serializer.loads(token, return_timestamp=True)
            if now - signed_at.timestamp() > hours * 3600:
                return None
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(payload, dict):
        return None
    if is_revoked(token):
        return None
    record = (users if users is not None else load_users()).get(payload.get("n"))
    if record is None or record.get("role") != payload.get("r") \
            or record.get("hospital_id") != payload.get("h"):
        return None
    return User(payload["n"], payload["r"], payload.get("h"))


def expires_at(token: str, key: str | None = None) -> float:
    """When a (valid) token's session ends: its signing time + ``access.session_hours``, in
    seconds since the epoch."""
    _, signed_at = _serializer(key).loads(token, return_timestamp=True)
    return signed_at.timestamp() + access_settings().session_hours * 3600


def state_path() -> Path:
    """The sign-in state file: ``$DIP_SIM_SIGNIN_DB``, else ``data/secret/signin.sqlite``."""
    env = os.environ.get(THROTTLE_ENV, "").strip()
    return Path(env) if env else THROTTLE_FILE


def _connect(path: Path) -> sqlite3.Connection:
    """The sign-in state (WAL mode: concurrent readers and one writer), its tables made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=10, isolation_level=None)
    con.execute("PRAGMA busy_timeout=10000")
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE IF NOT EXISTS failures (subject TEXT NOT NULL, at REAL NOT NULL)")
    con.execute("CREATE INDEX IF NOT EXISTS failures_subject ON failures (subject, at)")
    con.execute("CREATE TABLE IF NOT EXISTS locks (subject TEXT PRIMARY KEY, until REAL NOT NULL)")
    con.execute("CREATE TABLE IF NOT EXISTS revoked (digest TEXT PRIMARY KEY, at REAL NOT NULL)")
    return con


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def revoke(token: str, path: Path | None = None, clock: Clock = time.time) -> None:
    """Refuse ``token`` from now on (signed out): a copy of the cookie no longer signs in.
    Only its SHA-256 is kept; entries older than the longest session are dropped."""
    now = clock()
    with contextlib.closing(_connect(path or state_path())) as con:
        con.execute("INSERT OR REPLACE INTO revoked VALUES (?, ?)", [_digest(token), now])
        con.execute("DELETE FROM revoked WHERE at < ?",
                    [now - access_settings().session_hours * 3600])


def is_revoked(token: str, path: Path | None = None) -> bool:
    """True when ``token`` was signed out."""
    with contextlib.closing(_connect(path or state_path())) as con:
        return con.execute("SELECT 1 FROM revoked WHERE digest = ?",
                           [_digest(token)]).fetchone() is not None


# --- throttle ------------------------------------------------------------------------------

log = logging.getLogger("dip_sim.signin")


@dataclass(frozen=True)
class Verdict:
    """Whether a sign-in may be tried now: ``locked_seconds`` > 0 when locked, else
    ``wait_seconds`` > 0 when the attempt must wait (slow-down)."""

    locked_seconds: float = 0.0
    wait_seconds: float = 0.0

    @property
    def allowed(self) -> bool:
        """True when the attempt may go ahead now."""
        return self.locked_seconds <= 0 and self.wait_seconds <= 0


class Throttle:
    """Failed sign-ins per user name and per client, in a SQLite file shared by the server's
    sessions (WAL mode: concurrent readers and one writer)."""

    def __init__(self, path: Path | None = None, clock: Clock = time.time,
                 settings=None) -> None:
        self.path = path or state_path()
        self.clock = clock
        self.settings = settings or access_settings()
        _connect(self.path).close()
        _log_to_file(self.path.with_name("signin.log"))

    def _connect(self) -> contextlib.closing[sqlite3.Connection]:
        return contextlib.closing(_connect(self.path))

    @staticmethod
    def subjects(name: str, client: str) -> tuple[str, str]:
        """The two counters an attempt touches: its user name's and its client's."""
        return f"user:{name}", f"client:{client}"

    def check(self, name: str, client: str) -> Verdict:
        """May ``name`` sign in from ``client`` now? The longest lock or wait of the two."""
        now = self.clock()
        s = self.settings
        window = now - s.signin_window_minutes * 60
        locked = wait = 0.0
        with self._connect() as con:
            for subject in self.subjects(name, client):
                row = con.execute("SELECT until FROM locks WHERE subject = ?",
                                  [subject]).fetchone()
                if row and row[0] > now:
                    locked = max(locked, row[0] - now)
                n, last = con.execute("SELECT count(*), max(at) FROM failures "
                                      "WHERE subject = ? AND at > ?", [subject, window]).fetchone()
                if n:
                    delay = min(s.signin_delay_seconds * 2 ** (n - 1), s.signin_delay_max_seconds)
                    wait = max(wait, last + delay - now)
        return Verdict(locked, max(wait, 0.0))

    def failed(self, name: str, client: str) -> Verdict:
        """Record a failed attempt (logged); lock the name or client that reached
        ``signin_max_failures`` in the window. The verdict for the next attempt."""
        now = self.clock()
        s = self.settings
        window = now - s.signin_window_minutes * 60
        log.warning("sign-in failed: user=%r client=%r", name, client)
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            con.execute("DELETE FROM failures WHERE at <= ?", [window])
            for subject in self.subjects(name, client):
                con.execute("INSERT INTO failures VALUES (?, ?)", [subject, now])
                n = con.execute("SELECT count(*) FROM failures WHERE subject = ? AND at > ?",
                                [subject, window]).fetchone()[0]
                if n >= s.signin_max_failures:
                    until = now + s.signin_lock_minutes * 60
                    con.execute("INSERT OR REPLACE INTO locks VALUES (?, ?)", [subject, until])
                    con.execute("DELETE FROM failures WHERE subject = ?", [subject])
                    log.warning("sign-in locked: %s for %s minutes (user=%r client=%r)",
                                subject, s.signin_lock_minutes, name, client)
            con.execute("COMMIT")
        return self.check(name, client)

    def succeeded(self, name: str, client: str) -> None:
        """A successful sign-in clears the user name's failures (not the client's)."""
        with self._connect() as con:
            con.execute("DELETE FROM failures WHERE subject = ?", [self.subjects(name, client)[0]])


def _log_to_file(path: Path) -> None:
    """Send the sign-in log to ``path`` (once per file)."""
    target = str(path.resolve())
    if any(getattr(h, "baseFilename", None) == target for h in log.handlers):
        return
    handler = logging.FileHandler(target, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)


def minutes_text(seconds: float) -> str:
    """A lock's remaining time in Chinese: ``约 15 分钟`` (at least one minute)."""
    return f"约 {max(1, round(seconds / 60))} 分钟"
