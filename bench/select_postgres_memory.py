"""Benchmark: a large PostgreSQL table goes through the select stage in bounded memory.

    .venv/bin/python bench/select_postgres_memory.py [--rows 10000000] [--chunk-size 100000 500000]
                                                     [--cursor] [--drop]

Target: a 10,000,000-row table is selected with a peak RSS under 1 GiB.

The table `hw_bench_customers_10m` (id bigint PK, email, first_name, country, amount numeric(10,2),
updated_at timestamp) is created in database `test` on 127.0.0.1:5432 (user postgres, trust auth)
with one server-side `INSERT ... SELECT FROM generate_series`, unless it is already there with the
right row count. It is kept afterwards (so the next run starts at once) unless `--drop` is given.

Each measured run is a fresh child process (own HEADWATER_HOME and AIRFLOW_HOME in a temp folder,
the Airflow connection from `AIRFLOW_CONN_HW_BENCH_PG`) that executes the real
`PostgresSelectOperator` the way tests/pipeline/harness.py does (a DAG, a fake task instance
holding XComs). The parent reads the child's peak RSS from `os.wait4` (the kernel's ru_maxrss of
that child, the same figure `getrusage(RUSAGE_CHILDREN)` reports, but per child). The exit status
is 1 when any run reaches the limit (`--limit-mib`, default 1024) or reads the wrong row count.
This is run on demand; it is not part of the pytest suite.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONN_ID = "hw_bench_pg"
PG = {"conn_type": "postgres", "host": "127.0.0.1", "port": 5432, "login": "postgres", "schema": "test"}
DEFAULT_TABLE = "hw_bench_customers_10m"
COLUMNS = ["id", "email", "first_name", "country", "amount", "updated_at"]
GENERATOR = "headwater bench/select_postgres_memory.py v2"  # table comment; change it when the data changes
MIB = 1024 * 1024


# -- the table ------------------------------------------------------------------------------------
def _pg_connect():
    import psycopg

    return psycopg.connect(
        host=PG["host"], port=PG["port"], user=PG["login"], dbname=PG["schema"], autocommit=True
    )


def ensure_table(table: str, rows: int) -> None:
    """Create `table` with `rows` rows unless it already has exactly these columns and rows."""
    from psycopg import sql

    ident = sql.Identifier(table)
    with _pg_connect() as conn:
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", [table]).fetchone()[0]
        if exists:
            cols = [
                r[0]
                for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = %s AND table_schema = current_schema() ORDER BY ordinal_position",
                    [table],
                )
            ]
            count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(ident)).fetchone()[0]
            comment = conn.execute("SELECT obj_description(%s::regclass, 'pg_class')", [table]).fetchone()[0]
            if cols == COLUMNS and count == rows and comment == GENERATOR:
                print(f"table {table}: already there with {count:,} rows")
                return
            print(
                f"table {table}: has {count:,} rows ({comment or 'no comment'}); recreating it with {rows:,} rows"
            )
        start = time.perf_counter()
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(ident))
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (id bigint NOT NULL, email text, first_name text, country text, "
                "amount numeric(10,2), updated_at timestamp)"
            ).format(ident)
        )
        # One statement, computed on the server. Emails are hashes so Parquet cannot compress them
        # away; updated_at climbs with id, 4 rows per second, so the incremental read (--cursor)
        # has ties, as real cursors do.
        conn.execute(
            sql.SQL(
                """
                INSERT INTO {} (id, email, first_name, country, amount, updated_at)
                SELECT g,
                       left(md5(g::text), 16) || '@example.com',
                       (ARRAY['Alice','Bob','Chloé','Dmitri','Eva','Farid','Grace','Hiro','Inès','José'])[1 + g %% 10],
                       (ARRAY['FR','DE','ES','IT','GB','US','JP','BR','IN','NL','SE','PL'])[1 + (g * 7) %% 12],
                       ((g * 7919) %% 1000000) / 100.0,
                       timestamp '2024-01-01 00:00:00' + (g / 4) * interval '1 second'
                FROM generate_series(1::bigint, %s::bigint) AS g
                """
            ).format(ident),
            [rows],
        )
        conn.execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY (id)").format(ident))
        conn.execute(sql.SQL("CREATE INDEX ON {} (updated_at)").format(ident))
        conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(ident, sql.Literal(GENERATOR)))
        conn.execute(sql.SQL("VACUUM ANALYZE {}").format(ident))
        size = conn.execute(
            "SELECT pg_size_pretty(pg_total_relation_size(%s::regclass))", [table]
        ).fetchone()[0]
        print(
            f"table {table}: created {rows:,} rows in {time.perf_counter() - start:.1f} s ({size} with indexes)"
        )


def drop_table(table: str) -> None:
    from psycopg import sql

    with _pg_connect() as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
    print(f"table {table}: dropped")


# -- one measured run (child process) --------------------------------------------------------------
def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MIB


def child(spec_path: str) -> None:
    """Execute the select task once; write the measurements next to the spec."""
    spec = json.loads(Path(spec_path).read_text())
    sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]
    import pyarrow as pa
    from airflow.sdk import DAG

    from headwater.operators.select import PostgresSelectOperator
    from tests.pipeline.harness import run_task

    fields = {"conn_id": CONN_ID, "table": spec["table"], "chunk_size": spec["chunk_size"]}
    if spec["cursor"]:
        fields.update(cursor={"column": "updated_at"}, primary_key="id")
    with DAG("hw_bench_select", schedule=None) as dag:
        PostgresSelectOperator(task_id="select", source_name="hw_bench_pg_select", **fields)
    baseline = _rss_mib()  # Airflow, pyarrow and Headwater imported, nothing read yet
    xcoms: dict = {}
    start = time.perf_counter()
    manifest = run_task(dag, "select", spec["run_id"], xcoms)
    seconds = time.perf_counter() - start
    sizes = [os.path.getsize(p) for p in manifest["parts"]]
    from headwater.store import db, state

    staged = state.staged_state(db.get_engine(), "hw_bench_pg_select", manifest["state"])
    result = {
        "seconds": seconds,
        "rows_read": manifest["rows_read"],
        "rows_rejected": manifest["rows_rejected"],
        "parts": len(sizes),
        "parts_bytes": sum(sizes),
        "part_max_bytes": max(sizes, default=0),
        "baseline_rss_mib": baseline,
        "self_maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "arrow_pool": pa.default_memory_pool().backend_name,
        "arrow_pool_max_mib": pa.default_memory_pool().max_memory() / MIB,
        "watermark_after": manifest["watermark_after"],
        "state_keys": len((staged or {}).get("keys_at_cursor", [])),
        "xcom_bytes": len(json.dumps(xcoms[("select", "return_value")])),
    }
    Path(spec_path).with_suffix(".out.json").write_text(json.dumps(result))


def measure(table: str, chunk_size: int, cursor: bool, work: Path, label: str) -> dict:
    """Run `child` in a fresh interpreter; its peak RSS comes from the kernel (wait4)."""
    home = work / label
    home.mkdir()
    spec = home / "spec.json"
    run_id = f"bench__{datetime.now(UTC).isoformat()}"
    spec.write_text(
        json.dumps({"table": table, "chunk_size": chunk_size, "cursor": cursor, "run_id": run_id})
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEADWATER_", "AIRFLOW"))}
    env.update(
        HEADWATER_HOME=str(home / "headwater"),
        AIRFLOW_HOME=str(home / "airflow"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        **{f"AIRFLOW_CONN_{CONN_ID.upper()}": json.dumps(PG)},
    )
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--child", str(spec)], env=env, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{label}: the select child failed (exit {proc.returncode})")
    out = json.loads(spec.with_suffix(".out.json").read_text())
    shutil.rmtree(home / "headwater", ignore_errors=True)  # the staged parts (hundreds of MB)
    return {
        **out,
        "label": label,
        "chunk_size": chunk_size,
        "cursor": cursor,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "process_seconds": wall,
    }


# -- main --------------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--table", default=DEFAULT_TABLE)
    parser.add_argument("--chunk-size", type=int, nargs="+", default=[100_000], help="one run per value")
    parser.add_argument(
        "--cursor",
        action="store_true",
        help="also run each chunk size as an incremental first read (cursor updated_at, key id)",
    )
    parser.add_argument("--limit-mib", type=float, default=1024.0, help="peak RSS limit (default 1 GiB)")
    parser.add_argument("--drop", action="store_true", help="drop the table afterwards")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0

    ensure_table(args.table, args.rows)
    work = Path(tempfile.mkdtemp(prefix="hw-bench-select-"))
    results = []
    try:
        for chunk_size in args.chunk_size:
            for cursor in (False, True) if args.cursor else (False,):
                label = f"{'incremental' if cursor else 'full'}-{chunk_size}"
                print(f"running {label} ...", flush=True)
                results.append(measure(args.table, chunk_size, cursor, work, label))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if args.drop:
            drop_table(args.table)

    print()
    print(
        f"select of {args.table} ({args.rows:,} rows), PostgresSelectOperator in a child process, "
        f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}"
    )
    header = (
        "read",
        "chunk",
        "rows",
        "seconds",
        "rows/s",
        "peak RSS MiB",
        "start RSS MiB",
        "arrow max MiB",
        "parts",
        "parts MiB",
        "max part MiB",
    )
    lines = [header]
    failed = False
    for r in results:
        ok = r["peak_rss_mib"] < args.limit_mib and r["rows_read"] == args.rows
        failed |= not ok
        lines.append(
            (
                r["label"].split("-")[0],
                f"{r['chunk_size']:,}",
                f"{r['rows_read']:,}",
                f"{r['seconds']:.1f}",
                f"{r['rows_read'] / r['seconds']:,.0f}",
                f"{r['peak_rss_mib']:.0f}" + ("" if ok else " FAIL"),
                f"{r['baseline_rss_mib']:.0f}",
                f"{r['arrow_pool_max_mib']:.0f}",
                str(r["parts"]),
                f"{r['parts_bytes'] / MIB:.0f}",
                f"{r['part_max_bytes'] / MIB:.1f}",
            )
        )
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    for row in lines:
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))
    print(
        "(seconds = the select task alone; child process with imports: "
        + ", ".join(f"{r['process_seconds']:.1f}" for r in results)
        + f"; Arrow pool: {results[0]['arrow_pool']})"
    )
    for r in results:
        if r["cursor"]:
            print(
                f"{r['label']}: watermark after: {r['watermark_after']}; XCom manifest {r['xcom_bytes']:,} bytes"
            )
    print(f"target: peak RSS < {args.limit_mib:.0f} MiB -> {'FAIL' if failed else 'OK'}")
    if not args.drop:
        print(
            f"table kept for the next run; drop it with: psql -h 127.0.0.1 -U postgres -d test "
            f"-c 'DROP TABLE {args.table}'  (or rerun with --drop)"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
