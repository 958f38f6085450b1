#!/bin/sh
# Installs what the browser tests (tests/test_browser.py) need from Debian's
# packages when it is missing: the chromium browser (/usr/bin/chromium, driven by Playwright
# through executable_path) and fonts-noto-cjk (so that the Chinese pages render, not boxes).
# Playwright itself comes from PyPI with the test extras. Does nothing when both are present.
set -eu

missing=""
[ -x /usr/bin/chromium ] || missing="chromium"
dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q "ok installed" \
    || missing="$missing fonts-noto-cjk"
[ -z "$missing" ] && exit 0

echo "安装浏览器测试所需的 Debian 软件包 / installing for the browser tests:$missing"
if [ "$(id -u)" = 0 ]; then
    run=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    run="sudo -n"
else
    echo "error: the browser tests need the Debian packages:$missing" >&2
    echo "       install them as root: apt-get install -y$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$run apt-get update -qq
# shellcheck disable=SC2086  # the package list is meant to split
$run apt-get install -y -qq --no-install-recommends $missing >/dev/null
[ -x /usr/bin/chromium ] || { echo "error: chromium was not installed at /usr/bin/chromium" >&2; exit 1; }
