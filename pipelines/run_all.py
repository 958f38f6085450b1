"""Pipeline: everything `make run` needs before serving the dashboard.

Generates the demo city into ``--demo`` if it is not there (with the example gaming plan
``data/examples/gaming_plan.yaml`` planted, so that supervision has something to find; the
answers are in ``gaming_truth.csv`` beside the inputs), ingests it, runs quality, simulates
the baseline and the example scenarios of ``data/scenarios/``, and supervises the baseline.
A warehouse made by another schema version is moved aside (``PATH.old-<timestamp>``), one of
the earlier pseudonymisation method to ``PATH.before-hmac``, and built again from the demo
directory.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
from pathlib import Path

from dip_sim.ingest.errors import PseudonymMethodChanged
from dip_sim.ingest.files import add_ignored
from dip_sim.paths import SCENARIO_DIR, default_db
from dip_sim.synth import generate
from dip_sim.synth.gaming import GAMING_TRUTH, load_plan, plant_gaming
from dip_sim.warehouse_version import WarehouseVersionError
from pipelines.ingest import run_ingest
from pipelines.simulate import run_simulate
from pipelines.supervise import run_supervise

EXAMPLE_PLAN = Path(__file__).resolve().parents[1] / "data" / "examples" / "gaming_plan.yaml"
PLANT_SEED = 20200101


def prepare_demo(directory: Path, cases_per_year: int, progress=print) -> None:
    """Generate the demo city into ``directory`` (missing or empty) and plant the example
    gaming plan in it.

    The city is made in ``<directory>.partial`` and moved into place once whole: an
    interrupted generation leaves no half city for the next run to load (the next one starts
    the partial folder again).
    """
    partial = directory.with_name(directory.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    generate(partial, cases_per_year=cases_per_year, progress=progress)
    truth = plant_gaming(partial, load_plan(EXAMPLE_PLAN, partial), seed=PLANT_SEED)
    if directory.exists():
        directory.rmdir()  # empty: a folder holding anything is never replaced
    partial.rename(directory)
    progress(f"植入违规行为（{EXAMPLE_PLAN.name}）: {len(truth):,} 例，答案见 "
             f"{directory / 'gaming_truth.csv'}")


def main(argv: list[str] | None = None) -> int:
    """Run the whole chain on the demo data (or an existing input directory)."""
    parser = argparse.ArgumentParser(prog="python -m pipelines.run_all",
                                     description="生成演示数据（如缺失）、载入、质控、模拟基线与示例情景")
    parser.add_argument("--demo", type=Path, default=Path("data/demo"), help="输入目录")
    parser.add_argument("--db", type=Path, default=default_db(), help="仓库文件")
    parser.add_argument("--year", type=int, default=2020, help="模拟年度")
    parser.add_argument("--cases-per-year", type=int, default=200_000)
    args = parser.parse_args(argv)
    if not args.demo.exists() or not any(args.demo.iterdir()):
        print(f"生成演示数据 → {args.demo}（每年 {args.cases_per_year:,} 例）", file=sys.stderr)
        prepare_demo(args.demo, args.cases_per_year, progress=lambda m: print(m, file=sys.stderr))
    elif (args.demo / GAMING_TRUTH).exists():
        # a demo city generated before its answers were listed as not input
        add_ignored(args.demo, GAMING_TRUTH, "植入的违规行为的答案，不是输入数据")
    try:
        run_ingest(args.demo, args.db)
    except (PseudonymMethodChanged, WarehouseVersionError) as exc:
        # the warehouse is derived from the input directory: kept aside, and built again
        # (the steps below simulate and supervise it as on a first run)
        suffix = ("before-hmac" if isinstance(exc, PseudonymMethodChanged)
                  else f"old-{dt.datetime.now():%Y%m%d-%H%M%S}")  # as dip-sim rebuild names it
        kept = args.db.with_name(f"{args.db.name}.{suffix}")
        args.db.rename(kept)
        Path(f"{args.db}.wal").unlink(missing_ok=True)
        print(f"{exc}\n旧仓库已移至 {kept}，现从 {args.demo} 重新载入", file=sys.stderr)
        run_ingest(args.demo, args.db)
    run_simulate(args.db, args.year, scenario_files=sorted(SCENARIO_DIR.glob("*.yaml")))
    run_supervise(args.db, ["baseline"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
