"""Session tokens and the sign-in throttle (dip_sim.signin), with an injected clock."""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from dip_sim import signin
from dip_sim.access import access_settings
from dip_sim.auth import User, add_user, load_users

KEY = "test-session-key"


@pytest.fixture()
def users(tmp_path: Path) -> dict:
    path = tmp_path / "users.json"
    add_user("h1", "hospital", "password-1", hospital_id="H001", path=path)
    add_user("boss", "bureau", "password-2", path=path)
    return load_users(path)


def test_a_token_names_its_user_until_it_expires(users: dict) -> None:
    user = User("h1", "hospital", "H001")
    token = signin.issue_token(user, KEY)
    start = float(signin._serializer(KEY).loads(token, return_timestamp=True)[1].timestamp())
    assert signin.read_token(token, KEY, users, now=start + 3600, max_age_hours=8) == user
    # 8 hours and one second later: refused
    assert signin.read_token(token, KEY, users, now=start + 8 * 3600 + 1, max_age_hours=8) is None
    # the lifetime is access.session_hours when not given; the session ends that long after
    # the token was signed, however often it is restored
    assert signin.read_token(token, KEY, users) == user
    assert signin.expires_at(token, KEY) == start + 8 * 3600
    assert access_settings().session_hours == 8.0


def test_forged_or_altered_tokens_are_refused(users: dict) -> None:
    token = signin.issue_token(User("h1", "hospital", "H001"), KEY)
    assert signin.read_token(token, "another-key", users) is None
    payload, _, rest = token.partition(".")
    other = signin.issue_token(User("h1", "hospital", "H002"), KEY).partition(".")[0]
    assert signin.read_token(f"{other}.{rest}", KEY, users) is None  # another hospital's body
    assert signin.read_token("not-a-token", KEY, users) is None


def test_a_token_of_a_removed_or_changed_user_is_refused(users: dict) -> None:
    token = signin.issue_token(User("h1", "hospital", "H001"), KEY)
    assert signin.read_token(token, KEY, {}) is None  # removed
    moved = {**users, "h1": {**users["h1"], "hospital_id": "H009"}}
    assert signin.read_token(token, KEY, moved) is None  # now of another hospital
    promoted = {**users, "h1": {**users["h1"], "role": "expert", "hospital_id": None}}
    assert signin.read_token(token, KEY, promoted) is None


def test_the_session_key_is_made_once_and_private(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(signin.KEY_ENV, raising=False)
    path = tmp_path / "secret" / "session_key"
    key = signin.session_key(path)
    assert len(key) == 64 and signin.session_key(path) == key
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    monkeypatch.setenv(signin.KEY_ENV, "from-env")
    assert signin.session_key(path) == "from-env"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


# 3 failures in 10 minutes lock for 15; waits 1, 2, 4 s capped at 3 s
SETTINGS = dataclasses.replace(access_settings(), signin_max_failures=3,
                               signin_window_minutes=10, signin_lock_minutes=15,
                               signin_delay_seconds=1.0, signin_delay_max_seconds=3.0)


def test_failures_slow_down_then_lock(tmp_path: Path) -> None:
    clock = Clock()
    throttle = signin.Throttle(tmp_path / "signin.sqlite", clock, SETTINGS)
    assert throttle.check("h1", "10.0.0.1").allowed
    assert throttle.failed("h1", "10.0.0.1") == signin.Verdict(0.0, 1.0)  # wait 1 s
    clock.now += 0.5
    assert throttle.check("h1", "10.0.0.1") == signin.Verdict(0.0, 0.5)
    clock.now += 0.5
    assert throttle.check("h1", "10.0.0.1").allowed
    assert throttle.failed("h1", "10.0.0.1").wait_seconds == 2.0  # doubled
    clock.now += 2
    verdict = throttle.failed("h1", "10.0.0.1")  # the third: locked for 15 minutes
    assert verdict.locked_seconds == 15 * 60 and not verdict.allowed
    clock.now += 14 * 60
    assert throttle.check("h1", "10.0.0.2").locked_seconds == 60  # the name, from anywhere
    assert throttle.check("other", "10.0.0.1").locked_seconds == 60  # the client, any name
    assert throttle.check("other", "10.0.0.2").allowed
    clock.now += 61
    assert throttle.check("h1", "10.0.0.1").allowed


def test_failures_outside_the_window_are_forgotten_and_the_cap_holds(tmp_path: Path) -> None:
    clock = Clock()
    settings = dataclasses.replace(SETTINGS, signin_max_failures=10)
    throttle = signin.Throttle(tmp_path / "signin.sqlite", clock, settings)
    for _ in range(4):
        verdict = throttle.failed("h1", "c")
        clock.now += 5
    assert verdict.wait_seconds == 3.0  # 1 × 2^3 = 8, capped at 3
    clock.now += 10 * 60
    assert throttle.check("h1", "c").allowed
    assert throttle.failed("h1", "c").wait_seconds == 1.0  # counting from one again


def test_state_is_shared_and_logged_without_the_password(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "signin.sqlite"
    one = signin.Throttle(path, clock, SETTINGS)
    two = signin.Throttle(path, clock, SETTINGS)  # another session of the server
    for _ in range(3):
        one.failed("h1", "10.0.0.9")
    assert two.check("h1", "elsewhere").locked_seconds > 0
    log = (tmp_path / "signin.log").read_text(encoding="utf-8")
    assert log.count("sign-in failed: user='h1' client='10.0.0.9'") == 3
    assert "sign-in locked: user:h1 for 15 minutes" in log
    assert "password" not in log


def test_a_success_clears_the_names_failures(tmp_path: Path) -> None:
    clock = Clock()
    throttle = signin.Throttle(tmp_path / "signin.sqlite", clock, SETTINGS)
    throttle.failed("h1", "c")
    clock.now += 1
    throttle.failed("h1", "c")
    clock.now += 2
    throttle.succeeded("h1", "c")
    assert throttle.check("h1", "d").allowed
    assert throttle.failed("h1", "d").wait_seconds == 1.0


def test_lock_text_is_in_minutes() -> None:
    assert signin.minutes_text(15 * 60) == "约 15 分钟"
    assert signin.minutes_text(10) == "约 1 分钟"


def test_a_signed_out_token_is_refused(users: dict, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(signin.THROTTLE_ENV, str(tmp_path / "signin.sqlite"))
    token = signin.issue_token(User("h1", "hospital", "H001"), KEY)
    other = signin.issue_token(User("boss", "bureau", None), KEY)
    signin.revoke(token)
    assert signin.read_token(token, KEY, users) is None
    assert signin.read_token(other, KEY, users) == User("boss", "bureau", None)
    with sqlite3.connect(tmp_path / "signin.sqlite") as con:  # only a digest is kept
        kept = con.execute("SELECT digest FROM revoked").fetchall()
    assert kept and token not in str(kept)
