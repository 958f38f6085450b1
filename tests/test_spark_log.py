"""A Spark session dip-sim starts keeps Spark's own notices off the terminal: no start-up
warnings or log-level announcements, no log of a failed query (the failure reaches dip-sim as
an exception); only the JVM's own line about its incubator module is left."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

SCRIPT = """
from dip_sim.spark.engine import start_session
spark = start_session("local[1]", app="dip-sim-log-test")
import pandas as pd
assert spark.createDataFrame(pd.DataFrame({"a": [1]})).collect()[0].a == 1
try:
    spark.sql("SELECT * FROM no_such_table").collect()
except Exception as exc:
    print("failed:", str(exc).splitlines()[0])
spark.stop()
"""


def test_spark_says_nothing_but_the_failure_dip_sim_reports():
    if shutil.which("java") is None:
        pytest.fail("java 未安装：运行 sh scripts/ensure_java.sh（make test 会自动运行）", pytrace=False)
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("failed: [TABLE_OR_VIEW_NOT_FOUND]"), done.stdout
    lines = [line for line in done.stderr.splitlines()
             if line.strip() and not line.startswith("WARNING: Using incubator modules")]
    assert lines == [], "\n".join(lines)
