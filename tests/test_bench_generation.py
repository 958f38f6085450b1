"""The benches generate their cities once: a whole generation is marked and kept, an unfinished
or failed one is made again (``benchmarks.run_bench.generate_once``)."""

from __future__ import annotations

import pytest

from benchmarks.run_bench import complete_marker, generate_once


def _writer(directory, calls, finishes=True):
    def generate() -> bool:
        calls.append(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "cases_2020.parquet").write_text("rows")
        return finishes
    return generate


def test_a_whole_generation_is_kept_and_an_unfinished_one_made_again(tmp_path):
    city, calls = tmp_path / "city", []
    generate_once(city, 100, _writer(city, calls))
    assert complete_marker(city, 100).exists() and len(calls) == 1
    generate_once(city, 100, _writer(city, calls))
    assert len(calls) == 1  # marked: not made again

    (city / "left_over.parquet").write_text("half")
    complete_marker(city, 100).unlink()  # an interrupted generation leaves no marker
    generate_once(city, 100, _writer(city, calls))
    assert len(calls) == 2 and not (city / "left_over.parquet").exists()
    assert not complete_marker(city, 200).exists()  # another size is another city


def test_a_failed_generation_is_not_marked_and_stops_the_bench(tmp_path):
    city, calls = tmp_path / "city", []
    with pytest.raises(SystemExit, match="未标记为完整数据"):
        generate_once(city, 100, _writer(city, calls, finishes=False))
    assert not complete_marker(city, 100).exists()
    generate_once(city, 100, _writer(city, calls))  # the next run makes it again
    assert len(calls) == 2 and complete_marker(city, 100).exists()
