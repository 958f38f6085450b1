"""Sign-in for the dashboard (docs/dashboard.md): who is using it, and what their role may open.

The signed-in user lives in ``st.session_state["user"]``; the data layer reads it to filter
every per-hospital query to a hospital user's own hospital (``data.hospital_scope``). A signed,
expiring session token (:mod:`dip_sim.signin`) is kept in a cookie, so that a reload or a
bookmarked page keeps the user signed in; signing out clears both. Failed sign-ins are slowed
down and then locked per user name and per client (:class:`dip_sim.signin.Throttle`).
"""

from __future__ import annotations

import json
import os
import time

import streamlit as st

from dip_sim import signin
from dip_sim.auth import ROLES, User, authenticate, load_users, users_path

SESSION_KEY = "user"
COOKIE = "dip_sim_session"
# behind a reverse proxy every connection comes from the proxy: set this to take the client
# from the X-Forwarded-For header the proxy sets (only then: a client can forge the header)
TRUST_PROXY_ENV = "DIP_SIM_TRUST_PROXY"
_RESTORED = "session_cookie_read"  # this browser session's cookie was read once
_EXPIRES = "session_expires_at"
_CLEAR = "session_cookie_clear"

# the pages each role may open (file names under dip_sim/dashboard/pages)
ROLE_PAGES: dict[str, tuple[str, ...]] = {
    "bureau": ("overview", "scenario", "compare", "forecast", "monitor", "hospital", "catalog",
               "quality", "supervision", "feedback"),
    "expert": ("overview", "forecast", "monitor", "hospital", "catalog", "quality",
               "supervision", "feedback"),
    "hospital": ("overview", "hospital", "catalog", "quality", "supervision", "feedback"),
}


def current_user() -> User | None:
    """The signed-in user, or None.

    A new browser session (a reload, a bookmarked page) takes its user from the session
    cookie once, if the token is valid (:func:`dip_sim.signin.read_token`); a session past
    ``access.session_hours`` is signed out.
    """
    if not st.session_state.get(_RESTORED):
        st.session_state[_RESTORED] = True
        token = st.context.cookies.get(COOKIE)
        user = signin.read_token(token) if token else None
        if user is not None:
            sign_in(user, token)
        elif token:
            st.session_state[_CLEAR] = True  # a stale or forged cookie: remove it
    record = st.session_state.get(SESSION_KEY)
    if not record:
        return None
    expires = st.session_state.get(_EXPIRES)
    if expires is not None and time.time() > expires:
        sign_out()
        return None
    return User(record["name"], record["role"], record.get("hospital_id"))


def sign_in(user: User, token: str | None = None) -> None:
    """Remember ``user`` for this session and in the session cookie (``token``: the one it
    came with; a new one otherwise)."""
    token = token or signin.issue_token(user)
    st.session_state[SESSION_KEY] = {"name": user.name, "role": user.role,
                                     "hospital_id": user.hospital_id, "token": token}
    st.session_state[_EXPIRES] = signin.expires_at(token)  # from the token's signing time
    st.session_state.pop(_CLEAR, None)


def sign_out() -> None:
    """Forget the session's user, revoke its token and clear the session cookie."""
    record = st.session_state.pop(SESSION_KEY, None)
    if record and record.get("token"):
        signin.revoke(record["token"])
    st.session_state.pop(_EXPIRES, None)
    st.session_state[_CLEAR] = True


def _cookie_script(value: str, max_age: int) -> str:
    """A script that sets (or with ``max_age`` 0 clears) the session cookie on the app's page:
    SameSite=Strict, Path=/, Secure when served over https."""
    return ("<script>const d = window.parent.document; const secure = "
            "window.parent.location.protocol === 'https:' ? '; Secure' : ''; "
            f"d.cookie = {json.dumps(COOKIE)} + '=' + {json.dumps(value)} + "
            f"'; Max-Age={int(max_age)}; Path=/; SameSite=Strict' + secure;</script>")


def keep_cookie() -> None:
    """Write the session cookie of the signed-in user, or clear it after a sign-out (a script
    in an empty ``st.iframe``, which may reach the app's page: same origin; the browser keeps
    the token for ``access.session_hours``)."""
    record = st.session_state.get(SESSION_KEY)
    if record and record.get("token"):
        left = int(st.session_state.get(_EXPIRES, time.time()) - time.time())
        st.iframe(_cookie_script(record["token"], max(left, 0)), height="content")
    elif st.session_state.get(_CLEAR):
        st.iframe(_cookie_script("", 0), height="content")


def client_id() -> str:
    """The client a sign-in comes from: its IP address (``st.context.ip_address``; ``local``
    on localhost), or the first X-Forwarded-For address when ``$DIP_SIM_TRUST_PROXY`` is set."""
    if os.environ.get(TRUST_PROXY_ENV, "").strip():
        forwarded = st.context.headers.get("X-Forwarded-For", "")
        if forwarded.strip():
            return forwarded.split(",")[0].strip()
    address = st.context.ip_address
    return address if isinstance(address, str) and address else "local"


def signed_out_navigation(pages: dict[str, tuple[str, str]]):
    """The navigation of a signed-out session: the sign-in form under every page's address
    (hidden; no page is listed), so that a bookmarked page opens on itself after sign-in
    (a page's identity is its URL path)."""
    return st.navigation([st.Page(sign_in_form, title="登录", url_path=name,
                                  default=(i == 0))
                          for i, name in enumerate(pages)], position="hidden")


def sign_in_form() -> None:
    """The sign-in page: a form checked against the users file; reruns once signed in."""
    st.title("DIP 模拟平台 · 登录")
    keep_cookie()  # a signed-out session clears the cookie
    try:
        has_users = bool(load_users())
    except ValueError as exc:
        st.error(str(exc))
        return
    if not has_users:
        st.info(f"尚无用户：请运行 `make run`（创建演示账号）或 "
                f"`dip-sim users add 用户名 --role bureau`（用户文件 {users_path()}）。")
        return
    with st.form("sign_in"):
        name = st.text_input("用户名", key="sign_in_name")
        password = st.text_input("密码", type="password", key="sign_in_password")
        submitted = st.form_submit_button("登录")
    if submitted:
        name = name.strip()
        throttle = signin.Throttle()
        client = client_id()
        verdict = throttle.check(name, client)
        if not verdict.allowed:
            st.error(_refusal(verdict))
            return
        user = authenticate(name, password)
        if user is None:
            verdict = throttle.failed(name, client)
            st.error("用户名或密码不正确。" + (_refusal(verdict) if verdict.locked_seconds else ""))
            return
        throttle.succeeded(name, client)
        sign_in(user)
        st.rerun()


def _refusal(verdict: signin.Verdict) -> str:
    """Why a sign-in is refused now, in Chinese, without saying whether the user exists."""
    if verdict.locked_seconds > 0:
        return (f"登录失败次数过多，该账号或本机已被锁定，请{signin.minutes_text(verdict.locked_seconds)}"
                "后再试。")
    return f"登录失败，请 {max(1, round(verdict.wait_seconds))} 秒后再试。"


def role_caption(user: User) -> str:
    """``bureau（医保局）`` or ``hospital_H001（医院，H001）`` for the sidebar."""
    where = f"，{user.hospital_id}" if user.hospital_id else ""
    return f"{user.name}（{ROLES[user.role]}{where}）"
