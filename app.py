"""DIP 模拟平台: the Streamlit dashboard of dip-sim (``streamlit run app.py``).

It reads the simulation results from the DuckDB warehouse named by ``$DIP_SIM_DB`` (default
``data/warehouse.duckdb``); set ``$DIP_SIM_HOSPITAL_ID`` to show one hospital only. The pages
live in ``dip_sim/dashboard/pages/``, one file each.
"""

from __future__ import annotations

import streamlit as st

from dip_sim.dashboard import data

PAGE_DIR = "dip_sim/dashboard/pages"

st.set_page_config(page_title="DIP 模拟平台", layout="wide")

pages = [
    st.Page(f"{PAGE_DIR}/overview.py", title="总览", icon=":material/dashboard:", default=True),
    st.Page(f"{PAGE_DIR}/compare.py", title="情景对比", icon=":material/compare_arrows:"),
    st.Page(f"{PAGE_DIR}/hospital.py", title="医院", icon=":material/local_hospital:"),
    st.Page(f"{PAGE_DIR}/catalog.py", title="病种目录", icon=":material/menu_book:"),
    st.Page(f"{PAGE_DIR}/quality.py", title="数据质量", icon=":material/fact_check:"),
]
current = st.navigation(pages)

with st.sidebar:
    st.caption("DIP 模拟平台 · 区域点数法总额预算和按病种分值付费（阳泉）")
    st.caption(f"数据仓库：`{data.warehouse_path()}`")
    if data.hospital_scope():
        st.caption(f"医院用户模式：{data.hospital_scope()}")

current.run()
