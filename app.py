"""DIP 模拟平台: the Streamlit dashboard of dip-sim (``streamlit run app.py``).

It reads the simulation results from the DuckDB warehouse named by ``$DIP_SIM_DB`` (default
``data/warehouse.duckdb``). Users sign in (``dip_sim.dashboard.session``, accounts in
``data/secret/users.json``); each role sees its pages, and a hospital user only its own
hospital's rows. ``$DIP_SIM_HOSPITAL_ID`` restricts every user to one hospital. The pages live
in ``dip_sim/dashboard/pages/``, one file each.
"""

from __future__ import annotations

import streamlit as st

from dip_sim.dashboard import data, session

PAGE_DIR = "dip_sim/dashboard/pages"

st.set_page_config(page_title="DIP 模拟平台", layout="wide")

PAGES = {
    "overview": ("总览", ":material/dashboard:"),
    "scenario": ("预算情景", ":material/tune:"),
    "compare": ("情景对比", ":material/compare_arrows:"),
    "forecast": ("点值预测", ":material/trending_down:"),
    "monitor": ("运行监测", ":material/monitor_heart:"),
    "hospital": ("医院", ":material/local_hospital:"),
    "catalog": ("病种目录", ":material/menu_book:"),
    "quality": ("数据质量", ":material/fact_check:"),
    "supervision": ("监管与考核", ":material/policy:"),
    "feedback": ("反馈与确认", ":material/rate_review:"),
}

st.session_state[data.STALE_KEY] = False  # set by a read that had to show the last run
user = session.current_user()
if user is None:  # no page is listed; a bookmarked page's address opens the form
    session.signed_out_navigation(PAGES).run()
    st.stop()

allowed = session.ROLE_PAGES[user.role]
pages = [st.Page(f"{PAGE_DIR}/{name}.py", title=PAGES[name][0], icon=PAGES[name][1],
                 url_path=name, default=(i == 0))
         for i, name in enumerate(allowed)]
current = st.navigation(pages)

with st.sidebar:
    st.caption("DIP 模拟平台 · 区域点数法总额预算和按病种分值付费（阳泉）")
    st.caption(f"用户：{session.role_caption(user)}")
    session.keep_cookie()
    if st.button("退出登录", key="sign_out"):
        session.sign_out()
        st.rerun()
    if user.role == "bureau":  # the server's file layout is the bureau's business only
        st.caption(f"数据仓库：`{data.warehouse_path()}`")
    try:
        finished = data.last_run_at()
    except data.DataUnavailable:  # no warehouse yet, or a run holds it: the page says so
        finished = None
    if finished is not None:
        st.caption(f"最近一次完整运行：{finished:%Y-%m-%d %H:%M}")
    if data.hospital_scope():
        st.caption(f"医院用户模式：{data.hospital_scope()}")
    try:  # a province: the bureau picks the pooling region; a hospital user stays in its own
        listed = data.regions()
        several = len(data.all_regions()) > 1
    except data.DataUnavailable:
        listed, several = None, False
    if several and listed is not None:
        names = {str(r.region): f"{r.region_name}（{r.region}）" for r in listed.itertuples()}
        if data.hospital_scope():
            st.caption(f"统筹区：{names.get(data.region_scope(), data.region_scope())}")
        else:
            st.selectbox("统筹区", list(names), format_func=names.get, key=data.REGION_KEY,
                         help="各页面显示所选统筹区的结果；总览页可并列比较各统筹区")

current.run()

if data.showing_last_results():  # a batch run holds the warehouse: say what is shown
    when = f"（完成于 {finished:%Y-%m-%d %H:%M}）" if finished is not None else ""
    st.sidebar.warning(f"数据仓库正在更新（模拟或载入运行中）：页面显示的是上次完整运行{when}的结果；"
                       "运行结束后刷新页面即可看到新结果。", icon=":material/update:")
