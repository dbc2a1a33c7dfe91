"""Lake writer settings: zstd compression, dictionaries off for mostly-distinct columns only, in the files written."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable

from headwater.lake.delta import write_table
from headwater.lake.write_options import mostly_distinct


def _events(n: int) -> pa.Table:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return pa.table(
        {
            "_hw_row": pa.array(range(n), pa.int64()),
            "event_id": [f"evt-{i}" for i in range(n)],
            "at": pa.array([start + dt.timedelta(seconds=i) for i in range(n)], pa.timestamp("us", tz="UTC")),
            "kind": [("purchase", "refund", "view")[i % 3] for i in range(n)],
            "country": pa.array([None if i % 2 else "FR" for i in range(n)]),
            "only_nulls": pa.nulls(n, pa.string()),
            "nested": pa.array([{"a": i} for i in range(n)]),
        }
    )


def test_mostly_distinct_finds_unique_columns_only():
    table = _events(1000)
    assert mostly_distinct(table) == ["_hw_row", "event_id", "at"]
    # decided on a sample: values repeating beyond the first rows do not count
    assert mostly_distinct(pa.table({"x": list(range(10)) * 100}), sample_rows=10) == ["x"]
    assert mostly_distinct(pa.table({"x": list(range(10)) * 100}), sample_rows=100) == []


def _columns(lake, name: str) -> list:
    """Column chunk metadata of every row group of every file of the table."""
    found = []
    for uri in DeltaTable(str(lake / name)).file_uris():
        meta = pq.ParquetFile(uri).metadata
        for group in range(meta.num_row_groups):
            found += [meta.row_group(group).column(i) for i in range(meta.num_columns)]
    return found


def _encodings(lake, name: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for column in _columns(lake, name):
        found.setdefault(column.path_in_schema, set()).update(column.encodings)
    return found


def test_lake_files_are_zstd_compressed_with_statistics(lake):
    # Setting any writer property makes delta-rs fall back to arrow-rs's default, no compression:
    # the codec must be set explicitly.
    write_table("events", [_events(3000)], source="app", run_id="r1")
    rows = _events(3000).drop_columns(["nested"])
    write_table("people", [rows], source="crm", run_id="r1", mode="merge", primary_key=["event_id"])
    write_table("people", [rows.slice(0, 10)], source="crm", run_id="r2", mode="merge", primary_key=["event_id"])
    for name in ("events", "people"):
        columns = _columns(lake, name)
        assert columns
        assert {c.compression for c in columns} == {"ZSTD"}
        ids = [c for c in columns if c.path_in_schema == "event_id"]
        assert ids and all(c.statistics is not None and c.statistics.has_min_max for c in ids)


def test_lake_files_use_dictionaries_only_where_values_repeat(lake):
    write_table("events", [_events(3000)], source="app", run_id="r1")
    encodings = _encodings(lake, "events")
    dictionary = {"PLAIN_DICTIONARY", "RLE_DICTIONARY"}
    assert not encodings["event_id"] & dictionary
    assert not encodings["at"] & dictionary
    assert encodings["kind"] & dictionary
    assert encodings["_hw_source"] & dictionary


def test_merge_tables_get_the_same_settings(lake):
    rows = _events(3000).drop_columns(["nested"])
    write_table("people", [rows], source="crm", run_id="r1", mode="merge", primary_key=["event_id"])
    write_table("people", [rows.slice(0, 10)], source="crm", run_id="r2", mode="merge", primary_key=["event_id"])
    encodings = _encodings(lake, "people")
    assert not encodings["event_id"] & {"PLAIN_DICTIONARY", "RLE_DICTIONARY"}
    assert encodings["kind"] & {"PLAIN_DICTIONARY", "RLE_DICTIONARY"}
