"""Staging parts: layout, numbering, bounded reads, retry reset and cleanup."""

from __future__ import annotations

import pyarrow as pa
import pytest

from headwater.lake.staging import Staging, safe_name

RUN = "manual__2026-11-01T06:00:00+00:00"


def _table(start: int, n: int) -> pa.Table:
    return pa.table(
        {"_hw_row": pa.array(range(start, start + n), pa.int64()), "x": [str(i) for i in range(n)]}
    )


def test_write_layout_and_read_back(lake):
    staging = Staging("demo_crm", RUN)
    uris = [staging.write("select", _table(0, 3)), staging.write("select", _table(3, 2))]

    run_dir = lake / "_staging" / "demo_crm" / safe_name(RUN) / "select"
    assert uris == [str(run_dir / "part-00000.parquet"), str(run_dir / "part-00001.parquet")]
    assert staging.parts("select") == uris
    tables = list(staging.read(uris))
    assert [t.num_rows for t in tables] == [3, 2]
    assert tables[1].column("_hw_row").to_pylist() == [3, 4]


def test_read_is_lazy(lake):
    staging = Staging("d", "r")
    uris = [staging.write("map", _table(0, 1)), str(lake / "missing.parquet")]
    reader = staging.read(uris)
    assert next(reader).num_rows == 1  # the missing second part is not touched yet
    with pytest.raises(FileNotFoundError):
        next(reader)


def test_numbering_continues_across_instances_and_reset_restarts(lake):
    Staging("d", "r").write("map", _table(0, 1))
    again = Staging("d", "r")
    assert again.write("map", _table(1, 1)).endswith("part-00001.parquet")

    again.reset("map")  # a retried task starts over
    assert again.parts("map") == []
    assert again.write("map", _table(0, 1)).endswith("part-00000.parquet")
    assert len(again.parts("map")) == 1


def test_cleanup_removes_only_this_run(lake):
    mine, other = Staging("d", "run1"), Staging("d", "run2")
    mine.write("select", _table(0, 1))
    other.write("select", _table(0, 1))
    mine.cleanup()
    assert mine.parts("select") == []
    assert len(other.parts("select")) == 1
    mine.cleanup()  # nothing left: still fine


def test_explicit_root_and_file_uri(tmp_path):
    staging = Staging("d", "r", root=f"file://{tmp_path}/elsewhere/")
    uri = staging.write("select", _table(0, 1))
    assert uri == f"{tmp_path}/elsewhere/_staging/d/r/select/part-00000.parquet"


def test_safe_name_keeps_distinct_ids_apart():
    assert safe_name("scheduled__2026") == "scheduled__2026"
    a, b = safe_name("manual__2026-11-01T06:00:00+00:00"), safe_name("manual__2026-11-01T06_00_00_00_00")
    assert a != b and "/" not in a and ":" not in a and "+" not in a


def test_bad_stage_name(lake):
    with pytest.raises(ValueError, match="stage name '../x'"):
        Staging("d", "r").write("../x", _table(0, 1))
