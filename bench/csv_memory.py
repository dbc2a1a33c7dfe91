"""Benchmark: a 1 GB CSV goes through the select stage in bounded memory.

    .venv/bin/python bench/csv_memory.py [--mb 1000] [--chunk-size 100000] [--limit-mib 500]
                                         [--dir /tmp/hw-bench-files-1g] [--format csv|jsonl]

Target: peak RSS of the process running select stays under 500 MiB for a 1 GB CSV.

The file is generated once by `file_throughput.generate` (purchase events, ~110 bytes a row) and
reused. A fresh child process (own HEADWATER_HOME and AIRFLOW_HOME in a temp folder) executes the
real `LocalFilesSelectOperator` the way tests/pipeline/harness.py does; the parent reads the
child's peak RSS from `os.wait4` (the kernel's ru_maxrss for that child; sampling cannot miss the
peak). Exits 1 when the peak reaches the limit or the row count is wrong. Run on demand.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MIB


def child(spec_path: str) -> None:
    """Execute the select task once; write the measurements next to the spec."""
    spec = json.loads(Path(spec_path).read_text())
    sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]
    import pyarrow as pa
    from airflow.sdk import DAG

    from headwater.operators.select import LocalFilesSelectOperator
    from tests.pipeline.harness import run_task

    with DAG("hw_bench_csv_memory", schedule=None) as dag:
        LocalFilesSelectOperator(
            task_id="select",
            source_name="hw_bench_csv_memory",
            path=spec["path"],
            format=spec["format"],
            incremental=False,
            chunk_size=spec["chunk_size"],
        )
    baseline = _rss_mib()
    start = time.perf_counter()
    manifest = run_task(dag, "select", "bench__csv_memory", {})
    result = {
        "seconds": time.perf_counter() - start,
        "rows_read": manifest["rows_read"],
        "parts": len(manifest["parts"]),
        "baseline_rss_mib": baseline,
        "arrow_pool_max_mib": pa.default_memory_pool().max_memory() / MIB,
    }
    Path(spec_path).with_suffix(".out.json").write_text(json.dumps(result))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child")
    parser.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mb", type=int, default=1000)
    parser.add_argument("--chunk-size", type=int, default=100_000)
    parser.add_argument("--limit-mib", type=float, default=500)
    parser.add_argument("--format", default="csv", choices=["csv", "jsonl"])
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "hw-bench-files-1g")
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0
    sys.path[:0] = [str(ROOT / "plugins"), str(ROOT), str(ROOT / "bench")]
    from file_throughput import MB, generate

    if args.generate_only:
        generate(args.dir, args.mb)
        return 0
    # In a process of its own: the select child's peak RSS (ru_maxrss) includes the pages it shared
    # with this parent between fork and exec, so a parent grown by generating 1 GB inflated it
    # (506 MiB on the generating run, 326 MiB on the next, same code).
    generating = [sys.executable, __file__, "--generate-only", "--mb", str(args.mb), "--dir", str(args.dir)]
    if subprocess.run(generating, check=False).returncode != 0:
        print("generating the data failed")
        return 1
    data = generate(args.dir, args.mb)[args.format]  # already there: only the paths
    expected_rows = args.mb * MB // 110
    with tempfile.TemporaryDirectory(prefix="hw-bench-mem-") as tmp:
        home = Path(tmp)
        spec = home / "spec.json"
        spec.write_text(json.dumps({"path": str(data), "format": args.format, "chunk_size": args.chunk_size}))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HEADWATER_", "AIRFLOW"))}
        env.update(HEADWATER_HOME=str(home / "headwater"), AIRFLOW_HOME=str(home / "airflow"),
                   AIRFLOW__CORE__LOAD_EXAMPLES="False")
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, __file__, "--child", str(spec)], env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            print("the select child failed")
            return 1
        out = json.loads(spec.with_suffix(".out.json").read_text())
        shutil.rmtree(home / "headwater", ignore_errors=True)
    peak = usage.ru_maxrss / 1024
    size_mb = data.stat().st_size / MB
    print(f"{args.format} {size_mb:.0f} MB, chunk_size {args.chunk_size:,}: {out['rows_read']:,} rows in "
          f"{out['seconds']:.1f} s ({size_mb / out['seconds']:.0f} MB/s; child process {wall:.1f} s, "
          f"CPU {usage.ru_utime + usage.ru_stime:.1f} s), {out['parts']} parts")
    print(f"peak RSS {peak:.0f} MiB (start {out['baseline_rss_mib']:.0f} MiB, "
          f"arrow pool max {out['arrow_pool_max_mib']:.0f} MiB); limit {args.limit_mib:.0f} MiB")
    ok = peak < args.limit_mib and out["rows_read"] == expected_rows
    if out["rows_read"] != expected_rows:
        print(f"MISSED: read {out['rows_read']:,} rows, expected {expected_rows:,}")
    if peak >= args.limit_mib:
        print("MISSED: peak RSS at or above the limit")
    return 0 if ok else 1


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    sys.exit(main())
