"""The 预分组 API on the demo city: single-request latency and batch throughput.

Starts ``dip-sim serve-api`` (uvicorn, one process, ``--workers`` = the CPU count: that many
requests are grouped at the same time) on the demo warehouse with a key of its own, then sends
the city's 2020 discharges as a HIS would:

- one at a time, each sent after the answer to the previous one (p50/p99 latency, target p99
  ≤ 20 ms): the time from sending the JSON discharge to reading its answer;
- in batches of ``access.api_batch_max`` (JSON and CSV; discharges answered per second of wall
  time, target ≥ 20,000), first from one client (each batch sent after the previous answer),
  then from as many clients at once as the server has workers (hospitals' HIS sending at the
  same time), which is what the target is judged on. Each batch's body is encoded once before
  the clock starts (the HIS's own serialisation is not the server's time); the time counts
  sending it, the server's decoding, grouping and scoring, its encoding of the answers and
  reading them.

Run by ``make bench`` after the dashboard (``run_bench.py``), or alone:
``python -m benchmarks.api_bench --db data/warehouse.duckdb --demo data/demo``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
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
BATCHES = 4  # per kind of body and way of sending
WORKERS = os.cpu_count() or 1


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
                                   str(db), "--port", str(port), "--workers", str(WORKERS)],
                                  env=env,
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
                return _measure(client, rows, ready, base, token)
        finally:
            server.terminate()
            server.wait(timeout=30)


def _measure(client, rows, ready: float, base: str, token: str) -> bool:
    import httpx

    dicts = [{k: v for k, v in r.items() if v is not None} for r in rows.to_dicts()]
    for row in dicts[:20]:  # warm up
        client.post("/v1/group", json=row)
    times = []
    for row in dicts[:SINGLE_REQUESTS]:
        body = json.dumps(row).encode()
        t = time.perf_counter()
        answer = client.post("/v1/group", content=body,
                             headers={"Content-Type": "application/json"})
        times.append((time.perf_counter() - t) * 1000)
        answer.raise_for_status()
    times.sort()
    p50, p99 = times[len(times) // 2], times[int(len(times) * 0.99) - 1]
    bodies = {"json": (json.dumps(dicts).encode(), "application/json"),
              "csv": (rows.write_csv().encode(), "text/csv")}

    def send(kind: str, n: int) -> None:
        body, content_type = bodies[kind]
        with httpx.Client(base_url=base, timeout=300,
                          headers={"X-API-Key": token, "Content-Type": content_type}) as own:
            for _ in range(n):
                own.post("/v1/group:batch", content=body).raise_for_status()

    rates = {}
    for clients in sorted({1, WORKERS}):
        for kind in bodies:
            t = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(clients) as pool:
                for done in [pool.submit(send, kind, BATCHES // clients) for _ in range(clients)]:
                    done.result()
            sent = clients * (BATCHES // clients) * len(dicts)
            rates[kind, clients] = sent / (time.perf_counter() - t)
    ok_single = p99 <= SINGLE_P99_TARGET_MS
    judged = {kind: rate for (kind, clients), rate in rates.items() if clients == WORKERS}
    ok_batch = min(judged.values()) >= BATCH_TARGET_PER_SECOND
    print(f"预分组 API (dip-sim serve-api --workers {WORKERS}, ready in {ready:.1f} s): "
          f"{SINGLE_REQUESTS} single requests one after another; {BATCHES} batches of "
          f"{len(dicts):,} per kind, from 1 client and from {WORKERS} at once")
    print(f"{'measure':<36}{'value':>12}{'target':>12}")
    print(f"{'single p50 (ms)':<36}{p50:>12.1f}{'':>12}")
    print(f"{'single p99 (ms)':<36}{p99:>12.1f}{SINGLE_P99_TARGET_MS:>12.0f}"
          f"{'' if ok_single else '  MISSED'}")
    for (kind, clients), rate in rates.items():
        target = clients == WORKERS
        mark = "" if not target or rate >= BATCH_TARGET_PER_SECOND else "  MISSED"
        label = f"batch {kind}, {clients} client{'s' if clients > 1 else ''} (/s)"
        print(f"{label:<36}{rate:>12,.0f}"
              f"{f'{BATCH_TARGET_PER_SECOND:,}' if target else '':>12}{mark}")
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
