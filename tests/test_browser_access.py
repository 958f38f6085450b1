"""Sessions, sign-in throttling and small-cell suppression in a real browser (docs/dashboard.md).

One server on the planted city (``conftest.py``) for the module, with users of its own: the
bureau, the expert and a hospital user of a level-3 hospital (the generated city has two, so
the level-3 figures of the 病种目录 are a two-hospital aggregate the hospital user must not
see). Helpers and the browser come from ``test_browser``. Screenshots go to
``tests/artifacts/``.
"""

from __future__ import annotations

import sqlite3
import time

import duckdb
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from dip_sim import signin
from dip_sim.auth import User, add_user, load_users
from tests import test_browser
from tests.test_browser import (
    BUREAU_PAGES,
    HOSPITAL_PAGES,
    SLUG,
    nav_titles,
    open_page,
    screenshot,
    serve,
    sign_in,
    wait_idle,
)

# the headless browser and a fresh context per test, as in test_browser
browser = test_browser.browser
page = test_browser.page

KEY = "browser-access-session-key"
PASSWORD = {"bureau": "access-test-bureau", "expert": "access-test-expert",
            "hospital": "access-test-hospital"}
EXPERT_PAGES = ["总览", "点值预测", "运行监测", "医院", "病种目录", "数据质量", "监管与考核", "反馈与确认"]


@pytest.fixture(scope="module")
def city(planted_city, tmp_path_factory) -> dict:
    """The planted city, its level-3 hospitals and a users file."""
    folder = tmp_path_factory.mktemp("browser_access")
    with duckdb.connect(str(planted_city["db"]), read_only=True) as con:
        level3 = [r[0] for r in con.execute(
            "SELECT DISTINCT hospital_id FROM hospitals WHERE level = 3 ORDER BY 1").fetchall()]
    assert len(level3) == 2, "the generated city has two level-3 hospitals"
    users = folder / "users.json"
    add_user("bureau", "bureau", PASSWORD["bureau"], path=users)
    add_user("expert", "expert", PASSWORD["expert"], path=users)
    add_user("h3", "hospital", PASSWORD["hospital"], hospital_id=level3[0], path=users)
    return {"db": planted_city["db"], "users": users, "own": level3[0], "folder": folder}


@pytest.fixture(scope="module")
def server(city):
    env = {"DIP_SIM_DB": str(city["db"]), "DIP_SIM_USERS": str(city["users"]),
           "DIP_SIM_SCENARIO_DIR": str(city["folder"]), "DIP_SIM_SESSION_KEY": KEY,
           "DIP_SIM_SIGNIN_DB": str(city["folder"] / "signin.sqlite")}
    with serve(env, city["folder"] / "streamlit.log") as url:
        yield url


def session_cookie(page) -> str | None:
    """The session cookie's value in the page's browser context, or None."""
    return next((c["value"] for c in page.context.cookies() if c["name"] == "dip_sim_session"),
                None)


def signed_in_on(page, title: str) -> None:
    """Wait for the signed-in sidebar and the page ``title``."""
    page.get_by_role("button", name="退出登录").wait_for()
    page.locator("h1").filter(has_text=title).wait_for()
    wait_idle(page)


def shows_sign_in_form(page) -> None:
    """Wait for the sign-in form."""
    page.get_by_label("用户名").wait_for()
    wait_idle(page)


def test_sign_out_clears_the_navigation_and_the_cookie(server, city, page):
    sign_in(page, server, "h3", PASSWORD["hospital"])
    assert nav_titles(page) == HOSPITAL_PAGES
    cookie = session_cookie(page)  # the signed token of this user
    assert signin.read_token(cookie, KEY, load_users(city["users"])) == \
        User("h3", "hospital", city["own"])
    page.get_by_role("button", name="退出登录").click()
    shows_sign_in_form(page)
    assert nav_titles(page) == []  # a shared screen shows nobody's pages
    assert page.locator('[data-testid="stSidebar"]').count() == 0 or \
        "h3" not in (page.locator('[data-testid="stSidebar"]').text_content() or "")
    assert session_cookie(page) is None
    page.reload()
    shows_sign_in_form(page)
    screenshot(page, "signed_out")
    # a copy of the signed-out cookie no longer signs in
    page.context.add_cookies([{"name": "dip_sim_session", "value": cookie, "url": server,
                               "sameSite": "Strict"}])
    page.reload()
    shows_sign_in_form(page)
    assert nav_titles(page) == []


def test_reload_keeps_the_user_and_the_page(server, page):
    sign_in(page, server, "bureau", PASSWORD["bureau"])
    open_page(page, "病种目录")
    assert page.url.endswith("/catalog")
    page.reload()
    signed_in_on(page, "病种目录")
    assert nav_titles(page) == BUREAU_PAGES
    assert page.url.endswith("/catalog")


def test_a_bookmarked_page_opens_after_sign_in(server, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(f"{server}/supervision")
        shows_sign_in_form(page)
        assert nav_titles(page) == []
        page.get_by_label("用户名").fill("expert")
        page.get_by_label("密码").fill(PASSWORD["expert"])
        page.get_by_role("button", name="登录").click()
        signed_in_on(page, "监管与考核")
        assert page.url.endswith("/supervision")
        # signed in already: another bookmark opens at once
        page.goto(f"{server}/hospital")
        signed_in_on(page, "医院")
    finally:
        context.close()


def _old_token(payload: dict, hours_ago: float) -> str:
    """A token signed with the server's key ``hours_ago`` hours ago."""

    class Earlier(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time() - hours_ago * 3600)

    return URLSafeTimedSerializer(KEY, salt=signin._SALT, signer=Earlier).dumps(payload)


@pytest.mark.parametrize("case", ["forged", "expired", "removed"])
def test_a_bad_token_is_refused(server, city, page, case):
    payload = {"n": "bureau", "r": "bureau", "h": None}
    token = {"forged": URLSafeTimedSerializer("guessed-key", salt=signin._SALT).dumps(payload),
             "expired": _old_token(payload, 8.5),  # access.session_hours is 8
             "removed": _old_token({"n": "ghost", "r": "bureau", "h": None}, 0)}[case]
    page.context.add_cookies([{"name": "dip_sim_session", "value": token,
                               "url": server, "sameSite": "Strict"}])
    page.goto(server)
    shows_sign_in_form(page)
    assert nav_titles(page) == []
    assert session_cookie(page) is None  # the stale cookie is removed


def test_a_fresh_token_of_the_same_key_is_accepted(server, page):
    page.context.add_cookies([{"name": "dip_sim_session",
                               "value": _old_token({"n": "bureau", "r": "bureau", "h": None}, 7),
                               "url": server, "sameSite": "Strict"}])
    page.goto(f"{server}/quality")
    signed_in_on(page, "数据质量")
    # the session still ends 8 hours after the token was signed: about an hour from now
    page.wait_for_timeout(500)
    cookie = next(c for c in page.context.cookies() if c["name"] == "dip_sim_session")
    assert abs(cookie["expires"] - (time.time() + 3600)) < 120


def test_failed_sign_ins_are_slowed_down(server, city, page):
    page.goto(server)
    refused = False
    try:
        for _ in range(4):  # waits of 1, 2, 4 and 8 s (no lock before 5 failures): one is too soon
            page.get_by_label("用户名").fill("nobody")
            page.get_by_label("密码").fill("wrong-password")
            page.get_by_role("button", name="登录").click()
            wait_idle(page)
            errors = page.locator('[data-testid="stAlert"]').all_inner_texts()
            assert errors, "a refused sign-in says why"
            if "秒后再试" in errors[-1]:
                refused = True
                break
            assert "用户名或密码不正确" in errors[-1]
    finally:  # the failures count against this machine too: forget them for the next tests
        with sqlite3.connect(city["folder"] / "signin.sqlite") as con:
            con.execute("DELETE FROM failures")
            con.execute("DELETE FROM locks")
    assert refused
    log = (city["folder"] / "signin.log").read_text(encoding="utf-8")
    assert "sign-in failed: user='nobody' client='local'" in log and "wrong-password" not in log


def test_a_two_hospital_level_shows_the_hospital_user_no_figure(server, city, page):
    sign_in(page, server, "h3", PASSWORD["hospital"])
    open_page(page, "病种目录")
    page.get_by_text("历史病例费用按医院等级的分布").wait_for()
    wait_idle(page)
    # the note under the catalogue's suppressed groups and under the by-level table, whose
    # level-3 row (the own hospital and one other) is blank
    notes = page.get_by_text("参与该汇总的其他医院少于 3 家")
    assert notes.count() == 2
    screenshot(page, "hospital_catalog_suppressed")
    text = open_page(page, "医院")
    assert "CMI（全市平均 = 1.00）" in text and "None" not in text


def test_the_expert_opens_every_page(server, page):
    sign_in(page, server, "expert", PASSWORD["expert"])
    assert nav_titles(page) == EXPERT_PAGES
    for title in EXPERT_PAGES:
        text = open_page(page, title)
        assert "None" not in text, title
        screenshot(page, f"expert_{SLUG[title]}")
