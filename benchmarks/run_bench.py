"""`make bench`: 10 million discharges (2.5M a year, 2017–2020, Parquet), ingest and simulate.

Each stage runs as its own process through the ``dip-sim`` command line, so its wall time
and peak memory (max RSS, from ``os.wait4``) are its own. The generated data are kept in
``data/bench/input`` and reused by later runs; the warehouse is rebuilt every time.
Targets on a 2-core machine (docs/benchmark.md): ingest ≤ 30 s, simulate ≤ 30 s, peak ≤ 6 GB.
The stages are those of the flow (``architecture.md``): ingest (read, standardise,
pseudonymise, load), then quality (病案质控, its own stage with no target of its own: timed and
reported, and counted in the end-to-end total), then simulate, then supervise (the
supervision indices, assessment and anomaly screen of the baseline; target ≤ 30 s).

Then real-extract ingest: 1M discharges (250,000 a year) as hospitals send them
(``synth --format extract``: GB18030 and UTF-8 CSV, Excel), loaded into a warehouse of their
own; rows per second for CSV (target ≥ 100,000) and for Excel (reported), from each table's
time in ``load_batches``.

Then the dashboard on the demo city (``dashboard_bench.py``): each page's load
(target ≤ 2 s once cached) and a budget-only 预算情景 what-if (≤ 0.3 s once the first has
run); and the supervision indices on the gaming planted in that city: each planting
hospital's rank on its index
(target top 3) and the case-level precision and recall (split admissions: recall ≥ 90%).
Last, the 预分组 API on the demo warehouse (``api_bench.py``): single-request p99 (≤ 20 ms)
and batch throughput (≥ 20,000 discharges/s).

The run's figures, with the machine they were measured on, replace the part of
``docs/benchmark.md`` below its marker (:func:`write_figures`); the prose above it is
written by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.api_bench import api_bench
from benchmarks.dashboard_bench import dashboard_bench, demo_warehouse, detection_bench

# supervise: the project's own target, the same as simulate's
TARGETS: dict[str, float | None] = {"ingest": 30.0, "quality": None, "simulate": 30.0,
                                    "supervise": 30.0}
CSV_ROWS_PER_SECOND_TARGET = 100_000
PEAK_TARGET_GB = 6.0
STAGE_LABELS = {"ingest": "ingest", "quality": "quality", "simulate": "simulate (baseline)",
                "supervise": "supervise (baseline)"}

PAGE = Path(__file__).resolve().parents[1] / "docs" / "benchmark.md"
# the line of docs/benchmark.md after which make bench writes the run's figures
MARKER = "<!-- figures: written by make bench (benchmarks/run_bench.py) below this line -->"


@dataclass
class Figures:
    """What one run measured, for the page."""

    date: str
    machine: dict[str, str]  # label → value, in the order shown
    stages: list[tuple[str, float, float | None, float | None]]  # label, s, target s, peak GB
    extract: list[tuple[str, int, int, float, float, int | None]] = field(default_factory=list)
    extract_total: tuple[float, float | None] | None = None  # seconds, peak GB
    dashboard: str = ""  # markdown: the dashboard and detection benches' figures
    verdict: str = ""


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


def figures_markdown(figures: Figures) -> str:
    """The generated part of the page: the machine, each stage's figures, the verdict."""
    def cell(value: float | None, fmt: str) -> str:
        return "–" if value is None else format(value, fmt)

    lines = [MARKER, "", f"## Figures of the last run ({figures.date})", "",
             "Written by `make bench`; the next run replaces everything below the marker.", "",
             "Machine: " + "; ".join(f"{k} {v}" for k, v in figures.machine.items()) + ".", "",
             "| stage | seconds | target | peak memory |", "|---|---|---|---|"]
    for label, seconds, target, peak in figures.stages:
        lines.append(f"| {label} | {seconds:.1f} | {cell(target, '.0f')} "
                     f"| {'–' if peak is None else f'{peak:.2f} GB'} |")
    lines.append(f"| files to results | {sum(s for _, s, _, _ in figures.stages):.1f} | | |")
    if figures.extract_total is not None:
        seconds, peak = figures.extract_total
        lines += ["", f"Real extracts: {seconds:.1f} s in all"
                  + ("" if peak is None else f", peak {peak:.2f} GB") + ".", "",
                  "| format | tables | rows | seconds | rows/s | target |",
                  "|---|---|---|---|---|---|"]
        for fmt, tables, rows, secs, rate, target in figures.extract:
            lines.append(f"| {fmt} | {tables:,} | {rows:,} | {secs:.1f} | {rate:,.0f} "
                         f"| {'–' if target is None else f'{target:,}'} |")
    if figures.dashboard:
        lines += ["", figures.dashboard.rstrip("\n")]
    if figures.verdict:
        lines += ["", f"Verdict: {figures.verdict}."]
    return "\n".join(lines) + "\n"


def write_figures(figures: Figures, page: Path = PAGE) -> None:
    """Replace the part of ``page`` below :data:`MARKER` by the run's figures (the marker and
    the figures are appended when the page has no marker yet)."""
    text = page.read_text(encoding="utf-8") if page.exists() else "# Benchmark\n"
    prose = text.split(MARKER, 1)[0].rstrip("\n")
    page.write_text(prose + "\n\n" + figures_markdown(figures), encoding="utf-8")


class _Tee(io.StringIO):
    """Captures what is printed while still printing it."""

    def write(self, text: str) -> int:
        sys.__stdout__.write(text)
        return super().write(text)


def run_stage(name: str, args: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Run ``dip-sim args`` as a child process; return (seconds, peak GB, exit code)."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "dip_sim.cli", *args], env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    peak_gb = usage.ru_maxrss / (1024 * 1024)  # ru_maxrss is in KiB on Linux
    code = os.waitstatus_to_exitcode(status)
    print(f"[bench] {name}: {seconds:.1f} s, peak {peak_gb:.2f} GB, exit {code}", flush=True)
    return seconds, peak_gb, code


def main(argv: list[str] | None = None) -> int:
    """Generate (once), then time ingest and simulate; print the figures and the verdict, and
    write them to docs/benchmark.md (not with ``--no-page``)."""
    parser = argparse.ArgumentParser(description="dip-sim benchmark")
    parser.add_argument("--dir", type=Path, default=Path("data/bench"))
    parser.add_argument("--cases-per-year", type=int, default=2_500_000)
    parser.add_argument("--year", type=int, default=2020)
    parser.add_argument("--extract-cases-per-year", type=int, default=250_000)
    parser.add_argument("--no-page", action="store_true", help="do not write docs/benchmark.md")
    args = parser.parse_args(argv)
    started = dt.date.today().isoformat()
    source = args.dir / "input"
    db = args.dir / "warehouse.duckdb"
    env = dict(os.environ)
    env.setdefault("DIP_SIM_PSEUDONYM_KEY", "bench-key")
    marker = source / f".complete-{args.cases_per_year}"
    if not marker.exists():
        shutil.rmtree(source, ignore_errors=True)
        run_stage("synth", ["synth", "--out", str(source), "--years", "2017-2020",
                            "--cases-per-year", str(args.cases_per_year), "--format", "parquet"],
                  env)
        marker.touch()
    for path in (db, Path(f"{db}.wal")):
        path.unlink(missing_ok=True)
    results = {
        "ingest": run_stage("ingest", ["ingest", str(source), "--db", str(db), "--skip-quality"],
                            env),
        "quality": run_stage("quality", ["quality", "--db", str(db)], env),
        "simulate": run_stage("simulate", ["simulate", "--year", str(args.year), "--db", str(db)],
                              env),
        "supervise": run_stage("supervise", ["supervise", "--db", str(db)], env),
    }
    ok = True
    print(f"\n{'stage':<10}{'seconds':>10}{'target':>10}{'peak GB':>10}")
    for stage, (seconds, peak, code) in results.items():
        target = TARGETS[stage]
        ok &= code == 0 and (target is None or seconds <= target) and peak <= PEAK_TARGET_GB
        print(f"{stage:<10}{seconds:>10.1f}{'—' if target is None else f'{target:.0f}':>10}"
              f"{peak:>10.2f}")
    total = sum(seconds for seconds, _, _ in results.values())
    print(f"{'total':<10}{total:>10.1f}{'':>10}{max(p for _, p, _ in results.values()):>10.2f}")
    figures = Figures(started, machine_info(), [
        (f"{STAGE_LABELS[stage]}{f', {args.year}' if stage == 'simulate' else ''}", seconds,
         TARGETS[stage], peak) for stage, (seconds, peak, _) in results.items()])
    ok &= extract_bench(args.dir, args.extract_cases_per_year, env, figures)
    with contextlib.redirect_stdout(_Tee()) as printed:
        ok &= dashboard_bench(args.dir)
        ok &= detection_bench(args.dir)
        ok &= api_bench(demo_warehouse(args.dir), args.dir / "demo")
    figures.dashboard = ("The dashboard on the demo city, the planted gaming found and the "
                         "预分组 API (as `benchmarks/dashboard_bench.py` and `api_bench.py` "
                         "printed them):\n\n```text\n"
                         + printed.getvalue().strip("\n") + "\n```")
    figures.verdict = "all targets met" if ok else "TARGET MISSED"
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
    marker = source / f".complete-{cases_per_year}"
    if not marker.exists():
        shutil.rmtree(source, ignore_errors=True)
        run_stage("synth extract", ["synth", "--out", str(source), "--years", "2017-2020",
                                    "--cases-per-year", str(cases_per_year),
                                    "--format", "extract"], env)
        marker.touch()
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
