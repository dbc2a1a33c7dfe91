"""Benchmark: file throughput through the real pipeline, side by side with bare pyarrow.

    .venv/bin/python bench/file_throughput.py [--mb 500] [--formats csv jsonl] [--dir /tmp/hw-bench-files]

Targets: a CSV goes select → map → validate → load at >= 150 MB of input per second per core, and
JSON lines of the same rows at no less than half the CSV rate.

The data (purchase events: 10 columns, ~110 bytes a row in CSV) is generated once with pyarrow
into `--dir` and reused while its size matches. For each format the script builds a workspace in a
temp folder (the repo's target schemas, one `local_files` source with a plain mapping to the
`event` schema and no expectations, its own lake and store) and runs connect, select, map,
validate, load and monitor the way tests/pipeline/harness.py does, timing each task: wall seconds
and CPU seconds of this process (all threads). MB/s per core = input MB / CPU seconds of select..load.
The "raw pair" is what the same machine does with bare pyarrow on the same file: read it with
`pyarrow.csv` (one thread, every column text) and write it as one Parquet file.
Exits 1 when a target is missed. Run on demand; not part of the pytest suite.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]
MB = 1_000_000
ROW_BYTES = 110  # about, in CSV
STAGES = ["connect", "select", "map", "validate", "load", "monitor"]
TIMED = ["select", "map", "validate", "load"]

SOURCE = """
description: bench {fmt}
owner: bench
connector:
  type: local_files
  path: {path}
  format: {fmt}
  incremental: false
mapping:
  target: event
  fields:
    - {{to: event_id, from: id}}
    - {{to: event_type, from: type}}
    - {{to: occurred_at, from: ts}}
    - {{to: customer_id, from: crm_id}}
    - {{to: email, from: customer_email}}
    - {{to: product_id, from: sku}}
    - {{to: quantity, from: qty}}
    - {{to: amount, from: total}}
    - {{to: currency, from: currency}}
    - {{to: channel, from: channel}}
validate:
  max_error_ratio: 0.01
schedule:
  interval: 1d
  start_date: 2026-01-01
load:
  table: bench_{fmt}
  mode: append
"""


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def generate(folder: Path, mb: int) -> dict[str, Path]:
    """events.csv and events.jsonl with the same rows (kept for the next run while the size fits)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    folder.mkdir(parents=True, exist_ok=True)
    csv_path, jsonl_path = folder / "events.csv", folder / "events.jsonl"
    rows = mb * MB // ROW_BYTES
    stamp = folder / f"rows-{rows}"
    if stamp.exists() and csv_path.exists() and jsonl_path.exists():
        return {"csv": csv_path, "jsonl": jsonl_path}
    for old in folder.glob("rows-*"):
        old.unlink()
    print(f"generating {rows:,} rows into {folder} ...", flush=True)
    plain = pacsv.WriteOptions(quoting_style="none")  # like most exports: no value needs quotes
    with pacsv.CSVWriter(csv_path, _schema(), write_options=plain) as csv_out, jsonl_path.open("wb") as jsonl_out:
        step = 500_000
        for start in range(0, rows, step):
            ids = pa.array(range(start, min(start + step, rows)), pa.int64())
            table = _batch(pa, pc, ids)
            csv_out.write_table(table)
            jsonl_out.write(_jsonl(pa, pc, table))
    stamp.touch()
    return {"csv": csv_path, "jsonl": jsonl_path}


def _schema():
    import pyarrow as pa

    return pa.schema([(n, pa.string()) for n in
                      ["id", "type", "ts", "crm_id", "customer_email", "sku", "qty", "total", "currency", "channel"]])


def _batch(pa, pc, ids):
    text = pc.cast(ids, pa.string())
    pick = lambda values, mod: pc.take(pa.array(values), pc.cast(pc.bit_wise_and(ids, mod), pa.int64()))  # noqa: E731
    seconds = pc.cast(pc.multiply(ids, 37), pa.timestamp("s"))
    ts = pc.binary_join_element_wise(pc.strftime(seconds, "%Y-%m-%dT%H:%M:%S"), "+00:00", "")
    columns = {
        "id": pc.binary_join_element_wise("evt-", text, ""),
        "type": pick(["purchase", "refund", "purchase", "purchase"], 3),
        "ts": ts,
        "crm_id": pc.binary_join_element_wise("CRM-", pc.cast(pc.bit_wise_and(ids, 65535), pa.string()), ""),
        "customer_email": pc.binary_join_element_wise("customer.", text, "@example.com", ""),
        "sku": pick(["SKU-MUG", "SKU-BAG", "SKU-KIT", "SKU-TEE"], 3),
        "qty": pc.cast(pc.add(pc.bit_wise_and(ids, 3), 1), pa.string()),
        "total": pc.binary_join_element_wise(pc.cast(pc.bit_wise_and(ids, 255), pa.string()), ".25", ""),
        "currency": pick(["EUR", "USD"], 1),
        "channel": pick(["web", "store", "app", "web"], 3),
    }
    return pa.table(columns, schema=_schema())


def _jsonl(pa, pc, table) -> bytes:
    """One JSON object per line; qty and total as numbers (as a JSON export would have them)."""
    parts = []
    for i, name in enumerate(table.column_names):
        quote = "" if name in ("qty", "total") else '"'
        parts += [("{" if i == 0 else ",") + f'"{name}":{quote}', table.column(name), quote]
    parts.append("}\n")
    lines = pc.binary_join_element_wise(*parts, "")
    return b"".join(_join(chunk) for chunk in lines.chunks)


def _join(array) -> bytes:
    # the value buffer of a string array is the rows back to back: exactly the lines
    import numpy as np

    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)
    start, end = int(offsets[array.offset]), int(offsets[array.offset + len(array)])
    return array.buffers()[2].to_pybytes()[start:end]


def raw_pair(csv_path: Path, work: Path) -> dict:
    """Bare pyarrow on the same file: read (one thread, all text) and write one Parquet file."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out = work / "raw.parquet"
    wall, cpu = time.perf_counter(), _cpu()
    table = pacsv.read_csv(
        csv_path,
        read_options=pacsv.ReadOptions(use_threads=False),
        convert_options=pacsv.ConvertOptions(column_types=_schema()),
    )
    read_wall, read_cpu = time.perf_counter() - wall, _cpu() - cpu
    pq.write_table(table, out)
    result = {"rows": table.num_rows, "read_s": read_wall, "read_cpu": read_cpu,
              "wall_s": time.perf_counter() - wall, "cpu_s": _cpu() - cpu}
    del table
    out.unlink()
    return result


def pipeline(fmt: str, data: Path, work: Path) -> dict:
    """The real DAG's tasks for a local_files source on `data`, each timed."""
    from headwater.config.loader import load_source
    from headwater.dag_builder import build_dag
    from headwater.store import db
    from tests.pipeline.harness import run_task

    root = work / fmt
    include = root / "include"
    shutil.copytree(ROOT / "include" / "schemas", include / "schemas")
    (include / "sources").mkdir()
    os.environ.update(
        HEADWATER_INCLUDE_DIR=str(include), HEADWATER_SOURCES_DIR=str(include / "sources"), HEADWATER_HOME=str(root / "home")
    )
    for name in ("HEADWATER_LAKE_URI", "HEADWATER_STORE_URL", "HEADWATER_STORE_CONN_ID"):
        os.environ.pop(name, None)
    db.reset_engines()
    source = include / "sources" / f"bench_{fmt}.yaml"
    source.write_text(SOURCE.format(fmt=fmt, path=data))
    dag = build_dag(load_source(source))
    xcoms: dict = {}
    timings = {}
    for task in STAGES:
        wall, cpu = time.perf_counter(), _cpu()
        run_task(dag, task, f"bench__{fmt}", xcoms)
        timings[task] = (time.perf_counter() - wall, _cpu() - cpu)
    outcome = xcoms[("monitor", "return_value")]
    db.reset_engines()
    shutil.rmtree(root, ignore_errors=True)
    return {"timings": timings, "rows_read": outcome.get("rows_read"), "rows_loaded": outcome.get("rows_loaded"),
            "status": outcome.get("status")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=500, help="size of the CSV to generate (MB)")
    parser.add_argument("--formats", nargs="+", default=["csv", "jsonl"], choices=["csv", "jsonl"])
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "hw-bench-files")
    parser.add_argument("--target", type=float, default=150.0, help="MB/s per core for CSV")
    args = parser.parse_args()
    os.environ.setdefault("AIRFLOW_HOME", str(args.dir / "airflow"))
    files = generate(args.dir, args.mb)
    # Imports done inside tasks (Great Expectations alone takes 6+ s here) are a fixed cost per
    # worker process, not per MB: paid before timing.
    import deltalake  # noqa: F401
    import great_expectations  # noqa: F401
    sizes = {fmt: files[fmt].stat().st_size / MB for fmt in files}
    ok = True
    with tempfile.TemporaryDirectory(prefix="hw-bench-") as tmp:
        work = Path(tmp)
        raw = raw_pair(files["csv"], work)
        print(f"raw pair (pyarrow read + Parquet write), {sizes['csv']:.0f} MB CSV, {raw['rows']:,} rows: "
              f"{raw['wall_s']:.1f} s wall, {raw['cpu_s']:.1f} s CPU -> {sizes['csv'] / raw['cpu_s']:.0f} MB/s per core "
              f"(read alone {sizes['csv'] / raw['read_cpu']:.0f} MB/s)")
        rates = {}
        for fmt in args.formats:
            result = pipeline(fmt, files[fmt], work)
            t = result["timings"]
            wall = sum(t[s][0] for s in TIMED)
            cpu = sum(t[s][1] for s in TIMED)
            rates[fmt] = sizes[fmt] / cpu
            print(f"\n{fmt}: {sizes[fmt]:.0f} MB, rows read {result['rows_read']:,}, loaded {result['rows_loaded']:,} "
                  f"({result['status']})")
            print("| stage | wall s | CPU s | MB/s (CPU) |\n| --- | ---: | ---: | ---: |")
            for stage in STAGES:
                print(f"| {stage} | {t[stage][0]:.1f} | {t[stage][1]:.1f} | {sizes[fmt] / max(t[stage][1], 1e-9):.0f} |")
            print(f"| select..load | {wall:.1f} | {cpu:.1f} | **{rates[fmt]:.0f}** |")
            print(f"{fmt}: {sizes[fmt] / wall:.0f} MB/s wall, {rates[fmt]:.0f} MB/s per core")
            if result["rows_loaded"] != raw["rows"]:
                print(f"{fmt}: loaded {result['rows_loaded']} rows, expected {raw['rows']}")
                ok = False
    if "csv" in rates and rates["csv"] < args.target:
        print(f"MISSED: CSV {rates['csv']:.0f} MB/s per core < {args.target:.0f}")
        ok = False
    if "csv" in rates and "jsonl" in rates:
        # compare in rows: the JSONL file is larger for the same rows
        ratio = (rates["csv"] / sizes["csv"]) / (rates["jsonl"] / sizes["jsonl"])
        print(f"JSON lines takes {ratio:.2f}x the CPU time of CSV for the same rows "
              f"({rates['jsonl']:.0f} vs {rates['csv']:.0f} MB/s of input)")
        if ratio > 2:
            print("MISSED: JSON lines is more than 2x slower than CSV")
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
