"""The hospital user's objection forms on the 病种目录 and 医院 pages, and the line on the
病种目录 page saying whether the catalogue shown is the version the panel confirmed
(docs/feedback.md). Their answers are on the 反馈与确认 page."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from dip_sim.dashboard import data, feedback_data, session
from dip_sim.feedback.rules import TOPICS, TOPICS_BY_TARGET, FeedbackError

UPLOAD_LABEL = "附件（可选，xlsx 或 pdf）"


def _hospital_user():
    user = session.current_user()
    return user if user is not None and user.role == "hospital" else None


def _submit(write: Callable[[], int]) -> None:
    """Run ``write``; say the objection's number, or why it was refused."""
    try:
        number = write()
    except (FeedbackError, data.DataUnavailable) as exc:
        st.error(getattr(exc, "message", None) or str(exc))
        return
    st.success(f"已提交异议 #{number}：专家组的决定将显示在“反馈与确认”页。")


def group_objection_form(scenario: str, groups: pd.DataFrame) -> None:
    """For a hospital user: raise an objection on one of the listed groups (its points, its
    split or its key), with a reason and an optional attachment."""
    if _hospital_user() is None or groups.empty:
        return
    with st.expander("对病种提出异议（反馈专家组）"):
        st.caption(f"针对情景 {scenario} 的目录版本；可先用上方的搜索框缩小病种范围。")
        with st.form("objection_group", clear_on_submit=True):
            code = st.selectbox("病种", groups["group_code"].head(500).tolist(),
                                key="objection_group_code")
            topic = st.radio("异议内容", TOPICS_BY_TARGET["group"], format_func=TOPICS.get,
                             horizontal=True, key="objection_group_topic")
            reason = st.text_area("异议理由", key="objection_group_reason")
            upload = st.file_uploader(UPLOAD_LABEL, type=["xlsx", "pdf"],
                                      key="objection_group_file")
            submitted = st.form_submit_button("提交异议")
    if submitted:
        _submit(lambda: feedback_data.raise_objection(scenario, "group", topic, reason,
                                                      group_code=code, upload=upload))


def case_objection_form(scenario: str, hospital_id: str) -> None:
    """For a hospital user on its own hospital: raise an objection on the grouping of one of
    its cases, named by its 清单流水号."""
    user = _hospital_user()
    if user is None or user.hospital_id != hospital_id:
        return
    with st.expander("对本院病例的分组提出异议（反馈专家组）"):
        st.caption(f"针对情景 {scenario} 的分组结果；清单流水号见“病例”标签页。")
        with st.form("objection_case", clear_on_submit=True):
            case_id = st.text_input("清单流水号", key="objection_case_id")
            reason = st.text_area("异议理由", key="objection_case_reason")
            upload = st.file_uploader(UPLOAD_LABEL, type=["xlsx", "pdf"],
                                      key="objection_case_file")
            submitted = st.form_submit_button("提交异议")
    if submitted:
        _submit(lambda: feedback_data.raise_objection(scenario, "case", "grouping", reason,
                                                      case_id=case_id, upload=upload))


def confirmation_caption(scenario: str) -> None:
    """One line: is ``scenario``'s catalogue the version the panel last confirmed?"""
    try:
        store = feedback_data.store(create=False)
        if store is None:
            return
        latest = store.confirmations(feedback_data.reader()).head(1)
        if latest.empty:
            return
        version = feedback_data.catalog_version(scenario)
    except (FeedbackError, data.DataUnavailable):
        return
    row = latest.iloc[0]
    when = f"{pd.Timestamp(row['confirmed_at']):%Y-%m-%d}"
    if row["catalog_version"] == version:
        st.caption(f"✓ 本情景的目录版本 {version} 已于 {when} 经专家组确认。")
    else:
        st.caption(f"专家组确认的目录版本为 {row['catalog_version']}（情景 {row['scenario']}，"
                   f"{when}）；本情景的目录版本 {version} 未经确认。")
