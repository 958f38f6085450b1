"""The workflow's rules: what an objection is about, the panel's decisions, who may do what,
and which attachments are taken (docs/feedback.md).

The pilot plan (阳政发〔2021〕3号) asks that grouping results and points be fed back to the
hospitals, discussed with them and finally confirmed (反馈沟通优化分值，最终确认病种分值): a
hospital raises an objection, the expert panel decides on it, and the panel confirms the
catalogue version its round of feedback led to.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import PurePath

from dip_sim.auth import User


class FeedbackError(ValueError):
    """A request the workflow refuses; the message (Chinese) says why and how to fix it."""


# what an objection is raised on, and what it is about on each
TARGETS: dict[str, str] = {"group": "病种", "case": "病例"}
TOPICS: dict[str, str] = {
    "points": "分值",
    "split": "拆分（辅助分型）",
    "key": "分组键（诊断与操作）",
    "grouping": "病例入组",
}
TOPICS_BY_TARGET: dict[str, tuple[str, ...]] = {
    "group": ("points", "split", "key"),
    "case": ("grouping",),
}
DECISIONS: dict[str, str] = {"accepted": "采纳", "rejected": "不采纳", "deferred": "暂缓"}
# an objection's status is its latest event: open until the panel's first decision
STATUSES: dict[str, str] = {"open": "待处理", **DECISIONS}
# the decisions a confirmation answers; a deferred objection waits for the next round
ANSWERING: tuple[str, ...] = ("accepted", "rejected")

# who may do what: hospitals raise, the panel decides and confirms, everyone reads (scoped)
RAISE_ROLES = ("hospital",)
PANEL_ROLES = ("expert",)

ATTACHMENT_TYPES: dict[str, str] = {
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pdf": "application/pdf",
}


@dataclass(frozen=True)
class Attachment:
    """A checked attachment: its file name, type, bytes and SHA-256."""

    file_name: str
    media_type: str
    content: bytes

    @property
    def sha256(self) -> str:
        """The content's SHA-256 (hex), kept with it for the audit trail."""
        return hashlib.sha256(self.content).hexdigest()


def require_role(user: User | None, roles: tuple[str, ...], action: str) -> User:
    """``user`` when its role is one of ``roles``; else a FeedbackError naming ``action``."""
    if user is None:
        raise FeedbackError(f"请先登录再{action}。")
    if user.role not in roles:
        allowed = "、".join(_role_name(r) for r in roles)
        raise FeedbackError(f"只有{allowed}用户可以{action}（当前用户 {user.name} 的角色为 "
                            f"{_role_name(user.role)}）。")
    if user.role == "hospital" and not user.hospital_id:
        raise FeedbackError(f"医院用户 {user.name} 没有所属医院，不能{action}。")
    return user


def _role_name(role: str) -> str:
    from dip_sim.auth import ROLES

    return ROLES.get(role, role)


def check_topic(target: str, topic: str) -> None:
    """Refuse a target or topic the workflow does not know, or a topic of the other target."""
    if target not in TARGETS:
        raise FeedbackError(f"异议对象 {target!r} 未知，应为 {list(TARGETS)} 之一")
    if topic not in TOPICS_BY_TARGET[target]:
        allowed = "、".join(f"{t}（{TOPICS[t]}）" for t in TOPICS_BY_TARGET[target])
        raise FeedbackError(f"对{TARGETS[target]}的异议内容 {topic!r} 不对，应为 {allowed} 之一")


def check_text(value: str | None, field: str) -> str:
    """``value`` stripped; a FeedbackError naming ``field`` when it is empty."""
    text = (value or "").strip()
    if not text:
        raise FeedbackError(f"请填写{field}。")
    return text


def check_decision(decision: str, reason: str | None, has_adjustment: bool) -> str:
    """The decision's reason (stripped): required when rejecting; an accepted objection must
    name the catalogue adjustment it led to, the others none."""
    if decision not in DECISIONS:
        raise FeedbackError(f"决定 {decision!r} 未知，应为 "
                            + "、".join(f"{k}（{v}）" for k, v in DECISIONS.items()) + " 之一")
    text = (reason or "").strip()
    if decision == "rejected" and not text:
        raise FeedbackError("不采纳须写明理由（将反馈给提出异议的医院）。")
    if decision == "accepted" and not has_adjustment:
        raise FeedbackError("采纳须关联由此产生的目录调整（专家调整文件中的调整编号），"
                            "可选已有调整或先新建一条。")
    if decision != "accepted" and has_adjustment:
        raise FeedbackError(f"只有采纳的异议关联目录调整（当前决定：{DECISIONS[decision]}）。")
    return text


def check_attachment(file_name: str, content: bytes, max_bytes: int) -> Attachment:
    """The attachment when it is an .xlsx or .pdf file of at most ``max_bytes`` whose content
    is what its name says (a PDF header; an Office Open XML workbook); else a FeedbackError."""
    name = PurePath(file_name or "").name
    suffix = PurePath(name).suffix.lower()
    if suffix not in ATTACHMENT_TYPES:
        raise FeedbackError(f"附件 {name or '（无名）'} 的类型不受理：只接受 "
                            f"{'、'.join(ATTACHMENT_TYPES)} 文件。")
    if not content:
        raise FeedbackError(f"附件 {name} 是空文件。")
    if len(content) > max_bytes:
        raise FeedbackError(f"附件 {name} 有 {len(content) / 2**20:.1f} MB，超过上限 "
                            f"{max_bytes / 2**20:.0f} MB（参数 access.feedback_attachment_max_mb）；"
                            "请压缩或拆分后再上传。")
    if suffix == ".pdf" and not content.startswith(b"%PDF-"):
        raise FeedbackError(f"附件 {name} 不是 PDF 文件（内容没有 PDF 文件头）。")
    if suffix == ".xlsx" and not _is_workbook(content):
        raise FeedbackError(f"附件 {name} 不是 Excel 工作簿（.xlsx 应为含 xl/workbook.xml 的 "
                            "Office Open XML 文件）。")
    return Attachment(name, ATTACHMENT_TYPES[suffix], content)


def _is_workbook(content: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile:
        return False
    return {"[Content_Types].xml", "xl/workbook.xml"} <= names
