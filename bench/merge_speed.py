"""Benchmark: merge-mode loads into one lake table; before (main's code) and after (this tree).

    .venv/bin/python bench/merge_speed.py [--rows 1000000] [--before /work/main/plugins] [--only after]

Target (issue #15, part 2): a merge run's time grows with the changed rows, not the table: a run
that changes 1% of the rows takes at most 3x a no-op run; the first full load in merge mode peaks
under 1 GiB.

For each code version a fresh lake folder gets, in order: `full` (first load of all rows in merge
mode), `noop` (a run that selected nothing: zero rows), `1%` and `10%` (that share of the table
arrives: half updates of the most recently inserted keys, half new keys above them, as a cursor on
an increasing id / updated_at sees them), and `1% scattered` (1% updates at uniformly random keys,
the case file pruning cannot help). Each step is a fresh child process running
`headwater.lake.delta.write_table(..., mode="merge", primary_key=["id"])` with PYTHONPATH set to
that version's `plugins` folder; the parent reads the child's peak RSS from `os.wait4` (ru_maxrss).
`run s` is the child's whole life (interpreter, imports, building the rows, the write), `write s`
only the write_table call. The rows are built from a fixed seed, so both versions get the same data.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
STEPS = ["full", "noop", "1%", "10%", "1% scattered"]

CHILD = r"""
import time
born = time.perf_counter()
import json, sys
import numpy as np
import pyarrow as pa
from headwater.lake.delta import write_table

rows, step, lake = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rng = np.random.default_rng(15)

def table(ids, version):
    n = len(ids)
    return pa.table({
        "id": pa.array(ids, pa.int64()),
        "email": pa.array([f"user{i}@example.com" for i in ids.tolist()]),
        "name": pa.array([f"name {i % 9973} v{version}" for i in ids.tolist()]),
        "country": pa.array(np.array(["FR", "DE", "US", "BR", "JP"])[ids % 5]),
        "amount": pa.array(rng.random(n) * 1000),
        "updated_at": pa.array((1_700_000_000_000_000 + ids * 1000 + version).astype("datetime64[us]")),
    })

if step == "full":
    parts = [table(np.arange(s, min(s + 100_000, rows)), 0) for s in range(0, rows, 100_000)]
elif step == "noop":
    table(np.arange(1), 0)  # the same fixed cost as the other steps (pyarrow imports pandas here)
    parts = []
else:
    share = 0.01 if step.startswith("1%") else 0.10
    n = int(rows * share)
    if step.endswith("scattered"):
        ids = np.sort(rng.choice(rows, n, replace=False))
    else:  # half the most recent keys updated, half new keys above them
        top = rows + {"1%": 0, "10%": int(rows * 0.005)}[step]  # after the 1% step's inserts
        ids = np.arange(top - n // 2, top + n - n // 2)
    version = {"1%": 1, "10%": 2, "1% scattered": 3}[step]
    parts = [table(ids[s:s + 100_000], version) for s in range(0, len(ids), 100_000)]
start = time.perf_counter()
result = write_table("bench", parts, source="bench", run_id=step, mode="merge", primary_key=["id"], root=lake)
print(json.dumps({"write_s": time.perf_counter() - start, "child_s": time.perf_counter() - born, "rows": result["rows"], "version": result["version"]}))
"""


def run_step(plugins: str, rows: int, step: str, lake: str) -> dict:
    env = {**os.environ, "PYTHONPATH": plugins, "HEADWATER_HOME": lake + "-home"}
    env.pop("HEADWATER_LAKE_CONN_ID", None)
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(rows), step, lake], env=env, stdout=subprocess.PIPE, text=True
    )
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{step} with {plugins} failed (status {status})")
    result = json.loads(out.strip().splitlines()[-1])
    return {**result, "run_s": elapsed, "peak_mib": usage.ru_maxrss / 1024}


def table_stats(lake: str) -> tuple[int, int]:
    from deltalake import DeltaTable

    table = DeltaTable(os.path.join(lake, "bench"))
    adds = table.get_add_actions(flatten=True)
    return len(table.file_uris()), sum(adds.column("num_records").to_pylist())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--before", default="/work/main/plugins", help="plugins folder of the code to compare with"
    )
    parser.add_argument("--only", choices=["before", "after"])
    args = parser.parse_args()
    versions = {"before": args.before, "after": str(ROOT / "plugins")}
    if args.only:
        versions = {args.only: versions[args.only]}
    print(f"rows {args.rows:,}; load average {os.getloadavg()}")
    missed = False
    with tempfile.TemporaryDirectory(prefix="hw-merge-bench-") as tmp:
        for label, plugins in versions.items():
            lake = os.path.join(tmp, label)
            results = {}
            for step in STEPS:
                r = results[step] = run_step(plugins, args.rows, step, lake)
                files, live = table_stats(lake)
                print(
                    f"{label:6} {step:13} run {r['run_s']:6.2f} s  child {r['child_s']:6.2f} s  write {r['write_s']:6.2f} s  "
                    f"peak {r['peak_mib']:7.0f} MiB  rows in {r['rows']:>9,}  table {live:,} rows in {files} files",
                    flush=True,
                )
            ratio = results["1%"]["run_s"] / results["noop"]["run_s"]
            print(
                f"{label:6} 1% run / no-op run = {ratio:.2f}; full load peak {results['full']['peak_mib']:.0f} MiB"
            )
            if label == "after":
                missed = ratio > 3 or results["full"]["peak_mib"] > 1024
    print(f"load average {os.getloadavg()}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
