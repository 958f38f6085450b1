"""The feedback store (dip_sim/feedback, docs/feedback.md), each test on SQLite and on a real
PostgreSQL server (the throwaway cluster of ``tests/postgres.py``): append-only rows, status
= latest event, each hospital sees only its own, attachments checked, the panel's rules, the
link to the adjustments file, the Excel export and the CLI."""

from __future__ import annotations

import io
import zipfile

import pandas as pd
import pytest
import sqlalchemy as sa
import yaml

from dip_sim.auth import User
from dip_sim.feedback.export import write_feedback_workbook
from dip_sim.feedback.links import check_link, panel_adjustments, write_adjustment
from dip_sim.feedback.rules import FeedbackError, check_attachment
from dip_sim.feedback.store import TABLES, FeedbackStore

H1 = User("h1_user", "hospital", "H001")
H2 = User("h2_user", "hospital", "H002")
EXPERT = User("panel", "expert")
BUREAU = User("bureau", "bureau")
MB = 2**20


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """An empty store on SQLite (a file in tmp_path) or on a new PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'feedback.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_server").new_database()
    opened = FeedbackStore(url)
    yield opened
    opened.close()


def raise_group(store, user=H1, code="J18.9|", topic="points", **kw):
    return store.raise_objection(user, scenario="baseline", catalog_version="v1",
                                 target="group", topic=topic, reason="分值偏低",
                                 group_code=code, **kw)


def pdf(size: int = 100) -> bytes:
    return b"%PDF-1.4\n" + b"0" * size


def xlsx() -> bytes:
    """A minimal workbook, the same bytes at every call (each member dated, not stamped with
    the time it is written: two calls a second apart would differ)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, text in (("[Content_Types].xml", "<Types/>"), ("xl/workbook.xml", "<workbook/>")):
            z.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), text)
    return buffer.getvalue()


def read_sheets(path) -> dict[str, pd.DataFrame]:
    """Every sheet of the workbook at ``path`` (fastexcel, through polars)."""
    import polars as pl

    return {name: frame.to_pandas() for name, frame in pl.read_excel(path, sheet_id=0).items()}


def test_status_is_the_latest_event_and_every_change_is_a_new_row(store):
    first, second = raise_group(store), raise_group(store, code="K35.8|47.0900", topic="split")
    objections = store.objections(EXPERT).set_index("objection_id")
    assert list(objections["status"]) == ["open", "open"]
    store.decide(EXPERT, first, "deferred", "下一轮再议")
    store.decide(EXPERT, first, "rejected", "费用数据支持现分值")
    store.decide(EXPERT, second, "deferred")
    objections = store.objections(EXPERT).set_index("objection_id")
    assert objections.loc[first, "status"] == "rejected"
    assert objections.loc[first, "decision_reason"] == "费用数据支持现分值"
    assert objections.loc[second, "status"] == "deferred"
    history = store.decisions(EXPERT, first)
    assert list(history["decision"]) == ["deferred", "rejected"]  # the first kept
    with store.engine.connect() as conn:
        counts = {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
                  for t in TABLES}
    assert counts["feedback_objections"] == 2 and counts["feedback_decisions"] == 3


@pytest.mark.parametrize("statement", [
    "UPDATE feedback_objections SET reason = 'changed'",
    "DELETE FROM feedback_decisions",
    "UPDATE feedback_confirmations SET note = 'x'",
])
def test_the_database_refuses_to_change_or_remove_a_row(store, statement):
    n = raise_group(store)
    store.decide(EXPERT, n, "rejected", "理由")
    store.confirm(EXPERT, "baseline", "v1")
    with pytest.raises(sa.exc.DBAPIError, match="只增不改"), store.engine.begin() as conn:
        conn.execute(sa.text(statement))
    assert store.objections(EXPERT)["reason"].tolist() == ["分值偏低"]
    assert len(store.decisions(EXPERT)) == 1


def test_each_hospital_sees_only_its_own_objections_and_decisions(store):
    own = raise_group(store, H1, attachment=check_attachment("说明.pdf", pdf(), MB))
    other = raise_group(store, H2, attachment=check_attachment("明细.xlsx", xlsx(), MB))
    store.decide(EXPERT, other, "rejected", "H002 的理由")
    assert store.objections(H1)["objection_id"].tolist() == [own]
    # asking for another hospital does not widen a hospital user's view
    assert store.objections(H1, hospital_id="H002")["objection_id"].tolist() == [own]
    assert store.decisions(H1).empty
    assert store.decisions(H2)["objection_id"].tolist() == [other]
    assert store.objections(BUREAU)["objection_id"].tolist() == [own, other]
    assert store.objections(BUREAU, hospital_id="H002")["objection_id"].tolist() == [other]
    assert store.attachment(H1, own).file_name == "说明.pdf"
    assert store.attachment(EXPERT, other).content == xlsx()
    with pytest.raises(FeedbackError, match="不是本院"):
        store.attachment(H1, other)
    store.decide(EXPERT, own, "deferred")
    store.confirm(EXPERT, "baseline", "v2")
    # the confirmation is everyone's to see; a hospital counts only its own answered objections
    assert store.confirmations(H1)["n_answered"].tolist() == [0]
    assert store.confirmations(H2)["n_answered"].tolist() == [1]
    assert store.confirmations(BUREAU)["n_answered"].tolist() == [1]


def test_who_may_do_what(store):
    with pytest.raises(FeedbackError, match="只有医院用户可以提出异议"):
        raise_group(store, EXPERT)
    with pytest.raises(FeedbackError, match="没有所属医院"):
        raise_group(store, User("x", "hospital", None))
    n = raise_group(store)
    with pytest.raises(FeedbackError, match="只有专家组用户可以对异议作出决定"):
        store.decide(H1, n, "rejected", "自己驳回")
    with pytest.raises(FeedbackError, match="只有专家组用户可以确认目录版本"):
        store.confirm(BUREAU, "baseline", "v1")
    with pytest.raises(FeedbackError, match="分组键"):  # a group objection: points, split or key
        raise_group(store, topic="grouping")
    with pytest.raises(FeedbackError, match="请填写异议理由"):
        store.raise_objection(H1, scenario="baseline", catalog_version="v1", target="group",
                              topic="points", reason="  ", group_code="J18.9|")
    with pytest.raises(FeedbackError, match="没有编号为 99"):
        store.decide(EXPERT, 99, "deferred")


def test_decisions_need_their_reason_or_adjustment(store, tmp_path):
    n = raise_group(store)
    with pytest.raises(FeedbackError, match="不采纳须写明理由"):
        store.decide(EXPERT, n, "rejected", "")
    with pytest.raises(FeedbackError, match="采纳须关联"):
        store.decide(EXPERT, n, "accepted", "同意")
    link = write_adjustment("round1.yaml", {
        "id": "F1", "action": "set_points", "group": "J18.9|", "points": 620,
        "author": "panel", "date": "2021-03-01", "reason": "采纳医院异议"}, tmp_path)
    with pytest.raises(FeedbackError, match="只有采纳的异议关联目录调整"):
        store.decide(EXPERT, n, "deferred", "", link)
    store.decide(EXPERT, n, "accepted", "同意上调", link)
    row = store.objections(H1).iloc[0]
    assert (row["status"], row["adjustment_file"], row["adjustment_id"]) == (
        "accepted", "round1.yaml", "F1")
    assert store.decisions(EXPERT).iloc[0]["adjustment_sha256"] == link.sha256


def test_a_confirmation_answers_the_decided_objections_and_closes_them(store):
    accepted_later, rejected, deferred = raise_group(store), raise_group(store), raise_group(store)
    with pytest.raises(FeedbackError, match="尚有 3 条异议待处理"):
        store.confirm(EXPERT, "panel", "v2")
    store.decide(EXPERT, rejected, "rejected", "不支持")
    store.decide(EXPERT, deferred, "deferred")
    store.decide(EXPERT, accepted_later, "deferred")
    first = store.confirm(EXPERT, "panel", "v2", "第一轮")
    answered = store.objections(EXPERT).set_index("objection_id")["confirmation_id"]
    assert answered.fillna(0).astype(int).to_dict() == {accepted_later: 0, rejected: first,
                                                         deferred: 0}
    with pytest.raises(FeedbackError, match="已由目录版本 v2 的确认答复"):
        store.decide(EXPERT, rejected, "deferred")
    store.decide(EXPERT, deferred, "rejected", "第二轮不支持")
    store.decide(EXPERT, accepted_later, "rejected", "第二轮不支持")
    second = store.confirm(EXPERT, "panel", "v3")
    confirmations = store.confirmations(EXPERT)
    assert confirmations["confirmation_id"].tolist() == [second, first]  # latest first
    assert confirmations["n_answered"].tolist() == [2, 1]
    assert store.objections(BUREAU)["confirmed_version"].tolist() == ["v3", "v2", "v3"]


def test_attachments_are_checked_for_type_content_and_size():
    assert check_attachment("a/b/清单.PDF", pdf(), MB).file_name == "清单.PDF"
    assert check_attachment("x.xlsx", xlsx(), MB).media_type.endswith("spreadsheetml.sheet")
    with pytest.raises(FeedbackError, match="类型不受理"):
        check_attachment("x.docx", b"PK", MB)
    with pytest.raises(FeedbackError, match="不是 PDF"):
        check_attachment("x.pdf", b"hello", MB)
    with pytest.raises(FeedbackError, match="不是 Excel 工作簿"):
        check_attachment("x.xlsx", pdf(), MB)
    with pytest.raises(FeedbackError, match="空文件"):
        check_attachment("x.pdf", b"", MB)
    with pytest.raises(FeedbackError, match=r"1\.0 MB，超过上限 1 MB"):
        check_attachment("x.pdf", pdf(MB), MB)


def test_the_attachment_limit_is_the_access_parameter():
    from dip_sim.access import access_settings

    assert access_settings().feedback_attachment_max_mb == 10.0


def test_adjustments_are_linked_and_written_through_the_loader(tmp_path):
    (tmp_path / "a.yaml").write_text(
        "# 注释\nadjustments:\n  - id: A1\n    action: split\n    group: K35.8\n    by: age\n"
        "    author: 专家\n    date: 2021-01-05\n    reason: 年龄差异\n", encoding="utf-8")
    assert check_link("a.yaml", "A1", tmp_path).adjustment_id == "A1"
    with pytest.raises(FeedbackError, match="没有编号为 A9 的调整（现有：A1）"):
        check_link("a.yaml", "A9", tmp_path)
    with pytest.raises(FeedbackError, match="调整文件名"):
        check_link("../x.yaml", "A1", tmp_path)
    with pytest.raises(FeedbackError, match="points 应为正数"):
        write_adjustment("a.yaml", {"id": "A2", "action": "set_points", "group": "K35.8",
                                    "points": -1, "author": "p", "date": "2021-02-01",
                                    "reason": "r"}, tmp_path)
    with pytest.raises(FeedbackError, match="id 重复"):
        write_adjustment("a.yaml", {"id": "A1", "action": "split", "group": "K35.8",
                                    "by": "cci", "author": "p", "date": "2021-02-01",
                                    "reason": "r"}, tmp_path)
    write_adjustment("a.yaml", {"id": "A2", "action": "merge", "groups": ["K80.0", "K80.5"],
                                "into": "K80.5", "author": "p", "date": "2021-02-01",
                                "reason": "合并"}, tmp_path)
    text = (tmp_path / "a.yaml").read_text(encoding="utf-8")
    assert text.startswith("# 注释\n")  # the panel's comments are kept
    assert [a["id"] for a in yaml.safe_load(text)["adjustments"]] == ["A1", "A2"]
    write_adjustment("new.yaml", {"id": "N1", "action": "conservative_procedure",
                                  "code": "99.0401", "author": "p", "date": "2021-02-02",
                                  "reason": "r"}, tmp_path)
    listed = panel_adjustments(tmp_path)
    assert listed[["file", "adjustment_id"]].values.tolist() == [
        ["a.yaml", "A1"], ["a.yaml", "A2"], ["new.yaml", "N1"]]
    assert list(tmp_path.glob("*.tmp")) == []


def test_export_and_cli(store, tmp_path, monkeypatch, capsys):
    from dip_sim.cli import main

    a, b = raise_group(store), raise_group(store, H2, code="K35.8|47.0900", topic="key")
    store.raise_objection(H1, scenario="baseline", catalog_version="v1", target="case",
                          topic="grouping", reason="主诊断选择有误", case_id="C001")
    store.decide(EXPERT, a, "rejected", "维持")
    store.decide(EXPERT, b, "deferred")
    out = tmp_path / "own.xlsx"
    write_feedback_workbook(store, H1, out)
    sheets = read_sheets(out)
    assert list(sheets) == ["异议与决定", "按病种汇总", "决定记录", "目录确认"]
    assert set(sheets["异议与决定"]["医院"]) == {"H001"}  # a hospital's export: its own
    assert set(sheets["异议与决定"]["状态"]) == {"不采纳", "待处理"}
    monkeypatch.setenv("DIP_SIM_FEEDBACK_URL", store.url)
    assert main(["feedback", "export", "--out", str(tmp_path / "all.xlsx")]) == 0
    sheets = read_sheets(tmp_path / "all.xlsx")
    summary = sheets["按病种汇总"].set_index("病种编码")
    assert summary.loc["J18.9|", "不采纳数"] == 1 and summary.loc["K35.8|47.0900", "暂缓数"] == 1
    assert summary.loc["（未入组）", "待处理数"] == 1
    assert len(sheets["决定记录"]) == 2
    assert main(["feedback", "status"]) == 0
    assert "J18.9|" in capsys.readouterr().out
