"""A small run of bench/validation_speed.py's code (not its timings): the data, the real pipeline
and the in-process comparisons must still work and agree. Polars is left out: the benchmark installs
it into a virtualenv of its own, which a test run should not do."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location("validation_speed", ROOT / "bench" / "validation_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_validation_bench_smoke(tmp_path, monkeypatch):
    bench = _bench()
    # the pipeline sets these for its workspace; monkeypatch puts them back afterwards
    for name in ("HEADWATER_INCLUDE_DIR", "HEADWATER_SOURCES_DIR", "HEADWATER_HOME", "HEADWATER_VALIDATE_ENGINE"):
        monkeypatch.setenv(name, "unset-by-test")
    for name in ("HEADWATER_LAKE_URI", "HEADWATER_STORE_URL", "HEADWATER_STORE_CONN_ID"):
        monkeypatch.delenv(name, raising=False)

    data = bench.generate(tmp_path / "data", 5_000)
    run = bench.pipeline(data, tmp_path / "work", "auto")
    assert run["outcome"]["status"] == "success"
    assert set(run["timings"]) == set(bench.STAGES)

    table = pa.concat_tables(run["mapped"])
    assert table.num_rows == 5_000
    _, _, hw_failed, hw_valid = bench.headwater_checks(run["mapped"], 1)
    _, _, pa_failed, pa_valid = bench.arrow_checks(table, 1)
    # every 997th email missing, 1009th malformed, a duplicate id after every 4001st, …
    assert 20 <= len(hw_failed) <= 40
    assert hw_failed == pa_failed == run["quarantined"]
    assert hw_valid == pa_valid == 5_000 - len(hw_failed) == run["outcome"]["rows_loaded"]
