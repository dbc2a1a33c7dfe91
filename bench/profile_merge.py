"""Profile store throughput on PostgreSQL: new records, identity stitching, plain attribute upserts.

    .venv/bin/python bench/profile_merge.py [--rows 100000] [--chunk 10000] [--url URL]

Creates a throwaway database on the local server (dropped afterwards) and times `upsert_chunk`:
1. `new`: source crm, every record a new person (email, E.164 phone, crm_id; 8 attributes);
2. `stitch`: source loyalty, the same people by email plus a new loyalty_id; every 50th record
   also carries another person's phone, so it merges two profiles (or is refused by the limits);
3. `attributes`: source crm again, every record's attributes changed, no new identities;
4. `unchanged`: the same crm rows once more (a daily re-sync where nothing changed: no writes).
Exits 1 when stitching is below 200k rows/s or attribute upserts below 500k rows/s.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from sqlalchemy import URL, create_engine, make_url, text  # noqa: E402

DEFAULT_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"

TARGETS = {"stitch": 200_000, "attributes": 500_000}


def rows_for(source: str, n: int, version: int) -> list[dict]:
    now = datetime(2026, 1, 1 + version, tzinfo=UTC)
    out = []
    for i in range(n):
        row = {"email": f"user{i}@example.com", "first_name": "F", "last_name": f"L{i}", "city": "Leeds",
               "country": "GB", "points": i * version, "tier": "gold", "updated_at": now}
        if source == "crm":
            row |= {"crm_id": f"C{i}", "phone": f"+4477{i:08d}"}
        else:
            row |= {"loyalty_id": f"L{i}"}
            if i % 50 == 0:
                row["phone"] = f"+4477{(i + 1) % n:08d}"  # the next person's phone: a merge candidate
        out.append(row)
    return out


@contextmanager
def scratch_database(url: str, prefix: str = "hw_bench") -> Iterator[URL]:
    """A throwaway database on the server of `url`, dropped (with its connections) afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run(engine, source, rows, chunk, ids, key) -> tuple[float, object]:
    from headwater.store.profiles import ChunkResult, upsert_chunk

    total = ChunkResult()
    started = time.perf_counter()
    for i in range(0, len(rows), chunk):
        total += upsert_chunk(engine, source=source, run_id=f"run_{uuid.uuid4().hex[:6]}", rows=rows[i : i + chunk],
                              identities=ids, record_key=key, updated_at="updated_at")
    return time.perf_counter() - started, total


def parse_args(doc: str) -> argparse.Namespace:
    """--rows, --chunk and --url, shared by the profile-store benchmarks."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="records per phase")
    parser.add_argument("--chunk", type=int, default=10_000, help="records per chunk (one transaction)")
    parser.add_argument("--url", default=DEFAULT_URL, help="server to create the scratch database on")
    return parser.parse_args()


def main() -> int:
    args = parse_args(__doc__)
    from headwater.store import db

    with scratch_database(args.url) as url:
        engine = db.get_engine(url)
        crm_ids = [("email", "email"), ("phone", "phone"), ("crm_id", "crm_id")]
        loy_ids = [("loyalty_id", "loyalty_id"), ("email", "email"), ("phone", "phone")]
        phases = [
            ("new", "crm", rows_for("crm", args.rows, 1), crm_ids, "crm_id"),
            ("stitch", "loyalty", rows_for("loyalty", args.rows, 1), loy_ids, "loyalty_id"),
            ("attributes", "crm", rows_for("crm", args.rows, 2), crm_ids, "crm_id"),
            ("unchanged", "crm", rows_for("crm", args.rows, 2), crm_ids, "crm_id"),
        ]
        missed = False
        print(f"{'phase':<11} {'rows':>9} {'seconds':>8} {'rows/s':>9}  target   result")
        for phase, source, rows, ids, key in phases:
            elapsed, res = run(engine, source, rows, args.chunk, ids, key)
            rate = len(rows) / elapsed
            target = TARGETS.get(phase)
            ok = target is None or rate >= target
            missed |= not ok
            print(f"{phase:<11} {len(rows):>9,} {elapsed:>8.2f} {rate:>9,.0f}  {target or '-':>7}  "
                  f"created={res.profiles_created} merged={res.profiles_merged} refused={res.merges_refused}")
        db.reset_engines()
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
