"""The feedback round trip in a real browser (docs/feedback.md): Debian's Chromium through
Playwright, on the planted city and the fixtures of ``test_browser.py`` (a server of this
module's own, with a feedback store in its temporary folder).

Hospital A raises an objection on a catalogue group (with a PDF) and on one of its own cases
(another hospital's case is refused); hospital B raises one too; the expert panel accepts A's
group objection with an adjustment of the panel's file, rejects the case objection with a
reason, defers B's and confirms the baseline's catalogue version; the bureau sees every
status; each hospital sees only its own objections and the decisions on them, and the
confirmed version. The tests run in order, each in a fresh browser session.
"""

from __future__ import annotations

import duckdb
import pytest
from playwright.sync_api import expect

from dip_sim.auth import add_user
from tests import test_browser as shared
from tests.test_browser import PASSWORD, make_city, open_page, screenshot, sign_in, wait_idle

# the fixtures of test_browser.py, for this module (its own server, on its own city below)
browser, page, server = shared.browser, shared.page, shared.server

EXPERT_PASSWORD = "browser-test-expert"
REASON_A = "本院该病种费用明显高于分值所对应的费用"
REASON_CASE = "主要手术操作未被识别，应入手术组"
REASON_B = "B院认为分组键应包含操作"
REJECTED = "病案首页所填主要操作即为分组依据，分组无误"


@pytest.fixture(scope="module")
def city(planted_city, tmp_path_factory) -> dict:
    """The browser city with an expert and a second hospital's user, a group only one code
    matches, one case of each of the two hospitals, and the baseline's catalogue version."""
    folder = tmp_path_factory.mktemp("browser_feedback")
    made = make_city(planted_city, folder)
    other = made["others"][0][0]
    add_user("panel_expert", "expert", EXPERT_PASSWORD, path=made["users"])
    add_user("hospital_b", "hospital", PASSWORD["hospital"], hospital_id=other,
             path=made["users"])
    with duckdb.connect(str(made["db"]), read_only=True) as con:
        codes = [r[0] for r in con.execute(
            "SELECT group_code FROM catalog_groups WHERE scenario = 'baseline' "
            "ORDER BY group_type <> 'core', n_cases DESC, group_code").fetchall()]

        def case_of(hospital: str) -> str:
            return con.execute(
                "SELECT min(case_id) FROM case_groups WHERE scenario = 'baseline' "
                "AND hospital_id = ? AND grouped", [hospital]).fetchone()[0]

        version = con.execute("SELECT any_value(catalog_version) FROM catalog_summary "
                              "WHERE scenario = 'baseline'").fetchone()[0]
        own_case, other_case = case_of(made["own"]), case_of(other)
    group = next(c for c in codes if "|" in c and c.split("|")[1]
                 and sum(c in other_code for other_code in codes) == 1)
    pdf = folder / "说明.pdf"
    pdf.write_bytes(b"%PDF-1.4\n% feedback test\n")
    return {**made, "other": other, "group": group, "own_case": own_case,
            "other_case": other_case, "version": version, "pdf": pdf}


def feedback_page(page, waiting_for: str) -> str:
    """Open 反馈与确认 and its text once ``waiting_for`` is drawn (tables come a moment later
    than the rest of the page)."""
    open_page(page, "反馈与确认")
    page.locator('[data-testid="stMain"]').get_by_text(waiting_for).first.wait_for()
    return page.locator('[data-testid="stMain"]').text_content() or ""


def expand(page, title: str) -> None:
    """Open the expander whose title holds ``title``."""
    page.locator('[data-testid="stExpander"]').filter(has_text=title).locator("summary").click()
    wait_idle(page)


def choose(page, label: str, option: str) -> None:
    """Pick the option holding ``option`` in the selectbox labelled ``label``."""
    box = page.get_by_role("combobox", name=label, exact=True)
    expect(box).to_have_count(1)  # not while a rerun still shows the page's previous run
    box.click()
    box.fill(option)  # the selectbox filters its options by what is typed
    box.press("Enter")
    wait_idle(page)


def radio(page, label: str, option: str) -> None:
    """Pick ``option`` in the radio group labelled ``label``."""
    group = page.locator('[data-testid="stRadio"]').filter(has=page.get_by_text(label, exact=True))
    group.get_by_text(option, exact=True).click()


def submit(page, button: str, expect: str) -> str:
    """Click ``button`` and wait for the alert holding ``expect``; the alert's text."""
    page.get_by_role("button", name=button).click()
    wait_idle(page)
    alert = page.locator('[data-testid="stAlert"]').filter(has_text=expect)
    alert.first.wait_for()
    wait_idle(page)
    return alert.first.inner_text()


def raise_on_group(page, code: str, reason: str, pdf=None) -> str:
    open_page(page, "病种目录")
    page.get_by_label("病种编码或诊断名称包含").fill(code)
    page.get_by_label("病种编码或诊断名称包含").press("Enter")
    wait_idle(page)
    expand(page, "对病种提出异议")
    form = page.locator('[data-testid="stForm"]').filter(has_text="异议内容")
    radio(page, "异议内容", "分值")
    form.get_by_label("异议理由").fill(reason)
    if pdf is not None:
        form.locator('input[type="file"]').set_input_files(str(pdf))
        wait_idle(page)
    return submit(page, "提交异议", "已提交异议")


def test_hospitals_raise_objections_on_a_group_and_on_their_own_case(server, city, page):
    sign_in(page, server, "hospital_user", PASSWORD["hospital"])
    assert "#1" in raise_on_group(page, city["group"], REASON_A, city["pdf"])
    open_page(page, "医院")
    expand(page, "对本院病例的分组提出异议")
    form = page.locator('[data-testid="stForm"]').filter(has_text="清单流水号")
    form.get_by_label("清单流水号").fill(city["other_case"])  # another hospital's case
    form.get_by_label("异议理由").fill(REASON_CASE)
    assert city["other_case"] in submit(page, "提交异议", "没有清单流水号")
    form.get_by_label("清单流水号").fill(city["own_case"])
    form.get_by_label("异议理由").fill(REASON_CASE)
    assert "#2" in submit(page, "提交异议", "已提交异议")
    text = feedback_page(page, REASON_A)
    assert REASON_CASE in text and "待处理" in text
    screenshot(page, "hospital_feedback_raised")

    page.get_by_role("button", name="退出登录").click()
    page.get_by_label("用户名").wait_for()  # signed out (the session and its cookie ended)
    sign_in(page, server, "hospital_b", PASSWORD["hospital"])
    assert "#3" in raise_on_group(page, city["group"], REASON_B)
    text = feedback_page(page, REASON_B)
    assert REASON_A not in text and REASON_CASE not in text


def test_the_panel_decides_and_confirms_the_version(server, city, page):
    sign_in(page, server, "panel_expert", EXPERT_PASSWORD)
    text = feedback_page(page, REASON_B)
    for reason in (REASON_A, REASON_CASE, REASON_B):
        assert reason in text
    assert "专家组尚未确认目录版本" in text
    # the round is not over while an objection waits for a decision
    assert "尚有 3 条异议待处理" in submit(page, "确认目录版本", "待处理")

    choose(page, "异议", "#1 ·")
    radio(page, "决定", "采纳")
    choose(page, "关联的目录调整（采纳时必选）", "example_panel.yaml · A3")
    assert "采纳" in submit(page, "记录决定", "已记录对异议 #1 的决定")
    choose(page, "异议", "#2 ·")
    radio(page, "决定", "不采纳")
    page.get_by_label("决定理由（不采纳时必填，将反馈给医院）").fill(REJECTED)
    submit(page, "记录决定", "已记录对异议 #2 的决定")
    choose(page, "异议", "#3 ·")
    radio(page, "决定", "暂缓")
    submit(page, "记录决定", "已记录对异议 #3 的决定")

    choose(page, "确认的情景目录", "baseline")
    submit(page, "确认目录版本", "已确认情景 baseline")
    text = page.locator('[data-testid="stMain"]').text_content()
    assert f"专家组确认的目录版本：{city['version']}（情景 baseline）" in text
    assert "此次确认答复的异议：#1（采纳）、#2（不采纳）" in text
    # the baseline runs without the panel's file: the accepted adjustment is not in this version
    assert "未体现在所确认情景的目录中" in text and "#1 → example_panel.yaml A3" in text
    screenshot(page, "expert_feedback")


def test_the_bureau_sees_every_status(server, city, page):
    sign_in(page, server, "bureau", PASSWORD["bureau"])
    text = feedback_page(page, REJECTED)
    for word in ("采纳", "不采纳", "暂缓", REASON_B, REJECTED, "A3", city["version"]):
        assert word in text, word
    assert "记录决定" not in text  # decisions are the panel's
    screenshot(page, "bureau_feedback")


def test_each_hospital_sees_its_own_decisions_and_the_confirmed_version(server, city, page):
    sign_in(page, server, "hospital_user", PASSWORD["hospital"])
    text = feedback_page(page, REJECTED)
    assert "A3" in text and "example_panel.yaml" in text
    assert "生成 Excel（本院异议及决定）" in text  # its own objections, not the panel's workbook
    assert f"专家组确认的目录版本：{city['version']}" in text
    assert REASON_B not in text and city["other"] not in text and "#3" not in text
    text = open_page(page, "病种目录")
    assert f"本情景的目录版本 {city['version']} 已于" in text

    page.get_by_role("button", name="退出登录").click()
    page.get_by_label("用户名").wait_for()  # signed out (the session and its cookie ended)
    sign_in(page, server, "hospital_b", PASSWORD["hospital"])
    text = feedback_page(page, REASON_B)
    assert "暂缓" in text
    for hidden in (REASON_A, REASON_CASE, REJECTED, city["own"]):
        assert hidden not in text, hidden
