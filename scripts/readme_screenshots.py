"""The screenshots of docs/dashboard.md: every page of the dashboard, as the bureau and as a hospital user.

    .venv/bin/python scripts/readme_screenshots.py --db data/warehouse.duckdb --out docs/screenshots

Serves ``app.py`` on a free local port against ``--db`` with throw-away accounts (a users file
in a temporary folder), drives Debian's Chromium through Playwright (the browser tests' way:
``tests/test_browser.py``), and writes one PNG per page, the window as tall as the page up to
``--max-height`` pixels. The server is stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

from dip_sim.auth import add_user

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
PAGES = {"总览": "overview", "预算情景": "scenario", "情景对比": "compare", "点值预测": "forecast",
         "运行监测": "monitor", "医院": "hospital", "病种目录": "catalog", "数据质量": "quality",
         "监管与考核": "supervision"}


def main(argv: list[str] | None = None) -> int:
    """Take the screenshots; print the files written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--hospital", default="H140302002", help="the hospital user's hospital")
    parser.add_argument("--max-height", type=int, default=1500)
    parser.add_argument("--compare", default="growth_8pct", help="情景对比 page: the scenario")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        users = Path(folder) / "users.json"
        add_user("bureau", "bureau", "screenshots-bureau", path=users)
        add_user("hospital", "hospital", "screenshots-hospital", args.hospital, path=users)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = {**os.environ, "DIP_SIM_DB": str(args.db.resolve()), "DIP_SIM_USERS": str(users)}
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                    break
                except OSError:
                    time.sleep(0.3)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                            args=LAUNCH_ARGS)
                _shoot(browser, url, "bureau", "screenshots-bureau", list(PAGES), args)
                _shoot(browser, url, "hospital", "screenshots-hospital",
                       ["医院", "监管与考核"], args)
                browser.close()
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=15)
    return 0


def _shoot(browser, url: str, name: str, password: str, titles: list[str], args) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page.set_default_timeout(120_000)
    page.goto(url)
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("button", name="退出登录").wait_for()
    for title in titles:
        page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).click()
        page.locator("h1").filter(has_text=title).wait_for()
        page.wait_for_timeout(1000)
        page.wait_for_function(
            "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')")
        if title == "情景对比" and args.compare:  # the example scenario shown in docs/dashboard.md
            page.get_by_label("对比情景").click()
            page.get_by_role("option").filter(has_text=args.compare).first.click()
            page.wait_for_timeout(2000)
        if title == "预算情景":  # a what-if beside the baseline
            page.get_by_label("基金增长率（%）").fill("8")
            page.get_by_label("基金增长率（%）").press("Enter")
            page.wait_for_timeout(1000)
            page.get_by_role("button", name="运行试算").click()
            page.get_by_text("试算结果").wait_for()
        height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
        page.set_viewport_size({"width": 1400, "height": min(max(height, 1000), args.max_height)})
        page.wait_for_timeout(1500)
        path = args.out / f"{name}_{PAGES[title]}.png"
        page.screenshot(path=str(path))
        page.set_viewport_size({"width": 1400, "height": 1000})
        print(path)
    page.close()


if __name__ == "__main__":
    raise SystemExit(main())
