"""The location index select stages: written in parts, read back by another task, looked up by `_hw_row`."""

from __future__ import annotations

import pyarrow as pa

from headwater.connectors.positions import KEY, LINE, ROW, Run
from headwater.lake import locations
from headwater.lake.locations import INDEX_STAGE, IndexWriter, LocationIndex
from headwater.lake.staging import Staging
from headwater.records import ROW_ID, RowError


def test_index_parts_are_read_back_by_another_task_and_rows_located(lake, monkeypatch):
    monkeypatch.setattr(locations, "FLUSH_SEGMENTS", 2)  # several index parts
    select = Staging("dag", "run")
    writer = IndexWriter(select)
    # chunk 1: lines 2-4 and 6 of a.csv (line 5 was skipped); chunk 2: rows 1-3 of b.parquet
    assert writer.add(0, 4, [Run(3, "a.csv", LINE, 2, 1), Run(1, "a.csv", LINE, 6, 5)], "p0")
    assert writer.add(4, 3, [Run(3, "b.parquet", ROW, None, 1)], "p1")
    assert not writer.add(7, 5, [Run(4, "c.csv", LINE, 2, 1)], "p2")  # runs that do not cover the rows: left out
    writer.flush()
    assert len(writer.parts) == 2 and select.parts(INDEX_STAGE) == writer.parts

    index = LocationIndex.load(Staging("dag", "run"), writer.parts)  # a new Staging: another worker
    assert index.locate([0, 2, 3, 6, 8, 99]) == {
        0: "a.csv:line 2",
        2: "a.csv:line 4",
        3: "a.csv:line 6",
        6: "b.parquet:row 3",
    }
    errors = [
        RowError(3, "map", "CAST_FAILED", "ts", "x", "m"),
        RowError(8, "map", "CAST_FAILED", "ts", "x", "m"),  # not indexed: stays empty
        RowError(4, "validate", "expect", "c", "x", "m", location="given"),  # kept as given
        RowError(None, "validate", "expect", None, None, "table-level"),
    ]
    assert [e.location for e in index.fill(errors)] == ["a.csv:line 6", None, "given", None]


def test_key_rows_are_located_by_their_values_in_the_staged_part(lake):
    staging = Staging("dag", "run")
    part = staging.write("select", pa.table({"id": [41, 42, None], "v": ["a", "b", "c"], ROW_ID: [10, 11, 12]}))
    writer = IndexWriter(staging)
    writer.add(10, 3, [Run(3, "table 'contacts'", KEY, keys=("id",))], part)
    writer.flush()
    index = LocationIndex.load(staging, writer.parts)
    assert index.locate([11, 12]) == {11: "table 'contacts', id=42", 12: "table 'contacts', id=NULL"}


def test_no_index_locates_nothing(lake):
    index = LocationIndex.load(Staging("dag", "run"), [])
    error = RowError(1, "map", "CAST_FAILED", "ts", "x", "m")
    assert index.fill([error]) == [error]
