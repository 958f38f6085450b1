"""Sign-in for the dashboard (docs/dashboard.md): who is using it, and what their role may open.

The signed-in user lives in ``st.session_state["user"]``; the data layer reads it to filter
every per-hospital query to a hospital user's own hospital (``data.hospital_scope``).
"""

from __future__ import annotations

import streamlit as st

from dip_sim.auth import ROLES, User, authenticate, load_users, users_path

SESSION_KEY = "user"

# the pages each role may open (file names under dip_sim/dashboard/pages)
ROLE_PAGES: dict[str, tuple[str, ...]] = {
    "bureau": ("overview", "scenario", "compare", "hospital", "catalog", "quality",
               "supervision", "feedback"),
    "expert": ("overview", "hospital", "catalog", "quality", "supervision", "feedback"),
    "hospital": ("overview", "hospital", "catalog", "quality", "supervision", "feedback"),
}


def current_user() -> User | None:
    """The signed-in user, or None."""
    record = st.session_state.get(SESSION_KEY)
    if not record:
        return None
    return User(record["name"], record["role"], record.get("hospital_id"))


def sign_in(user: User) -> None:
    """Remember ``user`` for this session."""
    st.session_state[SESSION_KEY] = {"name": user.name, "role": user.role,
                                     "hospital_id": user.hospital_id}


def sign_out() -> None:
    """Forget the session's user."""
    st.session_state.pop(SESSION_KEY, None)


def sign_in_form() -> None:
    """The sign-in page: a form checked against the users file; reruns once signed in."""
    st.title("DIP 模拟平台 · 登录")
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
        user = authenticate(name.strip(), password)
        if user is None:
            st.error("用户名或密码不正确。")
            return
        sign_in(user)
        st.rerun()


def role_caption(user: User) -> str:
    """``bureau（医保局）`` or ``hospital_H001（医院，H001）`` for the sidebar."""
    where = f"，{user.hospital_id}" if user.hospital_id else ""
    return f"{user.name}（{ROLES[user.role]}{where}）"
