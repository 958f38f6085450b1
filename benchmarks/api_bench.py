"""The 预分组 API on the demo city: single-request latency and batch throughput.

Starts ``dip-sim serve-api`` (uvicorn, one process) on the demo warehouse with a key of its
own, then sends the city's 2020 discharges as a HIS would: one at a time (p50/p99 latency,
target p99 ≤ 20 ms) and in batches of ``access.api_batch_max`` (JSON and CSV; discharges per
second, target ≥ 20,000), the wall time seen by the client (HTTP, JSON, grouping and scoring).
Run by ``make bench`` after the dashboard (``run_bench.py``), or alone:
``python -m benchmarks.api_bench --db data/warehouse.duckdb --demo data/demo``.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SINGLE_P99_TARGET_MS = 20.0
BATCH_TARGET_PER_SECOND = 20_000
SINGLE_REQUESTS = 300
BATCHES = 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _discharges(demo: Path, n: int):
    """The first ``n`` 2020 discharges of one hospital (case record + settlement), as text."""
    import polars as pl

    cases = pl.read_csv(demo / "cases_2020.csv", infer_schema=False)
    settlements = pl.read_csv(demo / "settlements_2020.csv", infer_schema=False)
    rows = cases.join(settlements, on="case_id", how="inner")
    hospital = rows["hospital_id"].value_counts(sort=True)["hospital_id"][0]
    return hospital, rows.filter(pl.col("hospital_id") == hospital).head(n)


def api_bench(db: Path, demo: Path) -> bool:
    """Time single requests and batches against a running server; print; True when met."""
    import httpx

    from dip_sim.access import access_settings
    from dip_sim.api.keys import add_key

    batch_max = access_settings().api_batch_max
    hospital, rows = _discharges(demo, batch_max)
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        keys = Path(tmp) / "keys.json"
        token, _ = add_key(hospital, keys)
        env = dict(os.environ, DIP_SIM_API_KEYS=str(keys))
        started = time.perf_counter()
        server = subprocess.Popen([sys.executable, "-m", "dip_sim.cli", "serve-api", "--db",
                                   str(db), "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, timeout=120,
                              headers={"X-API-Key": token}) as client:
                while True:
                    try:
                        client.get("/v1/health")
                        break
                    except httpx.TransportError:
                        if server.poll() is not None:
                            raise RuntimeError(server.stderr.read().decode()) from None
                        time.sleep(0.2)
                ready = time.perf_counter() - started
                return _measure(client, rows, ready)
        finally:
            server.terminate()
            server.wait(timeout=30)


def _measure(client, rows, ready: float) -> bool:
    dicts = [{k: v for k, v in r.items() if v is not None} for r in rows.to_dicts()]
    for row in dicts[:20]:  # warm up
        client.post("/v1/group", json=row)
    times = []
    for row in dicts[:SINGLE_REQUESTS]:
        t = time.perf_counter()
        answer = client.post("/v1/group", json=row)
        times.append((time.perf_counter() - t) * 1000)
        answer.raise_for_status()
    times.sort()
    p50, p99 = times[len(times) // 2], times[int(len(times) * 0.99) - 1]
    rates = {}
    for kind in ("json", "csv"):
        t = time.perf_counter()
        for _ in range(BATCHES):
            if kind == "json":
                answer = client.post("/v1/group:batch", json=dicts)
            else:
                answer = client.post("/v1/group:batch", content=rows.write_csv().encode(),
                                     headers={"Content-Type": "text/csv"})
            answer.raise_for_status()
        rates[kind] = BATCHES * len(dicts) / (time.perf_counter() - t)
    ok_single = p99 <= SINGLE_P99_TARGET_MS
    ok_batch = min(rates.values()) >= BATCH_TARGET_PER_SECOND
    print(f"预分组 API (dip-sim serve-api, ready in {ready:.1f} s): "
          f"{SINGLE_REQUESTS} single requests, {BATCHES} batches of {len(dicts):,} each way")
    print(f"{'measure':<28}{'value':>12}{'target':>12}")
    print(f"{'single p50 (ms)':<28}{p50:>12.1f}{'':>12}")
    print(f"{'single p99 (ms)':<28}{p99:>12.1f}{SINGLE_P99_TARGET_MS:>12.0f}"
          f"{'' if ok_single else '  MISSED'}")
    for kind, rate in rates.items():
        print(f"{'batch ' + kind + ' (discharges/s)':<28}{rate:>12,.0f}"
              f"{BATCH_TARGET_PER_SECOND:>12,}{'' if rate >= BATCH_TARGET_PER_SECOND else '  MISSED'}")
    return ok_single and ok_batch


def main(argv: list[str] | None = None) -> int:
    """Run the API bench alone on a warehouse and the demo inputs it was loaded from."""
    parser = argparse.ArgumentParser(description="dip-sim 预分组 API benchmark")
    parser.add_argument("--db", type=Path, required=True, help="warehouse (simulated)")
    parser.add_argument("--demo", type=Path, required=True, help="its input directory")
    args = parser.parse_args(argv)
    return 0 if api_bench(args.db, args.demo) else 1


if __name__ == "__main__":
    raise SystemExit(main())
