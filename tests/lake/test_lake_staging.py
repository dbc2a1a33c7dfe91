"""Staging parts: layout, numbering, bounded reads, retry reset and cleanup."""

from __future__ import annotations

from pathlib import Path

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
    assert uris == [str(run_dir / "part-00000.arrow"), str(run_dir / "part-00001.arrow")]
    assert staging.parts("select") == uris
    tables = list(staging.read(uris))
    assert [t.num_rows for t in tables] == [3, 2]
    assert tables[1].column("_hw_row").to_pylist() == [3, 4]


def test_read_is_lazy(lake):
    staging = Staging("d", "r")
    uris = [staging.write("map", _table(0, 1)), str(lake / "missing.arrow")]
    reader = staging.read(uris)
    assert next(reader).num_rows == 1  # the missing second part is not touched yet
    with pytest.raises(FileNotFoundError):
        next(reader)


def test_numbering_continues_across_instances_and_reset_restarts(lake):
    Staging("d", "r").write("map", _table(0, 1))
    again = Staging("d", "r")
    assert again.write("map", _table(1, 1)).endswith("part-00001.arrow")

    again.reset("map")  # a retried task starts over
    assert again.parts("map") == []
    assert again.write("map", _table(0, 1)).endswith("part-00000.arrow")
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
    assert uri == f"{tmp_path}/elsewhere/_staging/d/r/select/part-00000.arrow"


def test_safe_name_keeps_distinct_ids_apart():
    assert safe_name("scheduled__2026") == "scheduled__2026"
    a, b = safe_name("manual__2026-11-01T06:00:00+00:00"), safe_name("manual__2026-11-01T06_00_00_00_00")
    assert a != b and "/" not in a and ":" not in a and "+" not in a


def test_bad_stage_name(lake):
    with pytest.raises(ValueError, match="stage name '../x'"):
        Staging("d", "r").write("../x", _table(0, 1))


def _typed(n: int) -> pa.Table:
    """Two chunks per column, a zoned timestamp, nulls: what map hands to validate and load."""
    half = pa.table(
        {
            "_hw_row": pa.array(range(n), pa.int64()),
            "email": pa.array([None if i % 3 == 0 else f"p{i}@example.com" for i in range(n)]),
            "at": pa.array([i * 1_000_000 for i in range(n)], pa.timestamp("us", tz="UTC")),
            "amount": pa.array([i / 4 for i in range(n)], pa.float64()),
        }
    )
    return pa.concat_tables([half, half])


def test_parts_are_arrow_ipc_and_round_trip_types_nulls_and_chunks(lake):
    import pyarrow.ipc as ipc

    table = _typed(50)
    uri = Staging("d", "r").write("map", table)
    back = next(Staging("d", "r").read([uri]))
    assert back.equals(table)
    assert back.schema == table.schema
    assert back.column("email").null_count == table.column("email").null_count
    with pa.OSFile(uri) as f:  # a plain Arrow IPC file any Arrow reader can open
        assert ipc.open_file(f).num_record_batches == table.column("email").num_chunks


def test_retry_rewrites_parts_without_disturbing_tables_already_read(lake):
    staging = Staging("d", "r")
    first = staging.write("map", _table(0, 3))
    held = next(staging.read([first]))  # memory-mapped by an earlier attempt

    staging.reset("map")
    again = staging.write("map", _table(100, 2))

    assert again == first  # same part name, new content
    assert next(staging.read(staging.parts("map"))).column("_hw_row").to_pylist() == [100, 101]
    assert held.column("_hw_row").to_pylist() == [0, 1, 2]  # old mapping intact
    leftovers = [p.name for p in (lake / "_staging" / "d" / "r" / "map").iterdir()]
    assert leftovers == ["part-00000.arrow"]  # no temporary file left behind


def test_remote_parts_are_compressed(tmp_path, monkeypatch):
    import pyarrow.fs as pafs

    from headwater.lake import storage

    table = pa.table({"x": ["the same text in every row"] * 5000})
    local = Staging("d", "r", root=str(tmp_path / "local")).write("select", table)
    # An "s3://" lake backed by a local folder: exercises the remote branch without a server.
    monkeypatch.setattr(storage, "is_remote", lambda uri: uri.startswith("s3://"))
    def inside(uri: str) -> str:
        return f"{tmp_path}/{uri.split('://', 1)[1]}" if uri.startswith("s3://") else uri

    monkeypatch.setattr(storage, "fs_path", inside)
    monkeypatch.setattr(storage, "filesystem", lambda uri: (pafs.LocalFileSystem(), inside(uri)))
    remote = Staging("d", "r", root="s3://bucket/lake")
    uri = remote.write("select", table)

    assert uri == "s3://bucket/lake/_staging/d/r/select/part-00000.arrow" and remote.parts("select") == [uri]
    assert next(remote.read([uri])).equals(table)
    remote_size = Path(inside(uri)).stat().st_size
    assert remote_size * 5 < Path(local).stat().st_size
