"""Events/s one `headwater inlet` process accepts, its acknowledgment latency, and send → profile time.

    .venv/bin/python bench/inlet_throughput.py [--seconds 10] [--clients 2] [--threads 8]

Each inlet runs as its own process on loopback, over a private Headwater home (a copy of include/,
SQLite store, segment log) or a private Redis database (HEADWATER_BENCH_REDIS_DB, default 13). The
load: `/v1/batch` requests of 100 events of ~1 KB, sent by client processes (keep-alive HTTP/1.1)
as fast as answers come back (sustained events/s, p50/p99 of the acknowledgment), then paced at
half that rate (p50/p99 there). A plain FastAPI endpoint that reads the body and returns 200, run
by the same uvicorn settings, is measured in the same run as the ceiling. Last, one identify call
is sent and the source's micro-batch is run in this process (stage by stage, as tests/pipeline
does) until `headwater profile lookup` finds it: send → profile, without the trigger's poll
interval (connector.poll_seconds, 5 s by default) and Airflow's scheduling delay.

Targets (issue 12): >= 20,000 events/s per inlet process in batches; p99 ack <= 50 ms at half
that rate; end-to-end <= 60 s with the default trigger. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from base64 import b64encode
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "plugins"), str(REPO)]

CEILING_APP = """
import sys, uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
app = FastAPI()
@app.post("/v1/batch")
async def batch(request: Request):
    await request.body()
    return JSONResponse({"success": True})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def body_of(batch_size: int) -> bytes:
    pad = "x" * 880  # ~1 KB per event once serialised
    batch = [
        {"type": "track", "userId": f"user-{i}", "event": "Product Viewed", "messageId": f"bench-{i}",
         "timestamp": f"2026-12-03T10:00:00.{i % 1000:03d}Z", "properties": {"product_id": f"sku-{i}", "pad": pad}}
        for i in range(batch_size)
    ]
    return json.dumps({"batch": batch, "sentAt": "2026-12-03T10:00:00.100Z"}).encode()


def _worker(port: int, key: str, body: bytes, seconds: float, threads: int, rate_per_thread: float, out) -> None:
    import threading

    headers = {"Content-Type": "application/json", "Authorization": "Basic " + b64encode(f"{key}:".encode()).decode()}
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def run() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        bad = 0
        next_at = time.monotonic()
        while time.monotonic() < deadline:
            if rate_per_thread:
                next_at += 1 / rate_per_thread
                pause = next_at - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
            started = time.perf_counter()
            try:
                conn.request("POST", "/v1/batch", body, headers)
                answer = conn.getresponse()
                answer.read()
                ok = answer.status == 200
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                ok = False
            if ok:
                mine.append(time.perf_counter() - started)
            else:
                bad += 1
        with lock:
            latencies.extend(mine)
            failures[0] += bad

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    out.put((latencies, failures[0]))


def load(port: int, key: str, body: bytes, events_per_request: int, seconds: float, clients: int, threads: int, rate: float = 0) -> dict:
    """Send for `seconds` (rate: requests/s in all, 0 = as fast as answers come)."""
    queue: mp.Queue = mp.Queue()
    per_thread = rate / (clients * threads) if rate else 0
    procs = [mp.Process(target=_worker, args=(port, key, body, seconds, threads, per_thread, queue)) for _ in range(clients)]
    started = time.monotonic()
    for proc in procs:
        proc.start()
    latencies: list[float] = []
    failures = 0
    for _ in procs:
        got, bad = queue.get()
        latencies += got
        failures += bad
    for proc in procs:
        proc.join()
    elapsed = max(time.monotonic() - started, seconds)
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")

    return {
        "events_per_s": len(latencies) * events_per_request / seconds,
        "requests": len(latencies),
        "failed": failures,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "wall_s": elapsed,
    }


def wait_health(port: int, proc: subprocess.Popen, path: str = "/health") -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", path)
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--threads", type=int, default=8, help="connections per client process")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--backends", default="segments,redis")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="hw-bench-inlet-"))
    shutil.copytree(REPO / "include", work / "include")
    redis_db = os.environ.get("HEADWATER_BENCH_REDIS_DB", "13")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    env.update({
        "HEADWATER_HOME": str(work / "home"),
        "HEADWATER_INCLUDE_DIR": str(work / "include"),
        "HEADWATER_SOURCES_DIR": str(work / "include" / "sources"),
        "HEADWATER_INLET_REDIS_URL": f"redis://127.0.0.1:6379/{redis_db}",
        "HEADWATER_YAML_CACHE": "0",
        "PYTHONPATH": f"{REPO / 'plugins'}:{REPO}",
    })
    os.environ.update({k: v for k, v in env.items() if k.startswith("HEADWATER_")})
    from headwater.inlet import keys
    from headwater.store import db

    key = keys.create(db.get_engine(), "demo_web")[0]
    body = body_of(args.batch)
    print(f"request: {args.batch} events, {len(body):,} bytes; {args.clients} client processes x {args.threads} connections; "
          f"{args.seconds:.0f} s per measurement; load average {os.getloadavg()[0]:.1f}")
    results: dict[str, dict] = {}

    port = free_port()
    ceiling = subprocess.Popen([sys.executable, "-c", CEILING_APP, str(port)], env=env, stderr=subprocess.PIPE)
    try:
        wait_health(port, ceiling, "/docs")
        results["plain FastAPI 200 (ceiling)"] = load(port, key, body, args.batch, args.seconds, args.clients, args.threads)
    finally:
        stop(ceiling)

    for backend in args.backends.split(","):
        if backend == "redis":
            import redis

            redis.Redis(db=int(redis_db)).flushdb()
        port = free_port()
        inlet = subprocess.Popen(
            [sys.executable, "-m", "headwater.cli", "inlet", "--port", str(port)],
            env={**env, "HEADWATER_INLET_LOG": backend}, stderr=subprocess.PIPE,
        )
        try:
            wait_health(port, inlet)
            full = load(port, key, body, args.batch, args.seconds, args.clients, args.threads)
            results[f"inlet, {backend} log, full speed"] = full
            half_rate = full["events_per_s"] / 2 / args.batch
            results[f"inlet, {backend} log, at half that rate"] = load(
                port, key, body, args.batch, args.seconds, args.clients, args.threads, rate=half_rate
            )
        finally:
            stop(inlet)
            if backend == "redis":
                redis.Redis(db=int(redis_db)).flushdb()

    print(f"{'':44} {'events/s':>10} {'requests':>9} {'failed':>7} {'p50 ms':>8} {'p99 ms':>8}")
    for name, r in results.items():
        print(f"{name:44} {r['events_per_s']:>10,.0f} {r['requests']:>9,} {r['failed']:>7} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f}")

    e2e = send_to_profile(env, key)
    print(f"send -> profile (segments log, one micro-batch in-process, no trigger/scheduler delay): {e2e:.1f} s")
    shutil.rmtree(work, ignore_errors=True)

    missed = []
    for backend in args.backends.split(","):
        if results[f"inlet, {backend} log, full speed"]["events_per_s"] < 20_000:
            missed.append(f"{backend}: < 20,000 events/s")
        if results[f"inlet, {backend} log, at half that rate"]["p99_ms"] > 50:
            missed.append(f"{backend}: p99 > 50 ms at half rate")
    if e2e + 5 > 60:
        missed.append("send -> profile + 5 s poll > 60 s")
    print("targets met" if not missed else "targets missed: " + "; ".join(missed))
    return 1 if missed else 0


def send_to_profile(env: dict, key: str) -> float:
    """Seconds from sending one identify call to finding it with `headwater profile lookup`."""
    import io
    from contextlib import redirect_stdout

    from headwater.cli import main as cli
    from headwater.config.loader import load_source
    from headwater.dag_builder import build_dag
    from tests.pipeline.harness import run_pipeline

    # a log of its own: the throughput runs left hundreds of thousands of events in the other one
    fresh = {"HEADWATER_INLET_LOG": "segments", "HEADWATER_INLET_LOG_DIR": str(Path(env["HEADWATER_HOME"]) / "e2e-log")}
    os.environ.update(fresh)
    port = free_port()
    inlet = subprocess.Popen([sys.executable, "-m", "headwater.cli", "inlet", "--port", str(port)],
                             env={**env, **fresh}, stderr=subprocess.PIPE)
    try:
        wait_health(port, inlet)
        dag = build_dag(load_source(Path(env["HEADWATER_SOURCES_DIR"]) / "demo_web.yaml"))
        body = json.dumps({"userId": "e2e-user", "traits": {"email": "e2e@example.com"}}).encode()
        headers = {"Content-Type": "application/json", "Authorization": "Basic " + b64encode(f"{key}:".encode()).decode()}
        started = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/v1/identify", body, headers)
        assert conn.getresponse().status == 200
        run = run_pipeline(dag, f"bench-{int(time.time())}")
        assert not run.failures, run.failures
        with redirect_stdout(io.StringIO()) as out:
            cli(["profile", "lookup", "customer_id", "e2e-user"])
        assert "e2e@example.com" in out.getvalue()
        return time.perf_counter() - started
    finally:
        stop(inlet)


if __name__ == "__main__":
    sys.exit(main())
