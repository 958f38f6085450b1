"""The feedback workbook for the panel's meeting (``dip-sim feedback export``, and the
download on the 反馈与确认 page): the objections with their status, a summary per catalogue
group, every decision in order, and the confirmations."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import pandas as pd

from dip_sim.auth import User
from dip_sim.feedback.rules import DECISIONS, STATUSES, TARGETS, TOPICS
from dip_sim.feedback.store import FeedbackStore
from dip_sim.workbook import write_workbook

LABELS: dict[str, str] = {
    "objection_id": "异议编号", "raised_at": "提出时间（UTC）", "raised_by": "提出人",
    "hospital_id": "医院", "scenario": "情景", "catalog_version": "目录版本",
    "target": "异议对象", "group_code": "病种编码", "case_id": "清单流水号", "topic": "异议内容",
    "reason": "理由", "attachment_name": "附件", "status": "状态",
    "decided_at": "决定时间（UTC）", "decided_by": "决定人", "decision": "决定",
    "decision_reason": "决定理由", "adjustment_file": "调整文件", "adjustment_id": "调整编号",
    "adjustment_sha256": "调整文件 SHA-256", "confirmation_id": "确认编号",
    "confirmed_version": "确认的目录版本", "event_id": "记录号",
    "confirmed_at": "确认时间（UTC）", "confirmed_by": "确认人", "note": "说明",
    "n_answered": "答复异议数", "n_objections": "异议数", "n_hospitals": "医院数",
    **{f"n_{s}": f"{label}数" for s, label in STATUSES.items()},
}
NO_GROUP = "（未入组）"


def named(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the workflow's codes (target, topic, status, decision) in Chinese."""
    out = frame.copy()
    for column, names in (("target", TARGETS), ("topic", TOPICS), ("status", STATUSES),
                          ("decision", DECISIONS)):
        if column in out.columns:
            out[column] = out[column].map(lambda v, n=names: n.get(v, v))
    return out


def by_group(objections: pd.DataFrame) -> pd.DataFrame:
    """The objections per catalogue group (a case without a group under 未入组): how many,
    from how many hospitals, and how many in each status."""
    columns = ["group_code", "n_objections", "n_hospitals", *(f"n_{s}" for s in STATUSES)]
    if objections.empty:
        return pd.DataFrame(columns=columns)
    frame = objections.assign(group_code=objections["group_code"].fillna(NO_GROUP))
    counts = pd.crosstab(frame["group_code"], frame["status"]).reindex(
        columns=list(STATUSES), fill_value=0).add_prefix("n_")
    summary = frame.groupby("group_code").agg(n_objections=("objection_id", "size"),
                                              n_hospitals=("hospital_id", "nunique"))
    return summary.join(counts).reset_index().sort_values(
        ["n_objections", "group_code"], ascending=[False, True])[columns]


def feedback_tables(store: FeedbackStore, user: User) -> dict[str, pd.DataFrame]:
    """The workbook's sheets, as ``user`` may see them (a hospital: its own objections)."""
    objections = store.objections(user)
    return {
        "异议与决定": named(objections.sort_values(["group_code", "objection_id"],
                                                 na_position="last")),
        "按病种汇总": by_group(objections),
        "决定记录": named(store.decisions(user)),
        "目录确认": store.confirmations(user),
    }


def write_feedback_workbook(store: FeedbackStore, user: User,
                            out: Path | BinaryIO) -> dict[str, int]:
    """Write the feedback workbook to ``out``; the rows written per sheet."""
    return write_workbook(feedback_tables(store, user), out, LABELS)
