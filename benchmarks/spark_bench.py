"""`make bench-spark`: a province of 10M discharges over 20 pooling regions, DuckDB beside Spark.

The province (``dip-sim synth --regions 20``, 125,000 discharges a year per city on average,
2017–2020, Parquet) is generated once into ``data/bench/province-10M`` and loaded into a
warehouse of its own (``dip-sim ingest``, which runs quality). Then, each as its own process:

1. DuckDB: ``dip-sim simulate --year 2020 --force`` (the baseline, region after region);
2. Spark: ``dip-sim simulate --year 2020 --engine spark --master local[2] --force`` on a copy
   of that warehouse (the export of the inputs, partitioned by region, included; regions two at
   a time);
3. same numbers: every stored table of the baseline, Spark's Parquet against DuckDB's rows
   (:mod:`dip_sim.spark.same_numbers`: counts exact, amounts to 0.01 yuan, the rest to 1e-9
   relative). A difference fails the bench.

Time is wall time; peak memory is the largest sum of the resident memory of the process and
all its descendants, sampled every 0.2 s (the Spark run's JVM is a child of its Python
process, which ``wait4`` would not count). From the Spark run's own lines, each region's time
and its number of discharges give a fit ``seconds = a + b × discharges`` (a region's fixed
cost and its cost per discharge on this machine), the figures ``docs/scale.md`` sizes a
national run by.

Then the demo city (``data/demo``, one region, 2017–2020; made as ``make run`` makes it when
missing): loaded, the baseline and every scenario of ``data/scenarios/`` simulated by DuckDB,
then by Spark on a copy, and every stored table of each scenario compared the same way.

The figures go below the marker of ``docs/benchmark.md`` as the sections :data:`HEADING` and
:data:`DEMO_HEADING`, which the next run replaces (``make bench`` keeps them). ``--only
province`` or ``--only demo`` runs one part.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb

from benchmarks.run_bench import MARKER, PAGE, _load, _sections, generate_once, machine_info
from pipelines.warehouse import MEMORY_LIMIT

N_REGIONS = 20
CASES_PER_YEAR = 125_000  # per city on average: 2.5M a year, 10M over 4 years
YEAR = 2020
HEADING = "### Spark: 10M discharges over 20 regions"
DEMO_HEADING = "### Spark: the demo city"
# a region's finishing line of the Spark run (dip_sim.spark.regions)
REGION_LINE = re.compile(r"统筹区 (\S+)（.*?）在 Spark 上完成 \d+ 个情景（([\d.]+) 秒）")


def _tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (0 once it is gone)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += next((int(line.split()[1]) * 1024 for line in status.splitlines()
                           if line.startswith("VmRSS:")), 0)
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def timed(label: str, args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run ``dip-sim args`` as a child process, its output shown and kept; (seconds, peak GB
    of the process tree, output). A failure ends the bench."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "dip_sim.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = [0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss(proc.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    lines = []
    for line in proc.stdout:
        if "WARN" not in line and "log4j" not in line:
            sys.stdout.write(line)
        lines.append(line)
    proc.wait()
    sampler.join()
    seconds = time.perf_counter() - started
    print(f"[bench-spark] {label}: {seconds:.1f} s, peak {peak[0] / 1024 ** 3:.2f} GB, "
          f"exit {proc.returncode}", flush=True)
    if proc.returncode != 0:
        raise SystemExit(f"{label} failed (exit {proc.returncode})")
    return seconds, peak[0] / 1024 ** 3, "".join(lines)


def fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least squares ``seconds = a + b × discharges`` over (discharges, seconds); (a, b)."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    b = sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0
    return my - b * mx, b


def write_section(heading: str, section: str) -> None:
    """Put ``section`` under ``heading`` in the generated part of ``docs/benchmark.md``."""
    text = PAGE.read_text(encoding="utf-8")
    prose, _, generated = text.partition(MARKER)
    sections = _sections(generated)
    sections[heading] = section
    head, _, _ = generated.partition("\n### ")
    PAGE.write_text(prose + MARKER + head.rstrip("\n") + "\n\n"
                    + "\n".join(sections.values()), encoding="utf-8")


def compared(db: Path, out: Path, scenarios: list[str]) -> tuple[int, list[str], float]:
    """Every stored table of each scenario, DuckDB's warehouse ``db`` against Spark's Parquet
    ``out``: (tables compared, differences, seconds)."""
    from dip_sim.contract import CONTRACTS
    from dip_sim.spark.same_numbers import differences

    con = duckdb.connect(str(db), read_only=True)
    # the stages' memory cap, spilling beside the warehouse: the province's case tables (10M
    # rows a side) are joined whole
    con.execute("SET memory_limit = ?", [MEMORY_LIMIT])
    con.execute("SET temp_directory = ?", [f"{db}.compare.tmp"])
    con.execute("SET enable_progress_bar = false")
    try:
        started, n, found = time.perf_counter(), 0, []
        for scenario in scenarios:
            tables = [t for t in CONTRACTS if t != "runs" and con.execute(
                f"SELECT count(*) FROM {t} WHERE scenario = ?", [scenario]).fetchall()[0][0]]
            n += len(tables)
            found += differences(con, out, scenario, tables)
    finally:
        con.close()
    return n, found, time.perf_counter() - started


def province(args: argparse.Namespace, env: dict[str, str]) -> bool:
    """The 20-region province: DuckDB and Spark side by side; True when the numbers agree."""
    def synth() -> bool:  # a failure ends the bench (timed)
        timed("synth", ["synth", "--out", str(args.input), "--regions", str(N_REGIONS),
                        "--cases-per-year", str(CASES_PER_YEAR), "--format", "parquet"], env)
        return True

    generate_once(args.input, CASES_PER_YEAR, synth)
    work = args.work / "province"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    duck_db, spark_db, out = work / "duckdb.duckdb", work / "spark.duckdb", work / "out"
    timed("ingest", ["ingest", str(args.input), "--db", str(duck_db)], env)
    load = _load()
    duck_s, duck_gb, _ = timed("DuckDB simulate", ["simulate", "--year", str(YEAR), "--force",
                                                   "--db", str(duck_db)], env)
    shutil.copy(duck_db, spark_db)
    spark_s, spark_gb, said = timed(
        "Spark simulate", ["simulate", "--year", str(YEAR), "--force", "--engine", "spark",
                           "--master", "local[2]", "--parallel", str(args.parallel),
                           "--db", str(spark_db), "--out", str(out)], env)
    n_tables, found, compare_s = compared(duck_db, out, ["baseline"])
    con = duckdb.connect(str(duck_db), read_only=True)
    try:
        sizes = dict(con.execute("SELECT trim(h.region), count(*) FROM case_features f "
                                 "JOIN hospitals h USING (hospital_id) GROUP BY 1").fetchall())
    finally:
        con.close()
    total = sum(sizes.values())
    regions = [(sizes[code], float(sec)) for code, sec in REGION_LINE.findall(said)]
    a, b = fit(regions) if len(regions) > 1 else (float("nan"), float("nan"))
    largest = max(regions) if regions else (0, float("nan"))
    same = "the same numbers" if not found else f"{len(found)} DIFFERENCES"
    print(f"\n{'engine':<10}{'seconds':>10}{'peak GB':>10}")
    print(f"{'DuckDB':<10}{duck_s:>10.1f}{duck_gb:>10.2f}")
    print(f"{'Spark':<10}{spark_s:>10.1f}{spark_gb:>10.2f}")
    print(f"{n_tables} stored tables compared in {compare_s:.1f} s: {same}")
    for line in found:
        print("  " + line)
    print(f"per region on Spark: a = {a:.1f} s fixed, b = {b * 1e6:.2f} s per million "
          f"discharges ({len(regions)} regions, {args.parallel} at once)")
    write_section(HEADING, "\n".join([
        f"{HEADING} ({time.strftime('%Y-%m-%d')})", "",
        "Machine: " + "; ".join(f"{k} {v}" for k, v in machine_info().items()) + ".", "",
        f"`make bench-spark` (`benchmarks/spark_bench.py`): {total:,} discharges "
        f"({len(sizes)} regions, 2017–2020) loaded once; the baseline of {YEAR} simulated by "
        f"each engine as its own process (load average {load} before the runs). Peak memory "
        "is the process tree's (Spark: the Python driver and its JVM).", "",
        "| engine | seconds | peak memory |", "|---|---|---|",
        f"| DuckDB (`dip-sim simulate`, regions one after another) | {duck_s:.1f} | "
        f"{duck_gb:.2f} GB |",
        f"| Spark `local[2]` (`--engine spark`, export included, {args.parallel} regions at "
        f"once) | {spark_s:.1f} | {spark_gb:.2f} GB |", "",
        f"Same numbers: {n_tables} stored tables of the baseline compared in {compare_s:.0f} s "
        f"({same}). Per region on Spark, fitted over the {len(regions)} regions' own times: "
        f"{a:.1f} s fixed + {b * 1e6:.2f} s per million discharges (4 years); the largest "
        f"region, {largest[0]:,} discharges, {largest[1]:.0f} s.", ""]))
    return not found


def demo(args: argparse.Namespace, env: dict[str, str]) -> bool:
    """The demo city: every scenario of ``data/scenarios/`` on both engines; True when the
    numbers agree."""
    from dip_sim.paths import SCENARIO_DIR

    work = args.work / "demo"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    duck_db, spark_db, out = work / "duckdb.duckdb", work / "spark.duckdb", work / "out"
    files = sorted(SCENARIO_DIR.glob("*.yaml"))
    if not Path("data/demo/hospitals.csv").exists():  # as make run makes it
        from pipelines.run_all import prepare_demo

        prepare_demo(Path("data/demo"), 200_000)
    timed("DuckDB ingest (demo city)", ["ingest", "data/demo", "--db", str(duck_db)], env)
    duck_s, _, _ = timed("DuckDB simulate (demo city)",
                         ["simulate", "--year", str(YEAR), "--db", str(duck_db),
                          "--scenario", *map(str, files)], env)
    shutil.copy(duck_db, spark_db)
    spark_s, spark_gb, _ = timed(
        "Spark simulate (demo city)",
        ["simulate", "--year", str(YEAR), "--force", "--engine", "spark", "--master",
         "local[2]", "--db", str(spark_db), "--out", str(out),
         "--scenario", *map(str, files)], env)
    con = duckdb.connect(str(duck_db), read_only=True)
    try:
        scenarios = [r[0] for r in con.execute("SELECT scenario FROM runs ORDER BY scenario"
                                               ).fetchall()]
        n_cases = con.execute("SELECT count(*) FROM case_features").fetchall()[0][0]
    finally:
        con.close()
    n_tables, found, compare_s = compared(duck_db, out, scenarios)
    same = "the same numbers" if not found else f"{len(found)} DIFFERENCES"
    print(f"demo city: {n_tables} scenario tables compared in {compare_s:.1f} s: {same}")
    for line in found:
        print("  " + line)
    write_section(DEMO_HEADING, "\n".join([
        f"{DEMO_HEADING} ({time.strftime('%Y-%m-%d')})", "",
        f"The demo city ({n_cases:,} discharges, one region): the baseline and "
        f"{len(files)} scenarios simulated by DuckDB in {duck_s:.0f} s; the same "
        f"{len(scenarios)} scenarios on Spark `local[2]` "
        f"{spark_s:.0f} s (peak {spark_gb:.2f} GB). Same numbers: {n_tables} stored tables "
        f"over the {len(scenarios)} scenarios ({', '.join(scenarios)}) compared in "
        f"{compare_s:.0f} s ({same}).", ""]))
    return not found


def main(argv: list[str] | None = None) -> int:
    """Run the parts asked for; print and write their figures; 0 when every comparison found
    the same numbers."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--input", type=Path, default=Path("data/bench/province-10M"))
    parser.add_argument("--work", type=Path, default=Path("data/bench/spark"))
    parser.add_argument("--parallel", type=int, default=2, help="regions at once on Spark")
    parser.add_argument("--only", choices=("province", "demo"), default=None)
    args = parser.parse_args(argv)
    env = {**os.environ, "DIP_SIM_PSEUDONYM_KEY": os.environ.get("DIP_SIM_PSEUDONYM_KEY",
                                                                   "bench-key"),
           "PYTHONWARNINGS": "ignore"}
    ok = True
    if args.only in (None, "province"):
        ok &= province(args, env)
    if args.only in (None, "demo"):
        ok &= demo(args, env)
    print("\nVerdict: " + ("the same numbers." if ok else "DIFFERENCES FOUND."))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
