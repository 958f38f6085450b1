"""Every output of the pinned-seed city equals the recorded one, to the last digit.

The record (``tests/golden_outputs.json``, written by ``python -m tests.golden``) holds each
table's row count and a digest of each column's sorted values; the city is rebuilt here with
one DuckDB thread, so float sums add in the same order. A column renamed since the record
compares under its recorded name (``tests.golden.RENAMED``).
"""

from __future__ import annotations

import json

import pytest

from tests.golden import GOLDEN, RENAMED, build, digest


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, dict[str, str]]:
    mp = pytest.MonkeyPatch()
    mp.setenv("DIP_SIM_THREADS", "1")
    mp.setenv("DIP_SIM_PSEUDONYM_KEY", "k")
    try:
        return digest(build(tmp_path_factory.mktemp("golden")))
    finally:
        mp.undo()


def test_every_table_is_there_with_its_rows(outputs):
    recorded = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert sorted(outputs) == sorted(recorded)
    assert {t: v["_rows"] for t, v in outputs.items()} == \
        {t: v["_rows"] for t, v in recorded.items()}


def test_every_column_has_the_same_values(outputs):
    recorded = json.loads(GOLDEN.read_text(encoding="utf-8"))
    differing = []
    for table, columns in outputs.items():
        now = {RENAMED.get((table, c), c): d for c, d in columns.items()}
        for column in sorted(set(now) | set(recorded.get(table, {}))):
            if now.get(column) != recorded.get(table, {}).get(column):
                differing.append(f"{table}.{column}")
    assert not differing, f"changed: {differing}"
