"""Users, roles and sign-in (docs/dashboard.md): salted hashes, the users command, the sign-in page,
and a hospital user who cannot see another hospital."""

from __future__ import annotations

import dataclasses
import json

import pytest
from streamlit.testing.v1 import AppTest

from dip_sim.access import access_settings
from dip_sim.auth import AuthError, add_user, authenticate, create_demo_accounts, load_users
from dip_sim.cli import main as cli_main
from tests.test_app import APP, PAGES, build_warehouse, metrics


@pytest.fixture()
def users(tmp_path, monkeypatch):
    path = tmp_path / "users.json"
    monkeypatch.setenv("DIP_SIM_USERS", str(path))
    return path


def test_passwords_are_stored_as_salted_hashes(users):
    add_user("a", "bureau", "secret-pass")
    add_user("b", "expert", "secret-pass")
    text = users.read_text(encoding="utf-8")
    assert "secret-pass" not in text
    stored = json.loads(text)
    assert stored["a"]["password"]["algorithm"] == "scrypt"
    # the same password, two salts, two hashes
    assert stored["a"]["password"]["salt"] != stored["b"]["password"]["salt"]
    assert stored["a"]["password"]["hash"] != stored["b"]["password"]["hash"]
    assert authenticate("a", "secret-pass").role == "bureau"
    assert authenticate("a", "wrong-pass") is None
    assert authenticate("nobody", "secret-pass") is None


@pytest.mark.parametrize(("args", "message"), [
    (("x", "chief", "password1"), "角色 'chief' 未知"),
    (("x", "hospital", "password1"), "须指定 --hospital"),
    (("x", "bureau", "password1", "H1"), "不能指定 --hospital"),
    (("x", "bureau", "short"), "至少 8 个字符"),
    (("bad name!", "bureau", "password1"), "用户名"),
])
def test_bad_users_are_refused(users, args, message):
    with pytest.raises(AuthError, match=message):
        add_user(*args)


def test_users_command(users, capsys):
    assert cli_main(["users", "add", "h2", "--role", "hospital", "--hospital", "H002",
                     "--password", "password2"]) == 0
    assert cli_main(["users", "list"]) == 0
    assert "h2\thospital（医院）\tH002" in capsys.readouterr().out
    assert cli_main(["users", "add", "x", "--role", "hospital", "--password", "password2"]) == 1
    assert "须指定 --hospital" in capsys.readouterr().err
    assert cli_main(["users", "remove", "h2"]) == 0
    assert load_users() == {}


def test_demo_accounts_only_when_there_are_none(users):
    created = create_demo_accounts("H001")
    assert [(n, r, h) for n, r, h, _ in created] == [
        ("bureau", "bureau", ""), ("expert", "expert", ""), ("hospital_H001", "hospital", "H001")]
    for name, _, _, password in created:
        assert authenticate(name, password) is not None
    assert create_demo_accounts("H001") == []  # kept as they are


@pytest.fixture()
def served(tmp_path, monkeypatch, users):
    db = build_warehouse(tmp_path / "w.duckdb")
    monkeypatch.setenv("DIP_SIM_DB", str(db))
    monkeypatch.delenv("DIP_SIM_HOSPITAL_ID", raising=False)
    add_user("bureau", "bureau", "bureau-pass")
    add_user("h2", "hospital", "hospital-pass", "H002")
    return db


def _sign_in(name: str, password: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.text_input(key="sign_in_name").input(name)
    at.text_input(key="sign_in_password").input(password)
    at.button[0].click().run()
    assert not at.exception
    return at


def test_sign_in_page_and_wrong_password(served, monkeypatch):
    from dip_sim import signin

    at = AppTest.from_file(APP, default_timeout=30).run()
    assert at.title[0].value == "DIP 模拟平台 · 登录" and not at.metric  # nothing before sign-in
    # a slow-down of 30 s after the first failure (access.signin_delay_seconds), then none
    slow = dataclasses.replace(access_settings(), signin_delay_seconds=30.0,
                               signin_delay_max_seconds=60.0)
    monkeypatch.setattr(signin, "access_settings", lambda: slow)
    at = _sign_in("bureau", "nope-nope")
    assert "用户名或密码不正确。" in [e.value for e in at.error]
    at = _sign_in("bureau", "bureau-pass")  # too soon: refused, the password not even tried
    assert any("秒后再试" in e.value for e in at.error) and not at.metric
    monkeypatch.setattr(signin, "access_settings", lambda: dataclasses.replace(
        slow, signin_delay_seconds=0.0))
    at = _sign_in("bureau", "bureau-pass")
    assert "DIP 基金" in " ".join(metrics(at))


def test_hospital_user_sees_only_its_hospital_on_every_page(served):
    at = _sign_in("h2", "hospital-pass")
    # its pages only: no 情景对比 for a hospital
    assert "用户：h2（医院，H002）" in [c.value for c in at.sidebar.caption]
    other_names = ("阳泉市第一人民医院", "平定县冠山镇卫生院", "H001", "H003")
    for page in ("overview", "hospital", "catalog", "quality"):
        at.switch_page(f"{PAGES}/{page}.py").run()
        assert not at.exception, page
        shown = " ".join(str(df.value.to_dict()) for df in at.dataframe)
        shown += " ".join(str(s.options) for s in at.selectbox)
        assert not any(name in shown for name in other_names), page
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(f"{PAGES}/compare.py").run()  # not among its pages


def test_a_locked_name_is_told_how_long_without_saying_whether_it_exists(served):
    from dip_sim.signin import Throttle

    throttle = Throttle()  # the test's own file (conftest), as the app's form uses it
    for name in ("bureau", "nobody"):
        for _ in range(access_settings().signin_max_failures):
            throttle.failed(name, "203.0.113.9")  # another client
    texts = []
    for name, password in (("bureau", "bureau-pass"), ("nobody", "whatever-1")):
        at = _sign_in(name, password)
        assert not at.metric  # not signed in, even with the right password
        texts.append([e.value for e in at.error])
    assert texts[0] == texts[1]  # the same words for a user and a name that is none
    assert "已被锁定" in texts[0][0] and "约 15 分钟" in texts[0][0]
