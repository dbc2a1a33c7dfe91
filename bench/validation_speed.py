"""Benchmark: the validate stage on 2M mapped rows with 6 expectations, beside Polars and pyarrow.compute.

    .venv/bin/python bench/validation_speed.py [--rows 2000000] [--gx] [--dir /tmp/hw-bench-validation]

Targets (issue #15, part 1): the validate task is at most 25% of the CPU time of the whole run
(connect..monitor), and within 2x of Polars doing the same checks on the same rows, measured in the
same run; every tool quarantines the same rows.

What it does:
1. Writes a CSV of purchase events (`--rows`, default 2,000,000; ~0.55% of the rows break one of the
   six expectations: a missing email, an email without '@', a duplicated event id, a quantity outside
   1..100, an unknown currency, a product id of the wrong length) into `--dir`, once.
2. Runs the source's real tasks (connect, select, map, validate, load, monitor) in-process, as
   `tests/pipeline/harness.py` does, each timed in wall and CPU seconds (`getrusage`, all threads).
   The six expectations are: not null, unique, email regex, between, in set, value lengths.
   With `--gx` the same run is repeated with every expectation through GX's pandas engine
   (`HEADWATER_VALIDATE_ENGINE=gx`, the behaviour before the Arrow path) for the before/after.
3. On the rows the map stage handed to validate (the same staged parts): Headwater's `Validator`
   (the checks and the row errors, no I/O), the same checks written directly in `pyarrow.compute`,
   and in Polars (installed by this script into its own virtualenv, `--dir`/polars-venv, never into
   the project's; run as a subprocess that reads the rows from Parquet before its clock starts).
   CPU seconds, best of `--repeat`. Polars and Arrow use their default thread pools; CPU time counts
   every thread.
4. Checks that the quarantined rows (`_hw_row`) are identical across the pipeline, the Validator,
   pyarrow and Polars. Exits 1 when a target is missed or the rows differ.
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
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]
STAGES = ["connect", "select", "map", "validate", "load", "monitor"]
POLARS = "polars==2.1.0"
EMAIL_RE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
CURRENCIES = ["EUR", "USD", "GBP"]

SOURCE = """
description: validation bench
owner: bench
connector:
  type: local_files
  path: {path}
  format: csv
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
  max_error_ratio: 0.05
  expectations:
    - {{type: expect_column_values_to_not_be_null, column: email}}
    - {{type: expect_column_values_to_be_unique, column: event_id}}
    - {{type: expect_column_values_to_match_regex, column: email, regex: '{email_re}'}}
    - {{type: expect_column_values_to_be_between, column: quantity, min_value: 1, max_value: 100}}
    - {{type: expect_column_values_to_be_in_set, column: currency, value_set: {currencies}}}
    - {{type: expect_column_value_lengths_to_be_between, column: product_id, min_value: 5, max_value: 12}}
schedule:
  interval: 1d
  start_date: 2026-01-01
load:
  table: bench_validation
  mode: append
"""

POLARS_SCRIPT = r"""
import json, sys, time
import polars as pl
path, out, repeat, email_re, currencies = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], json.loads(sys.argv[5])
df = pl.read_parquet(path)
best = None
for _ in range(repeat):
    wall, cpu = time.perf_counter(), time.process_time()
    flags = df.select(
        pl.col("_hw_row"),
        pl.col("email").is_null().alias("not_null"),
        (pl.col("event_id").is_not_null() & pl.col("event_id").is_duplicated()).alias("unique"),
        (pl.col("email").is_not_null() & ~pl.col("email").str.contains(email_re)).alias("regex"),
        (pl.col("quantity").is_not_null() & ~pl.col("quantity").is_between(1, 100)).alias("between"),
        (pl.col("currency").is_not_null() & ~pl.col("currency").is_in(currencies)).alias("in_set"),
        (pl.col("product_id").is_not_null() & ~pl.col("product_id").str.len_chars().is_between(5, 12)).alias("length"),
    )
    names = ["not_null", "unique", "regex", "between", "in_set", "length"]
    counts = flags.select([pl.col(n).sum() for n in names]).row(0)
    bad = pl.any_horizontal([pl.col(n) for n in names])
    failed = flags.filter(bad)["_hw_row"]
    valid = df.filter(~flags.select(bad).to_series())
    took = (time.perf_counter() - wall, time.process_time() - cpu)
    best = took if best is None or took[1] < best[1] else best
with open(out, "w") as f:
    json.dump({"wall": best[0], "cpu": best[1], "valid": valid.height, "counts": dict(zip(names, counts)),
               "failed": sorted(failed.to_list()), "version": pl.__version__}, f)
"""


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def generate(folder: Path, rows: int) -> Path:
    """events-N.csv: text columns as an export has them, with ~0.55% bad rows (kept for later runs)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"events-{rows}.csv"
    if path.exists():
        return path
    print(f"generating {rows:,} rows into {path} ...", flush=True)
    tmp = path.with_suffix(".tmp")
    with pacsv.CSVWriter(tmp, _schema(pa), write_options=pacsv.WriteOptions(quoting_style="none")) as out:
        for start in range(0, rows, 500_000):
            out.write_table(_batch(pa, pc, pa.array(range(start, min(start + 500_000, rows)), pa.int64())))
    tmp.rename(path)
    return path


def _schema(pa):
    names = ["id", "type", "ts", "crm_id", "customer_email", "sku", "qty", "total", "currency", "channel"]
    return pa.schema([(n, pa.string()) for n in names])


def _batch(pa, pc, ids):
    def every(n: int, rest: int = 0):
        return pc.equal(pc.remainder(ids, n), rest) if hasattr(pc, "remainder") else pc.equal(
            pc.subtract(ids, pc.multiply(pc.divide(ids, n), n)), rest
        )

    def pick(values, mod):
        return pc.take(pa.array(values), pc.cast(pc.bit_wise_and(ids, mod), pa.int64()))

    text = pc.cast(ids, pa.string())
    seconds = pc.cast(pc.multiply(ids, 37), pa.timestamp("s"))
    # a duplicated id: row k (k % 4001 == 1) repeats the id of row k - 1
    id_source = pc.if_else(every(4001, 1), pc.cast(pc.subtract(ids, 1), pa.string()), text)
    email = pc.binary_join_element_wise("customer.", text, "@example.com", "")
    email = pc.if_else(every(1009), pc.binary_join_element_wise("customer.", text, ".example.com", ""), email)
    email = pc.if_else(every(997), pa.scalar("", pa.string()), email)  # empty field: null
    qty = pc.cast(pc.add(pc.bit_wise_and(ids, 3), 1), pa.string())
    currency = pc.if_else(every(1019), pa.scalar("XXX"), pick(["EUR", "USD"], 1))
    sku = pc.if_else(every(1021), pa.scalar("SKU"), pick(["SKU-MUG", "SKU-BAG", "SKU-KIT", "SKU-TEE"], 3))
    columns = {
        "id": pc.binary_join_element_wise("evt-", id_source, ""),
        "type": pick(["purchase", "refund", "purchase", "purchase"], 3),
        "ts": pc.binary_join_element_wise(pc.strftime(seconds, "%Y-%m-%dT%H:%M:%S"), "+00:00", ""),
        "crm_id": pc.binary_join_element_wise("CRM-", pc.cast(pc.bit_wise_and(ids, 65535), pa.string()), ""),
        "customer_email": email,
        "sku": sku,
        "qty": pc.if_else(every(1013), pa.scalar("0"), qty),
        "total": pc.binary_join_element_wise(pc.cast(pc.bit_wise_and(ids, 255), pa.string()), ".25", ""),
        "currency": currency,
        "channel": pick(["web", "store", "app", "web"], 3),
    }
    return pa.table(columns, schema=_schema(pa))


def pipeline(data: Path, work: Path, engine: str) -> dict:
    """The real DAG's tasks on the CSV, each timed; keeps the mapped parts and the validate quarantine."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from headwater.config.loader import load_source
    from headwater.dag_builder import build_dag
    from headwater.store import db
    from tests.pipeline.harness import run_task

    root = work / engine
    include = root / "include"
    shutil.copytree(ROOT / "include" / "schemas", include / "schemas")
    (include / "sources").mkdir()
    os.environ.update(
        HEADWATER_INCLUDE_DIR=str(include),
        HEADWATER_SOURCES_DIR=str(include / "sources"),
        HEADWATER_HOME=str(root / "home"),
        HEADWATER_VALIDATE_ENGINE=engine,
    )
    for name in ("HEADWATER_LAKE_URI", "HEADWATER_STORE_URL", "HEADWATER_STORE_CONN_ID"):
        os.environ.pop(name, None)
    db.reset_engines()
    source = include / "sources" / "bench_validation.yaml"
    source.write_text(SOURCE.format(path=data, email_re=EMAIL_RE, currencies=json.dumps(CURRENCIES)))
    dag = build_dag(load_source(source))
    xcoms: dict = {}
    timings, mapped, quarantined = {}, [], None
    for task in STAGES:
        wall, cpu = time.perf_counter(), _cpu()
        run_task(dag, task, "bench__validation", xcoms)
        timings[task] = (time.perf_counter() - wall, _cpu() - cpu)
        manifest = xcoms[(task, "return_value")]
        if task == "map":  # the rows validate reads: copied out of the staged parts (not timed)
            mapped = [_read_part(pa, uri) for uri in manifest["parts"]]
        if task == "validate":
            parts = [_read_part(pa, u) for u in manifest["quarantine_parts"] if "/validate-quarantine/" in u]
            rows = pa.concat_tables(parts).column("row") if parts else pa.array([], pa.int64())
            quarantined = set(pc.unique(rows).to_pylist())
    outcome = xcoms[("monitor", "return_value")]
    db.reset_engines()
    shutil.rmtree(root, ignore_errors=True)
    os.environ.pop("HEADWATER_VALIDATE_ENGINE", None)
    return {"timings": timings, "mapped": mapped, "quarantined": quarantined, "outcome": outcome}


def _read_part(pa, uri: str):
    import pyarrow.ipc as ipc

    with pa.OSFile(uri) as source:  # a real copy: the staged files are deleted after the run
        return ipc.open_file(source).read_all()


def headwater_checks(parts: list, repeat: int) -> tuple[float, float, set[int], int]:
    """Headwater's Validator + split_valid on the staged parts (no I/O), best CPU of `repeat`."""
    import yaml

    from headwater.validation.models import ValidateConfig
    from headwater.validation.runner import Validator, split_valid

    section = yaml.safe_load(SOURCE.format(path="x", email_re=EMAIL_RE, currencies=json.dumps(CURRENCIES)))["validate"]
    validator = Validator(ValidateConfig.model_validate(section))
    validator.prepare()
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), _cpu()
        failed: set[int] = set()
        valid = 0
        for part in parts:
            result = validator.validate(part)
            failed |= result.failed_rows
            valid += split_valid(part, result.failed_rows).num_rows
        took = (time.perf_counter() - wall, _cpu() - cpu)
        best = min(best, took, key=lambda t: t[1])
    return best[0], best[1], failed, valid


def arrow_checks(table, repeat: int) -> tuple[float, float, set[int], int]:
    """The same six checks written directly with pyarrow.compute on the whole table."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), _cpu()
        email, ids = table.column("email"), table.column("event_id")
        counts = pc.value_counts(ids)
        dups = counts.field("values").filter(pc.greater(counts.field("counts"), 1))
        lengths = pc.utf8_length(table.column("product_id"))
        bad = [
            pc.is_null(email),
            pc.and_(pc.is_valid(ids), pc.is_in(ids, value_set=dups)),
            pc.invert(pc.match_substring_regex(email, EMAIL_RE)),
            pc.invert(pc.and_(pc.greater_equal(table.column("quantity"), 1), pc.less_equal(table.column("quantity"), 100))),
            pc.invert(pc.is_in(table.column("currency"), value_set=pa.array(CURRENCIES))),
            pc.invert(pc.and_(pc.greater_equal(lengths, 5), pc.less_equal(lengths, 12))),
        ]
        any_bad = np.zeros(table.num_rows, dtype=bool)
        for mask in bad:  # null (a missing value) is not a failure of the value checks
            any_bad |= mask.to_numpy(zero_copy_only=False).astype(bool) if mask.null_count == 0 else pc.fill_null(mask, False).to_numpy(zero_copy_only=False)
        failed = table.column("_hw_row").filter(pa.array(any_bad))
        valid = table.filter(pa.array(~any_bad)).num_rows
        took = (time.perf_counter() - wall, _cpu() - cpu)
        best = min(best, took, key=lambda t: t[1])
    return best[0], best[1], set(failed.to_pylist()), valid


def polars_checks(table, folder: Path, repeat: int) -> dict:
    """Polars in its own virtualenv (made here on first use), reading the same rows from Parquet."""
    import pyarrow.parquet as pq

    venv = folder / "polars-venv"
    python = venv / "bin" / "python"
    if not python.exists() or subprocess.run([python, "-c", "import polars"], capture_output=True).returncode:
        print(f"installing {POLARS} into {venv} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        uv = shutil.which("uv")
        cmd = [uv, "pip", "install", "--python", str(python), POLARS] if uv else [str(python), "-m", "pip", "install", "-q", POLARS]
        subprocess.run(cmd, check=True)
    path, out = folder / "mapped.parquet", folder / "polars-out.json"
    pq.write_table(table, path)
    subprocess.run(
        [python, "-c", POLARS_SCRIPT, str(path), str(out), str(repeat), EMAIL_RE, json.dumps(CURRENCIES)], check=True
    )
    result = json.loads(out.read_text())
    result["failed"] = set(result["failed"])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="repeats of the in-process comparisons (best CPU)")
    parser.add_argument("--gx", action="store_true", help="also run the pipeline with GX's engine for everything")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "hw-bench-validation")
    args = parser.parse_args()
    os.environ.setdefault("AIRFLOW_HOME", str(args.dir / "airflow"))
    data = generate(args.dir, args.rows)
    # Imports done inside tasks (GX alone 7-16 s here) are paid once per worker, not per run: before timing.
    import deltalake  # noqa: F401
    import great_expectations  # noqa: F401
    import pyarrow as pa

    ok = True
    runs = {}
    with tempfile.TemporaryDirectory(prefix="hw-bench-validation-") as tmp:
        for engine in ["auto", "gx"] if args.gx else ["auto"]:
            runs[engine] = pipeline(data, Path(tmp), engine)
    run = runs["auto"]
    print(f"\n{args.rows:,} rows, {run['outcome'].get('rows_loaded'):,} loaded, status {run['outcome'].get('status')}")
    print("| task | " + " | ".join(f"{e} wall s | {e} CPU s" for e in runs) + " |")
    print("| --- |" + " ---: | ---: |" * len(runs))
    for stage in STAGES:
        print(f"| {stage} | " + " | ".join(f"{r['timings'][stage][0]:.2f} | {r['timings'][stage][1]:.2f}" for r in runs.values()) + " |")
    shares = {}
    for engine, r in runs.items():
        total = sum(cpu for _, cpu in r["timings"].values())
        shares[engine] = r["timings"]["validate"][1] / total
        print(f"| whole run ({engine}) | {sum(w for w, _ in r['timings'].values()):.2f} | {total:.2f} | validate = {shares[engine]:.0%} of the run's CPU |")

    parts = run["mapped"]
    table = pa.concat_tables(parts)
    hw_wall, hw_cpu, hw_failed, hw_valid = headwater_checks(parts, args.repeat)
    pa_wall, pa_cpu, pa_failed, pa_valid = arrow_checks(table, args.repeat)
    pl = polars_checks(table, args.dir, args.repeat)
    stage_cpu = run["timings"]["validate"][1]
    print(f"\nsame {table.num_rows:,} mapped rows ({len(parts)} staged parts), CPU s (best of {args.repeat}):")
    print("| what | wall s | CPU s | vs Polars (CPU) | rows quarantined |\n| --- | ---: | ---: | ---: | ---: |")
    print(f"| Polars {pl['version']} (6 checks + valid rows) | {pl['wall']:.3f} | {pl['cpu']:.3f} | 1.00x | {len(pl['failed']):,} |")
    print(f"| pyarrow.compute (same) | {pa_wall:.3f} | {pa_cpu:.3f} | {pa_cpu / pl['cpu']:.2f}x | {len(pa_failed):,} |")
    print(f"| Headwater Validator + split_valid | {hw_wall:.3f} | {hw_cpu:.3f} | {hw_cpu / pl['cpu']:.2f}x | {len(hw_failed):,} |")
    print(f"| Headwater validate task (pipeline) | {run['timings']['validate'][0]:.3f} | {stage_cpu:.3f} | {stage_cpu / pl['cpu']:.2f}x | {len(run['quarantined']):,} |")
    if "gx" in runs:
        g = runs["gx"]["timings"]["validate"]
        print(f"| validate task, GX engine for all (before) | {g[0]:.3f} | {g[1]:.3f} | {g[1] / pl['cpu']:.2f}x | {len(runs['gx']['quarantined']):,} |")

    same = [("pipeline", run["quarantined"]), ("Validator", hw_failed), ("pyarrow", pa_failed)]
    same += [("pipeline (GX engine)", runs["gx"]["quarantined"])] if "gx" in runs else []
    for name, rows in same:
        if rows != pl["failed"]:
            print(f"DIFFERENT quarantined rows: {name} {len(rows):,} vs Polars {len(pl['failed']):,} "
                  f"(only {name}: {sorted(rows - pl['failed'])[:5]}, only Polars: {sorted(pl['failed'] - rows)[:5]})")
            ok = False
    if ok:
        print(f"identical quarantined rows everywhere: {len(pl['failed']):,}; Polars counts per check {pl['counts']}")
    if shares["auto"] > 0.25:
        print(f"MISSED: validate is {shares['auto']:.0%} of the run (target <= 25%)")
        ok = False
    if stage_cpu > 2 * pl["cpu"]:
        print(f"MISSED: the validate task takes {stage_cpu / pl['cpu']:.2f}x Polars' CPU time (target <= 2x)")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
