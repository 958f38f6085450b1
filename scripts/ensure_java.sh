#!/bin/sh
# Installs what the Spark engine's tests (tests/test_spark_engine.py) need from Debian's
# packages when it is missing: a headless Java runtime for PySpark's JVM (Spark 4 runs on
# Java 17 or later; Debian's default-jre-headless is 17 on bookworm). PySpark itself comes from
# PyPI as a dependency. Does nothing when `java` is on the PATH.
set -eu

command -v java >/dev/null 2>&1 && exit 0

sh "$(dirname "$0")/apt_install.sh" "the Spark engine's tests" default-jre-headless
command -v java >/dev/null 2>&1 || { echo "error: java was not installed (default-jre-headless)" >&2; exit 1; }
