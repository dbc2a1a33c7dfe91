"""Audience throughput: membership + diff over 1M profiles with 10% churn, and webhook delivery
next to a plain HTTP client loop against the same local acknowledge-only server, in one run.

    .venv/bin/python bench/audience_speed.py [--profiles 1000000] [--churn 0.1] [--deliver 100000] [--url URL]

1. Setup (not timed as a result): N profiles written straight into a fresh store (SQLite file in
   a temp folder by default, or `--url` for PostgreSQL, a throwaway database is created), with an
   email identity each; the audience `loyalty_points >= 500 and upper(country) != 'ZZ'` (first
   term SQL, second Arrow) with 2 variables, about half the profiles are members.
2. `initial`: membership + diff against an empty acknowledged set (all adds); the acknowledged
   membership is then written as if every add had been acknowledged (timed separately: `ack`).
3. Churn: `--churn` of the profiles change (a third leave, a third enter, a third change a variable).
4. `churn`: membership + diff again: the figure of the issue.
5. Delivery: the first `--deliver` churn signals through the webhook destination (HMAC, batches of
   500, acknowledgments written to the store) to an acknowledge-only HTTP server in its own process;
   then the same bodies POSTed by a bare httpx loop to the same server: the ceiling.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))


def _serve(port_queue) -> None:
    """Acknowledge every POST with 200 {} (reads the body, checks nothing)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_queue.put(server.server_address[1])
    server.serve_forever()


def _populate(engine, n: int) -> None:
    from headwater.store import db
    from headwater.store.profiles import identity_table, profile_table

    now = datetime.now(UTC)
    rng = random.Random(7)
    for start in range(0, n, 50_000):
        profiles, identities = [], []
        for i in range(start, min(n, start + 50_000)):
            pid = uuid.UUID(int=rng.getrandbits(128)).hex
            attrs = {"email": f"user{i}@example.com", "first_name": f"F{i}", "country": "GB" if i % 3 else "FR",
                     "loyalty_points": rng.randrange(1000), "loyalty_tier": "gold"}
            profiles.append({"profile_id": pid, "attributes": json.dumps(attrs, sort_keys=True), "created_at": now, "updated_at": now})
            identities.append({"namespace": "email", "value": attrs["email"], "profile_id": pid, "source": "bench", "created_at": now})
        with db.write_transaction(engine) as conn:
            conn.execute(profile_table.insert(), profiles)
            conn.execute(identity_table.insert(), identities)


def _churn(engine, fraction: float) -> int:
    """Change `fraction` of the profiles: leave (points 0), enter (points 900), or a new first name."""
    from sqlalchemy import select, update

    from headwater.store import db
    from headwater.store.profiles import profile_table

    with engine.connect() as conn:
        rows = conn.execute(select(profile_table.c.profile_id, profile_table.c.attributes)).all()
    rng = random.Random(11)
    picked = rng.sample(rows, int(len(rows) * fraction))
    changes = []
    for n, (pid, text) in enumerate(picked):
        attrs = json.loads(text)
        if n % 3 == 0:
            attrs["loyalty_points"] = 0
        elif n % 3 == 1:
            attrs["loyalty_points"] = 900
        else:
            attrs["first_name"] = attrs["first_name"] + "x"
        changes.append({"pid": pid, "attributes": json.dumps(attrs, sort_keys=True)})
    from sqlalchemy import bindparam

    stmt = update(profile_table).where(profile_table.c.profile_id == bindparam("pid")).values(attributes=bindparam("attributes"))
    with db.write_transaction(engine) as conn:
        conn.execute(stmt, changes)
    return len(changes)


def _membership_and_diff(engine, audience):
    import pyarrow as pa

    from headwater.activation.membership import members
    from headwater.activation.operators import signals_for

    started = time.perf_counter()
    current = pa.concat_tables(list(members(engine, audience)))
    selected = time.perf_counter()
    table, counts, _ = signals_for(engine, audience, audience.config.destinations[0], current)
    done = time.perf_counter()
    return current, table, counts, selected - started, done - selected


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--churn", type=float, default=0.1)
    parser.add_argument("--deliver", type=int, default=100_000)
    parser.add_argument("--url", help="PostgreSQL server URL (a throwaway database is created); default: SQLite in a temp dir")
    args = parser.parse_args()

    home = tempfile.mkdtemp(prefix="hw-audience-bench-")
    os.environ["HEADWATER_HOME"] = home
    from sqlalchemy import create_engine, make_url, text

    from headwater.activation.loader import audience_from
    from headwater.activation.members import record_acks
    from headwater.activation.operators import signals_for  # noqa: F401  (imports Airflow: not inside a timing)
    from headwater.store import db

    if args.url:
        name = f"hw_audience_bench_{os.getpid()}"
        admin = create_engine(args.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f"CREATE DATABASE {name}"))
        url = make_url(args.url).set(database=name)
    else:
        url = f"sqlite:///{home}/bench.db"
    engine = db.get_engine(url)
    queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=_serve, args=(queue,), daemon=True)
    server.start()
    port = queue.get(timeout=30)
    os.environ["AIRFLOW_CONN_HW_BENCH_HOOK"] = json.dumps(
        {"conn_type": "http", "host": "127.0.0.1", "port": port, "schema": "http", "password": "bench-secret"})
    audience = audience_from(Path("bench_vip.yaml"), {
        "condition": "loyalty_points >= 500 and upper(country) != 'ZZ'",
        "variables": [{"name": "name", "expr": "upper(first_name)"}, {"name": "points", "from": "loyalty_points"}],
        "destinations": [{"name": "hook", "type": "webhook", "conn_id": "hw_bench_hook", "batch_size": 500}],
    })
    try:
        t = time.perf_counter()
        _populate(engine, args.profiles)
        print(f"setup: {args.profiles:,} profiles written in {time.perf_counter() - t:.1f} s ({engine.dialect.name})")

        current, table, counts, select_s, diff_s = _membership_and_diff(engine, audience)
        print(f"initial: {current.num_rows:,} members; select {select_s:.2f} s, diff {diff_s:.2f} s; {counts}")
        t = time.perf_counter()
        rows = table.to_pylist()
        for start in range(0, len(rows), 50_000):
            record_acks(engine, "bench_vip", "hook", "initial", rows[start:start + 50_000])
        print(f"ack: {len(rows):,} acknowledged rows written in {time.perf_counter() - t:.1f} s")

        changed = _churn(engine, args.churn)
        current, table, counts, select_s, diff_s = _membership_and_diff(engine, audience)
        total = select_s + diff_s
        print(f"churn: {changed:,} profiles changed; {current.num_rows:,} members; select {select_s:.2f} s + diff "
              f"{diff_s:.2f} s = {total:.2f} s ({args.profiles / total:,.0f} profiles/s); {counts}")

        from headwater.activation.destinations.base import payload
        from headwater.activation.destinations.registry import make_hook
        from headwater.activation.operators import deliver

        sample = table.slice(0, args.deliver)
        import logging

        dest = audience.config.destinations[0]
        t = time.perf_counter()
        stats = deliver(engine, audience, dest, [sample], make_hook(dest, audience="bench_vip", run_id="bench"), "bench",
                        log=logging.getLogger("bench"))
        hook_s = time.perf_counter() - t
        sent = sum(stats["sent"].values())
        print(f"webhook destination: {sent:,} signals in {hook_s:.2f} s = {sent / hook_s:,.0f} profiles/s "
              f"(HMAC, batches of {dest.batch_size}, acknowledgments written to the store)")

        import httpx

        signals = sample.to_pylist()
        bodies = [json.dumps({"signals": [payload(s, variables=True) for s in signals[i:i + 500]]}, separators=(",", ":")).encode()
                  for i in range(0, len(signals), 500)]
        t = time.perf_counter()
        with httpx.Client(trust_env=False) as client:
            for body in bodies:
                client.post(f"http://127.0.0.1:{port}/", content=body, headers={"Content-Type": "application/json"}).raise_for_status()
        plain_s = time.perf_counter() - t
        print(f"plain httpx loop (ceiling, same server, same bodies prebuilt): {len(signals):,} in {plain_s:.2f} s = "
              f"{len(signals) / plain_s:,.0f} profiles/s; the destination reaches {plain_s / hook_s:.0%} of it")
    finally:
        server.terminate()
        db.reset_engines()
        if args.url:
            with admin.connect() as c:
                c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
