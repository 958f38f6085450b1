"""`make bench`: the flow on a synthetic city of 1M, 10M or 40M discharges (4 years, Parquet).

``make bench SCALE=1M|10M|40M`` (default 10M, 2.5M discharges a year, 2017–2020). Each stage
runs as its own process through the ``dip-sim`` command line, so its wall time and peak
memory (max RSS, from ``os.wait4``) are its own: ingest (read, standardise, pseudonymise,
load), quality (病案质控), simulate (the baseline), a scenario changing only budget
parameters and one changing the grouping (``benchmarks/scenarios/``; ``dip-sim simulate
--scenario FILE``: the scenario alone, over the stored baseline), then supervise (the
baseline's supervision indices, assessment and anomaly screen). The generated data are kept
in ``data/bench/input-<SCALE>`` (``--input`` names another folder of the same files) and
reused by later runs; the warehouse is rebuilt every time.

The lean reference (``benchmarks/lean_reference.py``: the baseline's point values computed
from the same files by one short SQL script) runs as its own process too; each stage's time is
reported as a multiple of its time, and its point values must equal the pipeline's (OK or
MISMATCH; a mismatch fails the bench).

Targets at 10M on a 2-core machine (:data:`TARGETS`): ingest ≤ 20 s, quality ≤ 8 s, simulate
(baseline) ≤ 12 s, a budget-only scenario ≤ 1 s, a grouping scenario ≤ 12 s, supervise ≤ 10 s,
files to results (ingest + quality + simulate) ≤ 50 s, every stage's peak memory ≤ 4 GB.
At another size the times are reported against no target; the peak memory is judged at every
size.

Then (unless ``--pipeline-only``) real-extract ingest: 1M discharges (250,000 a year) as
hospitals send them (``synth --format extract``: GB18030 and UTF-8 CSV, Excel), loaded into a
warehouse of their own; rows per second for CSV (target ≥ 100,000) and for Excel (reported),
from each table's time in ``load_batches``. Then the dashboard on the demo city
(``dashboard_bench.py``): each page's load (target ≤ 2 s once cached) and a budget-only
what-if (≤ 0.3 s once the first has run); and the supervision indices on the gaming planted
in that city: each planting hospital's rank on its index (target top 3) and the case-level
precision and recall (split admissions: recall ≥ 90%). Last, the 预分组 API on the demo
warehouse (``api_bench.py``): single-request p99 (≤ 20 ms) and batch throughput (≥ 20,000
discharges/s).

The run's figures, with the machine they were measured on, go below the marker of
``docs/benchmark.md`` (:func:`write_figures`): one section per size, which a run at that size
replaces, and one for the extracts, dashboard and API; the prose above the marker is written
by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.api_bench import api_bench
from benchmarks.dashboard_bench import dashboard_bench, demo_warehouse, detection_bench
from benchmarks.lean_reference import TOLERANCE, compare

# discharges in all (4 years) by SCALE
SCALES = {"1M": 1_000_000, "10M": 10_000_000, "40M": 40_000_000}
N_YEARS = 4
TARGET_SCALE = "10M"  # the size the time targets are set for
# seconds at 10M on a 2-core machine, by stage
TARGETS: dict[str, float | None] = {
    "ingest": 20.0, "quality": 8.0, "simulate": 12.0, "scenario_budget": 1.0,
    "scenario_grouping": 12.0, "supervise": 10.0}
FILES_TO_RESULTS = ("ingest", "quality", "simulate")
FILES_TO_RESULTS_TARGET = 50.0
CSV_ROWS_PER_SECOND_TARGET = 100_000
PEAK_TARGET_GB = 4.0
STAGE_LABELS = {"ingest": "ingest", "quality": "quality", "simulate": "simulate (baseline)",
                "scenario_budget": "scenario, budget only",
                "scenario_grouping": "scenario, grouping (core threshold)",
                "supervise": "supervise (baseline)"}
SCENARIOS = Path(__file__).with_name("scenarios")
SCENARIO_FILES = {"scenario_budget": SCENARIOS / "budget_only.yaml",
                  "scenario_grouping": SCENARIOS / "core_threshold.yaml"}

PAGE = Path(__file__).resolve().parents[1] / "docs" / "benchmark.md"
# the line of docs/benchmark.md after which make bench writes the run's figures
MARKER = "<!-- figures: written by make bench (benchmarks/run_bench.py) below this line -->"
EXTRAS_HEADING = "### Real extracts, dashboard and API"
LEAN_LABEL = "lean reference"


@dataclass
class Stage:
    """One timed process: its label, wall seconds, target (None: none), peak memory."""

    label: str
    seconds: float
    target: float | None
    peak_gb: float | None
    lean_ratio: float | None = None  # seconds ÷ the lean reference's seconds


@dataclass
class Figures:
    """What one run measured, for the page."""

    date: str
    machine: dict[str, str]  # label → value, in the order shown
    scale: str = TARGET_SCALE
    stages: list[Stage] = field(default_factory=list)
    files_to_results: tuple[float, float | None] | None = None  # seconds, target
    lean: str = ""  # the lean reference's line: time, peak, point values OK or MISMATCH
    notes: list[str] = field(default_factory=list)  # load average, sizes per discharge
    verdict: str = ""  # of this size's stages
    extract: list[tuple[str, int, int, float, float, int | None]] = field(default_factory=list)
    extract_total: tuple[float, float | None] | None = None  # seconds, peak GB
    dashboard: str = ""  # markdown: the dashboard, detection and API benches' figures
    extras_verdict: str = ""  # of the extracts, dashboard and API ("" when not run)


def machine_info() -> dict[str, str]:
    """The machine and software the run is measured on (CPU model, cores, RAM, OS, versions)."""
    import duckdb

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "?"
    with contextlib.suppress(OSError, ValueError):
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        ram = f"{pages * size / 1024 ** 3:.1f} GB"
    return {"CPU": cpu, "cores": str(os.cpu_count()), "RAM": ram, "OS": platform.platform(),
            "Python": platform.python_version(), "DuckDB": duckdb.__version__}


def _cell(value: float | None, fmt: str, unit: str = "") -> str:
    return "–" if value is None else format(value, fmt) + unit


def scale_heading(scale: str) -> str:
    """The heading of a size's section of the page."""
    return f"### {scale} discharges"


def scale_markdown(figures: Figures) -> str:
    """The section of one size: each stage's time, target, peak memory and ratio to the lean
    reference, files to results, the lean reference, notes and the verdict."""
    lines = [f"{scale_heading(figures.scale)} ({figures.date})", "",
             "Machine: " + "; ".join(f"{k} {v}" for k, v in figures.machine.items()) + ".", "",
             "| stage | seconds | target | peak memory | × lean |", "|---|---|---|---|---|"]
    for s in figures.stages:
        lines.append(f"| {s.label} | {s.seconds:.1f} | {_cell(s.target, '.1f')} "
                     f"| {_cell(s.peak_gb, '.2f', ' GB')} | {_cell(s.lean_ratio, '.1f')} |")
    if figures.files_to_results is not None:
        seconds, target = figures.files_to_results
        lean = next((s.seconds for s in figures.stages if s.label == LEAN_LABEL), None)
        lines.append(f"| files to results | {seconds:.1f} | {_cell(target, '.0f')} | "
                     f"| {_cell(lean and seconds / lean, '.1f')} |")
    for line in [figures.lean, *figures.notes]:
        lines += ["", line] if line else []
    if figures.verdict:
        lines += ["", f"Verdict: {figures.verdict}."]
    return "\n".join(lines) + "\n"


def extras_markdown(figures: Figures) -> str:
    """The section of the real extracts, the dashboard and the API."""
    lines = [f"{EXTRAS_HEADING} ({figures.date})", ""]
    if figures.extract_total is not None:
        seconds, peak = figures.extract_total
        lines += [f"Real extracts: {seconds:.1f} s in all"
                  + ("" if peak is None else f", peak {peak:.2f} GB") + ".", "",
                  "| format | tables | rows | seconds | rows/s | target |",
                  "|---|---|---|---|---|---|"]
        for fmt, tables, rows, secs, rate, target in figures.extract:
            lines.append(f"| {fmt} | {tables:,} | {rows:,} | {secs:.1f} | {rate:,.0f} "
                         f"| {'–' if target is None else f'{target:,}'} |")
    if figures.dashboard:
        lines += ["", figures.dashboard.rstrip("\n")]
    if figures.extras_verdict:
        lines += ["", f"Verdict: {figures.extras_verdict}."]
    return "\n".join(lines) + "\n"


def _sections(generated: str) -> dict[str, str]:
    """The sections of the generated part of the page, by heading (its text up to the date)."""
    found = {}
    for block in re.split(r"(?m)^(?=### )", generated):
        if block.startswith("### "):
            found[block.split(" (", 1)[0].strip()] = block.rstrip("\n") + "\n"
    return found


def figures_markdown(figures: Figures, previous: str = "") -> str:
    """The generated part of the page: this run's sections, and those of ``previous`` (the
    generated part as it was) that this run did not measure: other sizes, and the extracts,
    dashboard and API when the run left them out."""
    sections = _sections(previous)
    if figures.stages:
        sections[scale_heading(figures.scale)] = scale_markdown(figures)
    if figures.extract_total is not None or figures.dashboard:
        sections[EXTRAS_HEADING] = extras_markdown(figures)

    def order(heading: str) -> float:
        size = heading.removeprefix("### ").split(" ", 1)[0]
        return SCALES.get(size, float("inf"))

    lines = [MARKER, "", "## Figures", "",
             "Written by `make bench`: one section per size of the city, which the next run "
             "at that size replaces, and one for the real extracts, the dashboard and the API.",
             ""]
    return "\n".join(lines) + "\n" + "\n".join(sections[h] for h in sorted(sections, key=order))


def write_figures(figures: Figures, page: Path = PAGE) -> None:
    """Write the run's figures below :data:`MARKER` of ``page``, keeping the sections of the
    sizes (and extras) it did not measure (the marker is appended when the page has none)."""
    text = page.read_text(encoding="utf-8") if page.exists() else "# Benchmark\n"
    prose, _, generated = text.partition(MARKER)
    page.write_text(prose.rstrip("\n") + "\n\n" + figures_markdown(figures, generated),
                    encoding="utf-8")


class _Tee(io.StringIO):
    """Captures what is printed while still printing it."""

    def write(self, text: str) -> int:
        sys.__stdout__.write(text)
        return super().write(text)


def run_stage(name: str, args: list[str], env: dict[str, str],
              module: str = "dip_sim.cli") -> tuple[float, float, int]:
    """Run ``python -m module args`` (default: ``dip-sim args``) as a child process; return
    (seconds, peak GB, exit code)."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", module, *args], env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    peak_gb = usage.ru_maxrss / (1024 * 1024)  # ru_maxrss is in KiB on Linux
    code = os.waitstatus_to_exitcode(status)
    print(f"[bench] {name}: {seconds:.1f} s, peak {peak_gb:.2f} GB, exit {code}", flush=True)
    return seconds, peak_gb, code


def ran(name: str, args: list[str], env: dict[str, str]) -> bool:
    """Run the stage as :func:`run_stage` does; whether it exited 0."""
    return run_stage(name, args, env)[2] == 0


def complete_marker(directory: Path, cases_per_year: int) -> Path:
    """The file that marks ``directory``'s generated city as whole."""
    return directory / f".complete-{cases_per_year}"


def generate_once(directory: Path, cases_per_year: int, generate: Callable[[], bool]) -> None:
    """Make ``directory`` by ``generate`` (True when it finished) unless a whole generation is
    marked in it; one that did not finish (no marker) is removed and made again. A generation
    that fails is not marked, and the bench stops."""
    marker = complete_marker(directory, cases_per_year)
    if marker.exists():
        return
    shutil.rmtree(directory, ignore_errors=True)
    if not generate():
        sys.exit(f"[bench] 生成 {directory} 失败（见上面的输出），未标记为完整数据；下次运行将重新生成")
    marker.touch()


def _size(path: Path) -> int:
    """Bytes of a file, or of every file below a folder."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _load() -> str:
    """The 1-, 5- and 15-minute load averages."""
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def lean_stage(source: Path, db: Path, year: int, env: dict[str, str]) -> tuple[Stage, str, bool]:
    """Run the lean reference as its own process and compare its point values with the
    warehouse's: its stage, the line for the page and whether they are equal."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "lean.json"
        seconds, peak, code = run_stage("lean reference", [
            str(source), "--year", str(year), "--out", str(out)], env,
            module="benchmarks.lean_reference")
        result = json.loads(out.read_text(encoding="utf-8")) if code == 0 else None
    lines = compare(result, db) if result else ["lean reference failed MISMATCH"]
    print("\n".join(lines))
    equal = not any(line.endswith("MISMATCH") for line in lines)
    verdict = "OK" if equal else "MISMATCH"
    tolerance = f"{TOLERANCE:.0e}".replace("e-0", "e-")
    line = (f"Lean reference (`benchmarks/lean_reference.sql`): {seconds:.1f} s, peak "
            f"{peak:.2f} GB; its budget and settlement point values equal the pipeline's "
            f"(relative {tolerance}), and its counts of grouped cases: {verdict}.")
    return Stage(LEAN_LABEL, seconds, None, peak), line, equal


def main(argv: list[str] | None = None) -> int:
    """Generate (once), then time the stages and the lean reference; print the figures and
    the verdict, and write them to docs/benchmark.md (not with ``--no-page``)."""
    parser = argparse.ArgumentParser(description="dip-sim benchmark")
    parser.add_argument("--dir", type=Path, default=Path("data/bench"))
    parser.add_argument("--scale", choices=SCALES, default=TARGET_SCALE,
                        help="discharges in all, over 4 years")
    parser.add_argument("--input", type=Path,
                        help="the city's Parquet files (default DIR/input-SCALE, generated once)")
    parser.add_argument("--year", type=int, default=2020)
    parser.add_argument("--extract-cases-per-year", type=int, default=250_000)
    parser.add_argument("--pipeline-only", action="store_true",
                        help="leave out the extracts, the dashboard and the API")
    parser.add_argument("--no-page", action="store_true", help="do not write docs/benchmark.md")
    args = parser.parse_args(argv)
    started = dt.date.today().isoformat()
    load_before = _load()
    cases_per_year = SCALES[args.scale] // N_YEARS
    source = args.input or args.dir / f"input-{args.scale}"
    db = args.dir / f"warehouse-{args.scale}.duckdb"
    env = dict(os.environ)
    env.setdefault("DIP_SIM_PSEUDONYM_KEY", "bench-key")
    marker = complete_marker(source, cases_per_year)
    if args.input and not marker.exists():
        parser.error(f"{source} 中没有 {args.scale} 的完整数据（缺少 {marker.name}）")
    first = args.year - N_YEARS + 1
    generate_once(source, cases_per_year, lambda: ran(
        "synth", ["synth", "--out", str(source), "--years", f"{first}-{args.year}",
                  "--cases-per-year", str(cases_per_year), "--format", "parquet"], env))
    for path in (db, Path(f"{db}.wal")):
        path.unlink(missing_ok=True)
    year = str(args.year)
    results = {
        "ingest": run_stage("ingest", ["ingest", str(source), "--db", str(db), "--skip-quality"],
                            env),
        "quality": run_stage("quality", ["quality", "--db", str(db)], env),
        "simulate": run_stage("simulate", ["simulate", "--year", year, "--db", str(db)], env),
    }
    lean, lean_line, equal = lean_stage(source, db, args.year, env)
    for stage, path in SCENARIO_FILES.items():
        results[stage] = run_stage(stage, ["simulate", "--year", year, "--db", str(db),
                                           "--scenario", str(path)], env)
    results["supervise"] = run_stage("supervise", ["supervise", "--db", str(db)], env)
    at_target = args.scale == TARGET_SCALE
    ok = equal
    stages = []
    for stage, (seconds, peak, code) in results.items():
        target = TARGETS[stage] if at_target else None
        ok &= code == 0 and (target is None or seconds <= target) and peak <= PEAK_TARGET_GB
        stages.append(Stage(STAGE_LABELS[stage] + (f", {year}" if stage == "simulate" else ""),
                            seconds, target, peak, seconds / lean.seconds))
    ok &= lean.peak_gb <= PEAK_TARGET_GB
    total = sum(results[s][0] for s in FILES_TO_RESULTS)
    total_target = FILES_TO_RESULTS_TARGET if at_target else None
    ok &= total_target is None or total <= total_target
    print(f"\n{args.scale} discharges ({cases_per_year:,} a year); lean reference "
          f"{lean.seconds:.1f} s")
    print(f"{'stage':<38}{'seconds':>9}{'target':>8}{'peak GB':>9}{'× lean':>8}")
    for s in [*stages, lean]:
        print(f"{s.label:<38}{s.seconds:>9.1f}{_cell(s.target, '.1f'):>8}"
              f"{_cell(s.peak_gb, '.2f'):>9}{_cell(s.lean_ratio, '.1f'):>8}")
    print(f"{'files to results':<38}{total:>9.1f}{_cell(total_target, '.0f'):>8}{'':>9}"
          f"{total / lean.seconds:>8.1f}")
    n = SCALES[args.scale]
    input_bytes, db_bytes = _size(source), _size(db)
    peak = max(p for _, p, _ in results.values())
    notes = [f"Sizes: the Parquet input {input_bytes / 1e6:,.0f} MB ({input_bytes / n:.0f} bytes "
             f"per discharge), the warehouse after the run {db_bytes / 1e9:.2f} GB "
             f"({db_bytes / n:.0f} bytes per discharge); the largest peak memory of a stage "
             f"{peak:.2f} GB.",
             f"Load average (1 / 5 / 15 min) when the run started: {load_before}; after the "
             f"stages: {_load()}."]
    print("\n".join([lean_line, *notes]))
    figures = Figures(started, machine_info(), args.scale, [*stages, lean],
                      (total, total_target), lean_line, notes)
    figures.verdict = ("all targets met" if ok else "TARGET MISSED") + (
        "" if at_target else f" (at {args.scale} the peak memory and the point values; the "
                             f"time targets are for {TARGET_SCALE})")
    if not args.pipeline_only:
        extras = extract_bench(args.dir, args.extract_cases_per_year, env, figures)
        with contextlib.redirect_stdout(_Tee()) as printed:
            extras &= dashboard_bench(args.dir)
            extras &= detection_bench(args.dir)
            extras &= api_bench(demo_warehouse(args.dir), args.dir / "demo")
        figures.dashboard = ("The dashboard on the demo city, the planted gaming found and "
                             "the 预分组 API (as `benchmarks/dashboard_bench.py` and "
                             "`api_bench.py` printed them):\n\n```text\n"
                             + printed.getvalue().strip("\n") + "\n```")
        figures.extras_verdict = "all targets met" if extras else "TARGET MISSED"
        ok &= extras
    print("\nall targets met" if ok else "\nTARGET MISSED")
    if not args.no_page:
        write_figures(figures)
        print(f"figures written to {PAGE}")
    return 0 if ok else 1


def extract_bench(directory: Path, cases_per_year: int, env: dict[str, str],
                  figures: Figures | None = None) -> bool:
    """Generate (once) and ingest the extract format; print rows per second by format (and
    add them to ``figures``)."""
    import duckdb

    source = directory / "extract"
    db = directory / "extract.duckdb"
    generate_once(source, cases_per_year, lambda: ran(
        "synth extract", ["synth", "--out", str(source), "--years", "2017-2020",
                          "--cases-per-year", str(cases_per_year), "--format", "extract"], env))
    for path in (db, Path(f"{db}.wal")):
        path.unlink(missing_ok=True)
    seconds, peak, code = run_stage("extract ingest", ["ingest", str(source), "--db", str(db),
                                                       "--skip-quality"], env)
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("""
            SELECT CASE WHEN encoding = 'xlsx' THEN 'Excel' ELSE 'CSV' END AS format,
                   count(DISTINCT file_path) AS tables, sum(rows_read) AS rows,
                   sum(seconds) AS seconds
            FROM load_batches WHERE status = 'loaded' GROUP BY 1 ORDER BY 1""").fetchall()
    finally:
        con.close()
    print(f"\nextract ingest: {seconds:.1f} s in all, peak {peak:.2f} GB")
    if figures is not None:
        figures.extract_total = (seconds, peak)
    print(f"{'format':<10}{'tables':>8}{'rows':>12}{'seconds':>10}{'rows/s':>12}{'target':>10}")
    ok = code == 0
    for fmt, tables, n, secs in rows:
        rate = n / secs if secs else 0.0
        target = CSV_ROWS_PER_SECOND_TARGET if fmt == "CSV" else None
        ok &= target is None or rate >= target
        if figures is not None:
            figures.extract.append((fmt, tables, n, secs, rate, target))
        print(f"{fmt:<10}{tables:>8}{n:>12,}{secs:>10.1f}{rate:>12,.0f}"
              f"{'—' if target is None else f'{target:,}':>10}")
    return ok


if __name__ == "__main__":
    raise SystemExit(main())
