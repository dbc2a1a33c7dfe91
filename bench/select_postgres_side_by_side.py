"""Benchmark: the PostgreSQL select of two checkouts side by side (e.g. main against a branch).

    .venv/bin/python bench/select_postgres_side_by_side.py --other /work/main [--rows 1000000]
                                                            [--rounds 3] [--cursor] [--drop]

Each round runs one fresh child process per checkout, alternating (A, B, A, B, ...), so both see
the same load on a shared machine. A child imports `headwater` from its checkout's `plugins/`,
builds the PostgreSQL hook from a `postgres` connector (`AIRFLOW_CONN_HW_SBS_PG`) and reads the
whole table through `hook.read()` (chunks of 100,000 rows, counted and dropped). It reports the
read's wall and CPU seconds, separately from the time to import and build the hook. With
`--cursor` the read is incremental (a watermark inlined in the SQL, `ORDER BY updated_at`).

The table `hw_sbs_customers_<rows>` (id, email, first_name, country, amount numeric(10,2),
updated_at timestamp) is created in database `test` on 127.0.0.1:5432 when missing and kept
unless `--drop` is given. Run on demand; not part of the pytest suite.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG = {"conn_type": "postgres", "host": "127.0.0.1", "port": 5432, "login": "postgres", "schema": "test"}

CHILD = r"""
import json, sys, time
start = time.perf_counter()
from headwater.connectors.models import PostgresConnector
from headwater.connectors.registry import make_hook
fields = json.loads(sys.argv[1])
hook = make_hook(PostgresConnector(type="postgres", conn_id="hw_sbs_pg", chunk_size=100_000, **fields))
ready = time.perf_counter()
cpu = time.process_time()
rows = sum(chunk.table.num_rows for chunk in hook.read(None))
print(json.dumps({"rows": rows, "setup_s": ready - start, "read_s": time.perf_counter() - ready,
                  "read_cpu_s": time.process_time() - cpu}))
"""


def ensure_table(table: str, rows: int) -> None:
    import psycopg2

    conn = psycopg2.connect(host=PG["host"], port=PG["port"], user=PG["login"], dbname=PG["schema"])
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
        if not cur.fetchone()[0]:
            cur.execute(
                f"CREATE TABLE {table} (id bigint PRIMARY KEY, email text, first_name text, country text, "
                "amount numeric(10,2), updated_at timestamp NOT NULL)"
            )
            cur.execute(
                f"INSERT INTO {table} SELECT g, 'user' || g || '@example.com', 'Name' || g, 'gb', "
                f"(g % 10000) / 100.0, timestamp '2026-01-01' + g * interval '1 second' "
                f"FROM generate_series(1, {rows}) g"
            )
            cur.execute(f"ANALYZE {table}")
    conn.close()


def drop_table(table: str) -> None:
    import psycopg2

    conn = psycopg2.connect(host=PG["host"], port=PG["port"], user=PG["login"], dbname=PG["schema"])
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {table}")
    conn.close()


def run_child(checkout: Path, fields: dict) -> dict:
    env = {
        **os.environ,
        "PYTHONPATH": str(checkout / "plugins"),
        "AIRFLOW_CONN_HW_SBS_PG": json.dumps(PG),
        "HEADWATER_INCLUDE_DIR": str(checkout / "include"),
    }
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(fields)], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--other", required=True, help="the other checkout (e.g. /work/main)")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cursor", action="store_true", help="incremental read (watermark in the SQL)")
    parser.add_argument("--drop", action="store_true")
    args = parser.parse_args()

    table = f"hw_sbs_customers_{args.rows}"
    ensure_table(table, args.rows)
    fields: dict = {"table": f"public.{table}"}
    if args.cursor:
        fields["cursor"] = {"column": "updated_at", "initial_value": "2026-01-01T00:00:00"}
    checkouts = {"other": Path(args.other).resolve(), "this": ROOT}
    results: dict[str, list[dict]] = {name: [] for name in checkouts}
    for round_ in range(args.rounds):
        for name, checkout in checkouts.items():
            result = run_child(checkout, fields)
            if result["rows"] != args.rows:
                print(f"{name}: read {result['rows']} rows, expected {args.rows}", file=sys.stderr)
                return 1
            results[name].append(result)
            print(f"round {round_ + 1} {name:5} {checkout}: read {result['read_s']:.2f} s "
                  f"(cpu {result['read_cpu_s']:.2f} s), setup {result['setup_s']:.2f} s", flush=True)
    print(f"\nselect of {table} ({args.rows:,} rows{', incremental' if args.cursor else ''}), {args.rounds} rounds")
    print("checkout  median read s  median read cpu s  rows/s (median)  median setup s")
    for name, runs in results.items():
        read = statistics.median(r["read_s"] for r in runs)
        cpu = statistics.median(r["read_cpu_s"] for r in runs)
        setup = statistics.median(r["setup_s"] for r in runs)
        print(f"{name:8}  {read:13.2f}  {cpu:17.2f}  {args.rows / read:15,.0f}  {setup:14.2f}")
    if args.drop:
        drop_table(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
