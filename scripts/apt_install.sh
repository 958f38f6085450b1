#!/bin/sh
# Installs Debian packages for the tests: scripts/apt_install.sh "what needs them" PACKAGE...
# As root directly, else through passwordless sudo; otherwise says how to install them and
# fails. Used by scripts/ensure_browser.sh, scripts/ensure_postgres.sh and scripts/ensure_java.sh.
set -eu

purpose=$1
shift
echo "安装测试所需的 Debian 软件包 / installing for $purpose: $*"
if [ "$(id -u)" = 0 ]; then
    run=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    run="sudo -n"
else
    echo "error: $purpose need the Debian packages: $*" >&2
    echo "       install them as root: apt-get install -y $*" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$run apt-get update -qq
$run apt-get install -y -qq --no-install-recommends "$@" >/dev/null
