"""Benchmark: a file source with many files already in its state (issue 8 item 9).

    .venv/bin/python bench/file_state.py [--files 100000] [--dir /tmp/hw-bench-state] [--store URL]

Creates `--files` one-row CSV files (kept in `--dir` for the next run), records all of them as
ingested in the store (as if earlier runs had read them), adds one new file, and runs connect,
select, map, validate, load and monitor the way tests/pipeline/harness.py does. Prints the wall
and CPU seconds of each task (CPU: this process, all threads; the figure to compare on a busy
machine; the database server's own time is not in it) and the size of each task's XCom (its manifest as JSON), which is what Airflow
stores in its metadata database and hands to the next task. Run on demand; not part of pytest.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]
STAGES = ["connect", "select", "map", "validate", "load", "monitor"]

SOURCE = """
description: bench file state
owner: bench
connector:
  type: local_files
  path: {path}/*.csv
  format: csv
mapping:
  target: event
  fields:
    - {{to: event_id, from: id}}
    - {{to: event_type, from: type}}
    - {{to: occurred_at, from: ts}}
validate:
  max_error_ratio: 0.01
schedule:
  interval: 1d
  start_date: 2026-01-01
load:
  table: bench_state
  mode: append
"""


def make_files(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    have = sum(1 for _ in folder.glob("f-*.csv"))
    if have == count:
        return
    shutil.rmtree(folder)
    folder.mkdir(parents=True)
    print(f"creating {count:,} files in {folder} ...", flush=True)
    for i in range(count):
        (folder / f"f-{i:07d}.csv").write_text(f"id,type,ts\nevt-{i},purchase,2026-01-01T00:00:00+00:00\n")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "hw-bench-state")
    parser.add_argument("--store", help="store URL (default: a SQLite file in the temp workspace)")
    args = parser.parse_args()

    data = args.dir / "files"
    make_files(data, args.files)
    work = Path(tempfile.mkdtemp(prefix="hw-bench-state-"))
    include = work / "include"
    shutil.copytree(ROOT / "include" / "schemas", include / "schemas")
    (include / "sources").mkdir()
    os.environ.update(
        HEADWATER_INCLUDE_DIR=str(include), HEADWATER_SOURCES_DIR=str(include / "sources"), HEADWATER_HOME=str(work / "home")
    )
    for name in ("HEADWATER_LAKE_URI", "HEADWATER_STORE_CONN_ID"):
        os.environ.pop(name, None)
    if args.store:
        os.environ["HEADWATER_STORE_URL"] = args.store
    else:
        os.environ.pop("HEADWATER_STORE_URL", None)

    from headwater.config.loader import load_source
    from headwater.connectors.registry import make_hook
    from headwater.dag_builder import build_dag
    from headwater.store import db, state
    from tests.pipeline.harness import RETURN, run_task

    source_file = include / "sources" / "bench_state.yaml"
    source_file.write_text(SOURCE.format(path=data))
    source = load_source(source_file)
    dag = build_dag(source)
    engine = db.get_engine()
    with engine.begin() as conn:
        conn.execute(state.state_table.delete().where(state.state_table.c.source == dag.dag_id))
    entries, _ = make_hook(source.config.connector).matching()
    seeded = {"files": {e.key: e.state for e in entries}}
    state.set_state(engine, dag.dag_id, seeded, "seed")
    print(f"state seeded with {len(entries):,} files ({len(json.dumps(seeded)):,} bytes of JSON)")
    new_file = data / "zz-new.csv"
    new_file.write_text("id,type,ts\nevt-new,purchase,2026-01-02T00:00:00+00:00\n")
    try:
        xcoms: dict = {}
        for task in STAGES:
            wall, cpu = time.perf_counter(), time.process_time()
            run_task(dag, task, "bench__state", xcoms)
            seconds, cpu = time.perf_counter() - wall, time.process_time() - cpu
            size = sum(len(json.dumps(v)) for (t, _), v in xcoms.items() if t == task)
            print(f"{task:9s} {seconds:7.2f} s wall {cpu:7.2f} s cpu   xcom {size:>12,} bytes")
        outcome = xcoms[("monitor", RETURN)]
        print(f"status {outcome['status']}, rows read {outcome['rows_read']}, loaded {outcome['rows_loaded']}")
        after = state.get_state(engine, dag.dag_id)
        print(f"state now {len((after or {}).get('files') or {}):,} files")
    finally:
        new_file.unlink()
        db.reset_engines()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
