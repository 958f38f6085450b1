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

# shellcheck disable=SC2086  # the package list is meant to split
sh "$(dirname "$0")/apt_install.sh" "the browser tests" $missing
[ -x /usr/bin/chromium ] || { echo "error: chromium was not installed at /usr/bin/chromium" >&2; exit 1; }
