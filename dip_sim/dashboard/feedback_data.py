"""The dashboard's access to the feedback store (docs/feedback.md): the signed-in reader, the
store opened once per server process, and the warehouse facts an objection is recorded with.

Every read and write goes through :class:`dip_sim.feedback.store.FeedbackStore` with the
signed-in user, which limits a hospital user to its own hospital's objections; a case
objection is taken only for a case of the user's own hospital (a scoped warehouse read here),
and a group objection only for a group of the scenario's catalogue. ``$DIP_SIM_HOSPITAL_ID``
limits the bureau's and the panel's view to that hospital, as on every page.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from dip_sim.access import access_settings
from dip_sim.auth import User
from dip_sim.dashboard import data, session
from dip_sim.feedback.links import AdjustmentLink
from dip_sim.feedback.rules import RAISE_ROLES, FeedbackError, check_attachment, require_role
from dip_sim.feedback.store import FeedbackStore, store_url

MB = 2**20


def reader() -> User:
    """The signed-in user; DataUnavailable when there is none."""
    user = session.current_user()
    if user is None:
        raise data.DataUnavailable("请先登录。")
    return user


@st.cache_resource(show_spinner=False)
def _open(url: str) -> FeedbackStore:
    return FeedbackStore(url)


def store(create: bool = True) -> FeedbackStore | None:
    """The configured store (one per server process). With ``create`` False, None when the
    SQLite file does not exist yet (a read that must not make it)."""
    url = store_url()
    if not create and url.startswith("sqlite:///") and not Path(url[10:]).exists():
        return None
    try:
        return _open(url)
    except FeedbackError as exc:
        raise data.DataUnavailable(str(exc)) from exc


def objections() -> pd.DataFrame:
    """The objections the reader may see, with their status (see ``FeedbackStore.objections``)."""
    user = reader()
    return store().objections(user, None if user.role == "hospital" else data.hospital_scope())


def catalog_version(scenario: str) -> str:
    """The catalogue version ``scenario`` was simulated with (``catalog_summary``), in the
    pooling region shown (each region has its own catalogue)."""
    region, region_params = data._region()
    df = data._query("SELECT any_value(catalog_version) AS v FROM catalog_summary "
                     f"WHERE scenario = ? AND {region}", [scenario, *region_params])
    version = df["v"].iloc[0] if len(df) else None
    if version is None or pd.isna(version):
        raise data.DataUnavailable(f"情景 {scenario} 没有目录版本：请重新运行 dip-sim simulate。")
    return str(version)


def adjustments_not_in_catalog(scenario: str, answered: pd.DataFrame) -> pd.DataFrame:
    """The accepted objections among ``answered`` whose linked adjustment ``scenario``'s
    catalogue does not carry: the scenario was run with another adjustments file (parameter
    catalog.adjustments_file in ``runs.params_json``), or the adjustment was not applied
    (table ``catalog_adjustments``). Columns: objection_id, adjustment_file, adjustment_id."""
    accepted = answered[(answered["status"] == "accepted") & answered["adjustment_id"].notna()]
    if accepted.empty:
        return accepted[["objection_id", "adjustment_file", "adjustment_id"]]
    region, region_params = data._region("r.region")
    applied = data._query(
        f"""
        SELECT json_extract_string(r.params_json, '$."catalog.adjustments_file"') AS file,
               a.adjustment_id
        FROM runs r LEFT JOIN catalog_adjustments a ON a.scenario = r.scenario AND a.applied
            AND a.region IS NOT DISTINCT FROM r.region
        WHERE r.scenario = ? AND {region}
        """, [scenario, *region_params])
    carried = {(f, i) for f, i in zip(applied["file"], applied["adjustment_id"], strict=True)}
    missing = [(f, i) not in carried
               for f, i in zip(accepted["adjustment_file"], accepted["adjustment_id"], strict=True)]
    return accepted.loc[missing, ["objection_id", "adjustment_file", "adjustment_id"]]


def raise_objection(scenario: str, target: str, topic: str, reason: str,
                    group_code: str | None = None, case_id: str | None = None,
                    upload=None) -> int:
    """Record the signed-in hospital user's objection against ``scenario``'s catalogue; return
    its number. ``upload``: a Streamlit uploaded file (name, bytes) or None."""
    user = require_role(session.current_user(), RAISE_ROLES, "提出异议")
    version = catalog_version(scenario)
    if target == "group":
        region, region_params = data._region()
        found = data._query("SELECT count(*) AS n FROM catalog_groups WHERE scenario = ? "
                            f"AND group_code = ? AND {region}",
                            [scenario, group_code or "", *region_params])
        if not int(found["n"].iloc[0]):
            raise FeedbackError(f"情景 {scenario} 的目录中没有病种 {group_code}。")
    else:
        group_code = own_case_group(scenario, (case_id or "").strip(), user)
    attachment = None
    if upload is not None:
        max_bytes = int(access_settings().feedback_attachment_max_mb * MB)
        attachment = check_attachment(upload.name, upload.getvalue(), max_bytes)
    return store().raise_objection(user, scenario=scenario, catalog_version=version,
                                   target=target, topic=topic, reason=reason,
                                   group_code=group_code, case_id=case_id,
                                   attachment=attachment)


def own_case_group(scenario: str, case_id: str, user: User) -> str | None:
    """The group of ``case_id`` in ``scenario`` (None when it was not grouped), if it is a case
    of ``user``'s hospital; else a FeedbackError (another hospital's case is not named)."""
    if not case_id:
        raise FeedbackError("请填写提出异议的病例（清单流水号）。")
    found = data._query(
        "SELECT any_value(group_code) AS group_code, bool_or(grouped) AS grouped "
        "FROM case_groups WHERE scenario = ? AND case_id = ? AND hospital_id = ?",
        [scenario, case_id, user.hospital_id or ""])
    if found.empty or pd.isna(found["grouped"].iloc[0]):
        raise FeedbackError(f"本院在情景 {scenario} 中没有清单流水号为 {case_id} 的病例。")
    code = found["group_code"].iloc[0]
    return None if not bool(found["grouped"].iloc[0]) or pd.isna(code) else str(code)


def decide(objection_id: int, decision: str, reason: str,
           link: AdjustmentLink | None) -> int:
    """Record the signed-in panel member's decision (see ``FeedbackStore.decide``)."""
    return store().decide(reader(), objection_id, decision, reason, link)


def confirm(scenario: str, note: str) -> int:
    """The signed-in panel member confirms ``scenario``'s catalogue version."""
    return store().confirm(reader(), scenario, catalog_version(scenario), note)


def export_xlsx() -> bytes:
    """The feedback workbook as the reader may see it (a hospital: its own objections)."""
    import io

    from dip_sim.feedback.export import write_feedback_workbook

    buffer = io.BytesIO()
    write_feedback_workbook(store(), reader(), buffer)
    return buffer.getvalue()
