"""The dashboard in a real browser (docs/dashboard.md): Debian's Chromium, driven by Playwright.

The planted city of ``conftest.py`` (generated, gaming planted, ingested, simulated for the
baseline and growth_8pct, supervised), with a users file of its own, is served by
``streamlit run app.py`` on a free local port, and headless Chromium (``/usr/bin/chromium``,
installed by ``make test`` through ``scripts/ensure_browser.sh``; Playwright from PyPI) signs
in as the bureau and as a hospital user, opens every page, runs a what-if and downloads the
hospital's statement. Screenshots of each page go to ``tests/artifacts/`` (git-ignored). The
server is stopped at the end.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import polars as pl
import pytest
from playwright.sync_api import sync_playwright

from dip_sim.auth import add_user
from dip_sim.dashboard.whatif import run_what_if

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
# the launch flags: no sandbox as root, and no background connections, which this
# machine's closed network refuses
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
YEAR = 2020
PASSWORD = {"bureau": "browser-test-bureau", "hospital": "browser-test-hospital"}
BUREAU_PAGES = ["总览", "预算情景", "情景对比", "点值预测", "运行监测", "医院", "病种目录",
                "数据质量", "监管与考核", "反馈与确认"]
HOSPITAL_PAGES = ["总览", "医院", "病种目录", "数据质量", "监管与考核", "反馈与确认"]
SLUG = {"总览": "overview", "预算情景": "scenario", "情景对比": "compare", "点值预测": "forecast",
        "运行监测": "monitor",
        "医院": "hospital",
        "病种目录": "catalog", "数据质量": "quality", "监管与考核": "supervision",
        "反馈与确认": "feedback"}
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def city(planted_city, tmp_path_factory) -> dict:
    """The planted city (conftest: simulated and supervised), a users file (bureau; a
    hospital user) and what the tests expect."""
    return make_city(planted_city, tmp_path_factory.mktemp("browser"))


def make_city(planted_city: dict, folder: Path) -> dict:
    """What :func:`city` returns, its files in ``folder`` (a feedback store of its own too)."""
    import duckdb

    db = planted_city["db"]
    with duckdb.connect(str(db), read_only=True) as con:
        hospitals = con.execute(
            "SELECT s.hospital_id, h.hospital_name FROM hospital_settlement s "
            "JOIN hospitals h USING (hospital_id) WHERE s.scenario = 'baseline' "
            "ORDER BY s.hospital_id").fetchall()
        pv = con.execute("SELECT pv_settlement_yuan FROM point_values "
                         "WHERE scenario = 'baseline'").fetchall()[0][0]
    users = folder / "users.json"
    own = hospitals[0][0]
    add_user("bureau", "bureau", PASSWORD["bureau"], path=users)
    add_user("hospital_user", "hospital", PASSWORD["hospital"], hospital_id=own, path=users)
    scenario_dir = folder / "scenarios"
    scenario_dir.mkdir()
    return {"db": db, "users": users, "scenarios": scenario_dir, "own": own,
            "others": hospitals[1:], "pv_settlement": pv, "log": folder / "streamlit.log",
            "feedback_db": folder / "feedback.sqlite"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve(env_extra: dict[str, str], log_path: Path):
    """``streamlit run app.py`` on a free local port with ``env_extra`` in its environment
    (not in hospital-user mode); its URL, then stopped (with its children)."""
    port = _free_port()
    env = {**os.environ, "DIP_SIM_PSEUDONYM_KEY": "k", **env_extra}
    for name in ("DIP_SIM_HOSPITAL_ID", "DIP_SIM_FEEDBACK_URL"):
        env.pop(name, None)
    log = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def server(city):
    """The app on the planted city, for this module's tests."""
    env = {"DIP_SIM_DB": str(city["db"]), "DIP_SIM_USERS": str(city["users"]),
           "DIP_SIM_SCENARIO_DIR": str(city["scenarios"]),
           "DIP_SIM_FEEDBACK_DB": str(city["feedback_db"]),
           "DIP_SIM_SESSION_KEY": "browser-test-session-key",
           "DIP_SIM_SIGNIN_DB": str(city["log"].with_name("signin.sqlite"))}
    with serve(env, city["log"]) as url:
        yield url


def _wait_healthy(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    """Wait until the server answers its health check; fail with its log if it does not."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"streamlit did not start (exit code {process.poll()}); see its log "
                "(streamlit.log in the test's temporary folder)")


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium through Playwright (``executable_path``: no browser download)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make test`, or scripts/ensure_browser.sh as root")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (its own session) with a desktop-sized window."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN",
                                  accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


def sign_in(page, url: str, name: str, password: str) -> None:
    """Fill in the sign-in form and wait for the signed-in sidebar."""
    page.goto(url)
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("button", name="退出登录").wait_for()
    wait_idle(page)


def wait_idle(page) -> None:
    """Wait until the script run has finished (the app's script state is ``notRunning``), and
    is still finished a moment later (a click reaches the server after a short while)."""
    for _ in range(2):
        page.wait_for_timeout(300)
        page.wait_for_function(
            "() => document.querySelector('[data-testid=\"stApp\"]')"
            "?.getAttribute('data-test-script-state') === 'notRunning'", timeout=TIMEOUT_MS)


def nav_titles(page) -> list[str]:
    """The page titles in the sidebar navigation."""
    links = page.locator('[data-testid="stSidebarNav"] a')
    return [links.nth(i).inner_text().split("\n")[-1].strip() for i in range(links.count())]


def open_page(page, title: str) -> str:
    """Open the page ``title`` from the sidebar; its text once drawn (failing on an exception)."""
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).click()
    page.locator("h1").filter(has_text=title).wait_for()
    wait_idle(page)
    exceptions = page.locator('[data-testid="stException"]')
    assert exceptions.count() == 0, f"{title}: {exceptions.first.inner_text()}"
    return page.locator('[data-testid="stMain"]').text_content() or ""


def screenshot(page, name: str) -> Path:
    """The whole page (the main area scrolls, so the window is made as tall as it) as a PNG."""
    ARTIFACTS.mkdir(exist_ok=True)
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": min(max(height, 1000), 6000)})
    page.wait_for_timeout(500)  # charts re-lay out to the new size
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1400, "height": 1000})
    return path


def test_bureau_opens_every_page(server, city, page):
    sign_in(page, server, "bureau", PASSWORD["bureau"])
    assert nav_titles(page) == BUREAU_PAGES
    for title in BUREAU_PAGES:
        text = open_page(page, title)
        assert "Traceback" not in text
        assert screenshot(page, f"bureau_{SLUG[title]}").stat().st_size > 10_000
        if title == "总览":
            # the settlement point value of the baseline, as the page prints it (元/分, 4 places)
            assert f"{city['pv_settlement']:.4f} 元/分" in text


def test_what_if_changes_the_point_value(server, city, page):
    sign_in(page, server, "bureau", PASSWORD["bureau"])
    open_page(page, "预算情景")
    growth = page.get_by_label("基金增长率（%）")
    base_growth = float(growth.input_value())
    growth.fill(f"{base_growth + 5:g}")
    growth.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="运行试算").click()
    page.get_by_text("试算结果").wait_for()
    wait_idle(page)
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="结算点值（元/分）")
    shown = metric.locator('[data-testid="stMetricValue"]').inner_text().strip()
    # the same what-if run here: 5 points more growth raises the fund and so the point value
    expected, _ = run_what_if(city["db"], {"budget.growth_rate": (base_growth + 5) / 100}, YEAR)
    assert shown == f"{expected['pv_settlement_yuan']:.4f}"
    assert expected["pv_settlement_yuan"] > city["pv_settlement"]
    screenshot(page, "bureau_scenario_what_if")


def test_hospital_user_sees_only_its_own_hospital(server, city, page, tmp_path):
    sign_in(page, server, "hospital_user", PASSWORD["hospital"])
    assert nav_titles(page) == HOSPITAL_PAGES
    others = city["others"]
    assert others, "the generated city has more than one hospital"
    for title in HOSPITAL_PAGES:
        text = open_page(page, title)
        for hospital_id, name in others:
            assert hospital_id not in text, (title, hospital_id)
            assert name not in text, (title, name)
        screenshot(page, f"hospital_{SLUG[title]}")
        if title == "医院":
            assert city["own"] in text

    # the statement: made on request, downloaded, and about this hospital only
    open_page(page, "医院")
    page.get_by_role("button", name="生成 Excel 结算单").click()
    wait_idle(page)
    with page.expect_download() as download_info:
        page.get_by_role("button", name="下载结算单（.xlsx）").click()
    download = download_info.value
    assert city["own"] in download.suggested_filename
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    sheets = pl.read_excel(io.BytesIO(saved.read_bytes()), sheet_id=0)
    text = "\n".join(str(frame.to_pandas().to_string()) for frame in sheets.values())
    assert city["own"] in text
    for hospital_id, _ in others:
        assert hospital_id not in text
