"""反馈与确认: hospitals' objections to the catalogue and to their cases' grouping, the expert
panel's decisions, and the catalogue version the panel confirmed (docs/feedback.md).

Content by role: a hospital user sees its own objections and the decisions on them; the bureau
sees every objection's status; the panel sees every objection grouped by catalogue group,
decides (accepted with the catalogue adjustment it led to, rejected with a reason, or
deferred), writes adjustments and confirms a catalogue version. Objections are raised from
the 病种目录 and 医院 pages.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dip_sim.catalog.adjustments import ACTIONS, SPLIT_DIMENSIONS
from dip_sim.dashboard import data, feedback_data
from dip_sim.dashboard.pages import common
from dip_sim.feedback.export import LABELS, NO_GROUP, by_group, named
from dip_sim.feedback.links import check_link, panel_adjustments, write_adjustment
from dip_sim.feedback.rules import DECISIONS, STATUSES, TOPICS, FeedbackError

OBJECTION_COLUMNS = ["objection_id", "hospital_id", "target", "group_code", "case_id", "topic",
                     "reason", "attachment_name", "raised_at", "scenario", "catalog_version",
                     "status", "decision_reason", "adjustment_file", "adjustment_id",
                     "decided_at", "confirmed_version"]
ACTION_LABELS = {"set_points": "协商分值", "split": "指定辅助分型", "merge": "合并病种",
                 "conservative_procedure": "手术操作改按保守治疗"}


FLASH_KEY = "feedback_flash"


def _flash(message: str) -> None:
    """Rerun the page (its tables then show the change) and say ``message`` at its top."""
    st.session_state[FLASH_KEY] = message
    st.rerun()


# up to this many rows a table is drawn as static text (read whole, printed, found by the
# browser's search); longer ones in the scrolling grid
STATIC_ROWS = 100


def _table(frame: pd.DataFrame, columns: list[str]) -> None:
    """``frame``'s ``columns`` with Chinese headers and the workflow's codes named; missing
    values as —."""
    shown = named(frame[[c for c in columns if c in frame.columns]]).rename(columns=LABELS)
    if len(shown) <= STATIC_ROWS:
        shown = shown.astype(object).where(shown.notna() & shown.ne(""), "—")
        st.table(shown.set_index(shown.columns[0]))
    else:
        st.dataframe(shown, hide_index=True)


def _objection_label(row: pd.Series) -> str:
    what = (f"病种 {row['group_code']}" if row["target"] == "group"
            else f"病例 {row['case_id']}（{row['group_code'] or NO_GROUP}）")
    return (f"#{row['objection_id']} · {row['hospital_id']} · {what} · {TOPICS[row['topic']]} · "
            f"{STATUSES[row['status']]}")


@common.guarded
def render() -> None:
    """Draw the 反馈与确认 page."""
    st.title("反馈与确认")
    if FLASH_KEY in st.session_state:  # what the last action recorded, before the rerun
        st.success(st.session_state.pop(FLASH_KEY))
    user = feedback_data.reader()
    store = feedback_data.store()
    _confirmed(store, user)
    objections = feedback_data.objections()
    st.subheader("本院的异议" if user.role == "hospital" else "异议及其处理")
    if objections.empty:
        st.info("尚无异议。" + ("可在“病种目录”页对病种、在“医院”页对本院病例提出异议。"
                            if user.role == "hospital" else ""))
    else:
        counts = objections["status"].value_counts()
        for col, (code, label) in zip(st.columns(len(STATUSES)), STATUSES.items(), strict=True):
            col.metric(label, int(counts.get(code, 0)))
        if user.role == "hospital":
            _table(objections, OBJECTION_COLUMNS[:1] + OBJECTION_COLUMNS[2:])
        else:
            st.caption("按病种汇总（病例异议归入该病例所在病种）")
            _table(by_group(objections), list(by_group(objections).columns))
            _grouped(objections)
        _history_and_attachment(store, user, objections)
    if user.role == "expert":
        _decide(objections)
        _new_adjustment(user)
        _confirm()
    button = "生成 Excel（本院异议及决定）" if user.role == "hospital" else "生成 Excel（专家组会议用）"
    common.excel_download(feedback_data.export_xlsx, "feedback_xlsx", button,
                          "feedback_export", "下载反馈与确认（.xlsx）",
                          f"反馈与确认_{dt.date.today():%Y%m%d}.xlsx", "feedback_download")


def _confirmed(store, user) -> None:
    """Which catalogue version the panel confirmed last, and which objections it answered."""
    confirmations = store.confirmations(user)
    if confirmations.empty:
        st.info("专家组尚未确认目录版本。")
        return
    row = confirmations.iloc[0]
    st.success(f"专家组确认的目录版本：{row['catalog_version']}（情景 {row['scenario']}），"
               f"{pd.Timestamp(row['confirmed_at']):%Y-%m-%d %H:%M} UTC 由 {row['confirmed_by']} "
               f"确认，答复异议 {int(row['n_answered'])} 条。"
               + (f" 说明：{row['note']}" if row["note"] else ""), icon=":material/verified:")
    answered = feedback_data.objections()
    answered = answered[answered["confirmation_id"] == row["confirmation_id"]]
    if len(answered):
        st.caption("此次确认答复的异议：" + "、".join(
            f"#{r.objection_id}（{STATUSES[r.status]}）" for r in answered.itertuples()))
        if user.role != "hospital":  # the panel's check: is what it accepted in this version?
            missing = feedback_data.adjustments_not_in_catalog(str(row["scenario"]), answered)
            if len(missing):
                st.warning("已采纳异议关联的目录调整未体现在所确认情景的目录中（该情景未使用此调整文件，"
                           "或调整未生效）：" + "、".join(
                               f"#{r.objection_id} → {r.adjustment_file} {r.adjustment_id}"
                               for r in missing.itertuples())
                           + "。请用引用该调整文件的情景重新模拟并确认。", icon=":material/warning:")
    if len(confirmations) > 1:
        with st.expander(f"历次确认（{len(confirmations)}）"):
            _table(confirmations, ["confirmation_id", "confirmed_at", "confirmed_by", "scenario",
                                   "catalog_version", "n_answered", "note"])


def _grouped(objections: pd.DataFrame) -> None:
    """Every objection, by catalogue group (one group at a time when asked)."""
    groups = sorted(objections["group_code"].fillna(NO_GROUP).unique())
    chosen = st.selectbox("病种", ["", *groups], format_func=lambda g: g or "全部病种",
                          key="feedback_group")
    shown = objections.assign(group_code=objections["group_code"].fillna(NO_GROUP))
    if chosen:
        shown = shown[shown["group_code"] == chosen]
    _table(shown.sort_values(["group_code", "objection_id"]), OBJECTION_COLUMNS)


def _history_and_attachment(store, user, objections: pd.DataFrame) -> None:
    """One objection's decisions in order, and its attachment for download."""
    with st.expander("单条异议的决定记录与附件"):
        ids = objections["objection_id"].tolist()
        labels = {int(r["objection_id"]): _objection_label(r) for _, r in objections.iterrows()}
        chosen = st.selectbox("查看的异议", ids, key="feedback_history_id", format_func=labels.get)
        if chosen is None:
            return
        history = store.decisions(user, int(chosen))
        if history.empty:
            st.caption("尚无决定。")
        else:
            _table(history, ["event_id", "decided_at", "decided_by", "decision", "reason",
                             "adjustment_file", "adjustment_id"])
        attachment = store.attachment(user, int(chosen))
        if attachment is not None:
            st.download_button(f"下载附件 {attachment.file_name}", attachment.content,
                               file_name=attachment.file_name, mime=attachment.media_type,
                               key="feedback_attachment")


def _link_options() -> dict[str, str]:
    """``file::id`` → a label, for every adjustment in the panel's files."""
    links = panel_adjustments()
    return {f"{r.file}::{r.adjustment_id}":
            f"{r.file} · {r.adjustment_id} · {ACTION_LABELS.get(r.action, r.action)} "
            f"{r.target} · {r.author} {r.date} · {str(r.reason)[:40]}"
            for r in links.itertuples()}


def _decide(objections: pd.DataFrame) -> None:
    """The panel's decision on one objection."""
    st.subheader("专家组决定")
    open_ = objections[objections["confirmation_id"].isna()]
    if open_.empty:
        st.caption("没有待决定的异议（已确认答复的异议不再改变决定）。")
        return
    open_ = open_.sort_values(["status", "objection_id"],
                              key=lambda s: s.ne("open") if s.name == "status" else s)
    labels = {int(r["objection_id"]): _objection_label(r) for _, r in open_.iterrows()}
    links = _link_options()
    with st.form("feedback_decide", clear_on_submit=True):
        objection_id = st.selectbox("异议", list(labels), format_func=labels.get,
                                    key="decide_objection")
        decision = st.radio("决定", list(DECISIONS), format_func=DECISIONS.get, horizontal=True,
                            key="decide_decision")
        reason = st.text_area("决定理由（不采纳时必填，将反馈给医院）", key="decide_reason")
        link = st.selectbox("关联的目录调整（采纳时必选）", ["", *links],
                            format_func=lambda k: links.get(k, "（无）"), key="decide_link")
        submitted = st.form_submit_button("记录决定")
    if submitted:
        try:
            checked = check_link(*link.split("::", 1)) if link else None
            feedback_data.decide(int(objection_id), decision, reason, checked)
        except FeedbackError as exc:
            st.error(str(exc))
        else:
            _flash(f"已记录对异议 #{objection_id} 的决定：{DECISIONS[decision]}。")


def _new_adjustment(user) -> None:
    """The panel writes a catalogue adjustment into its adjustments file (checked by the same
    loader as ``dip-sim simulate``), to link an accepted objection to."""
    with (st.expander("新建目录调整（写入 data/catalog_adjustments/ 的专家调整文件）"),
          st.form("feedback_adjustment")):
        left, right = st.columns(2)
        file = left.text_input("调整文件", value="feedback_adjustments.yaml", key="adj_file")
        adj_id = right.text_input("调整编号", key="adj_id")
        action = st.selectbox("调整类型", list(ACTIONS), format_func=ACTION_LABELS.get,
                              key="adj_action")
        left, right = st.columns(2)
        group = left.text_input("病种编码（协商分值、辅助分型）", key="adj_group")
        points = right.number_input("分值（协商分值）", min_value=0.0, value=0.0,
                                    key="adj_points")
        by = left.selectbox("辅助分型维度", SPLIT_DIMENSIONS, key="adj_by")
        code = right.text_input("手术操作编码（改按保守治疗）", key="adj_code")
        merged = left.text_input("合并的病种（逗号分隔）", key="adj_groups")
        into = right.text_input("并入病种", key="adj_into")
        reason = st.text_area("调整理由", key="adj_reason")
        submitted = st.form_submit_button("写入调整")
    if not submitted:
        return
    fields = {"set_points": {"group": group.strip(), "points": points or None},
              "split": {"group": group.strip(), "by": by},
              "merge": {"groups": [g.strip() for g in merged.replace("，", ",").split(",")
                                   if g.strip()], "into": into.strip()},
              "conservative_procedure": {"code": code.strip()}}[action]
    entry = {"id": adj_id.strip(), "action": action, **fields, "author": user.name,
             "date": dt.date.today(), "reason": reason.strip()}
    try:
        link = write_adjustment(file, entry)
    except FeedbackError as exc:
        st.error(str(exc))
        return
    st.success(f"已写入 {link.file} 的调整 {link.adjustment_id}：可在“关联的目录调整”中选用；"
               "运行引用该文件（参数 catalog.adjustments_file）的情景后，调整进入新的目录版本。")


def _confirm() -> None:
    """The panel confirms a scenario's catalogue version after its round of feedback."""
    st.subheader("确认目录版本")
    scenarios = data.scenarios()
    names = [str(s) for s in scenarios["scenario"]]
    with st.form("feedback_confirm"):
        scenario = st.selectbox("确认的情景目录", names, key="confirm_scenario",
                                format_func=lambda s: common.scenario_label(
                                    scenarios[scenarios["scenario"] == s].iloc[0]))
        note = st.text_area("说明（可选）", key="confirm_note")
        submitted = st.form_submit_button("确认目录版本")
    st.caption("确认答复所有已采纳或不采纳、尚未答复的异议；暂缓的异议留待下一轮。尚有待处理异议时不能确认。")
    if submitted:
        try:
            number = feedback_data.confirm(scenario, note)
        except (FeedbackError, data.DataUnavailable) as exc:
            st.error(getattr(exc, "message", None) or str(exc))
        else:
            _flash(f"已确认情景 {scenario} 的目录版本（确认 #{number}）。")


if __name__ == "__main__":
    render()
