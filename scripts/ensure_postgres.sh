#!/bin/sh
# Installs what the feedback store's PostgreSQL tests (tests/test_feedback_store.py, fixture
# postgres_server in tests/conftest.py) need from Debian's packages when it is missing: the
# postgresql server (initdb, pg_ctl and postgres under /usr/lib/postgresql/*/bin). The tests
# start a throwaway cluster of their own in a temporary folder on a free port; the packaged
# cluster is not used. Does nothing when the server binaries are present.
set -eu

found() {
    for initdb in /usr/lib/postgresql/*/bin/initdb; do
        [ -x "$initdb" ] && return 0
    done
    return 1
}

found && exit 0
sh "$(dirname "$0")/apt_install.sh" "the PostgreSQL tests" postgresql
found || { echo "error: postgresql was installed but /usr/lib/postgresql/*/bin/initdb is missing" >&2; exit 1; }
