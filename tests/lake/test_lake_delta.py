"""Delta tables: retry-safe append, schema evolution, merge upsert/dedupe, guard rails."""

from __future__ import annotations

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from headwater.errors import HeadwaterError
from headwater.lake.delta import dedupe_last, read_table, write_table


def _rows(ids, names=None, **extra) -> pa.Table:
    data = {
        "_hw_row": pa.array(range(len(ids)), pa.int64()),
        "id": pa.array(ids, pa.int64()),
        "name": names or [f"n{i}" for i in ids],
    }
    data.update(extra)
    return pa.table(data)


def _sorted(name: str) -> dict:
    return read_table(name).sort_by([("_hw_source", "ascending"), ("id", "ascending")]).to_pydict()


def test_append_adds_meta_and_drops_row_id(lake):
    result = write_table("contacts", [_rows([1, 2]), _rows([3])], source="crm", run_id="r1")
    assert result == {"version": 0, "rows": 3, "uri": str(lake / "contacts")}
    table = read_table("contacts")
    assert "_hw_row" not in table.column_names
    assert table.schema.field("_hw_loaded_at").type == pa.timestamp("us", tz="UTC")
    assert set(table.column("_hw_source").to_pylist()) == {"crm"}
    assert set(table.column("_hw_run_id").to_pylist()) == {"r1"}


def test_append_same_run_twice_replaces_and_other_runs_accumulate(lake):
    run = "manual__2026-11-01T06:00:00+00:00 it's"  # quote in the run id must not break the predicate
    write_table("t", [_rows([1, 2])], source="crm", run_id=run)
    second = write_table("t", [_rows([1, 2])], source="crm", run_id=run)  # a retried load
    assert second["version"] == 1
    assert sorted(read_table("t").column("id").to_pylist()) == [1, 2]

    write_table("t", [_rows([3])], source="crm", run_id="r2")
    assert sorted(read_table("t").column("id").to_pylist()) == [1, 2, 3]


def test_same_run_id_of_another_source_is_left_alone(lake):
    # Scheduled run ids are the same in every DAG: the predicate must include the source.
    write_table("t", [_rows([1])], source="crm", run_id="scheduled__2026-11-01")
    write_table("t", [_rows([2])], source="shop", run_id="scheduled__2026-11-01")
    write_table("t", [_rows([3])], source="crm", run_id="scheduled__2026-11-01")
    assert _sorted("t")["id"] == [3, 2]


def test_append_streams_record_batch_reader(lake):
    table = _rows([1, 2, 3])
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=1))
    assert write_table("t", reader, source="s", run_id="r")["rows"] == 3


def test_empty_input_commits_nothing(lake):
    assert write_table("t", [], source="s", run_id="r") == {"version": -1, "rows": 0, "uri": str(lake / "t")}
    write_table("t", [_rows([1])], source="s", run_id="r")
    assert write_table("t", [_rows([]).slice(0, 0)], source="s", run_id="r2")["version"] == 0
    assert write_table("t", [], source="s", run_id="r", mode="merge", primary_key=["id"])["version"] == 0


def test_new_nullable_column_is_added(lake):
    write_table("t", [_rows([1])], source="s", run_id="r1")
    write_table("t", [_rows([2], city=["Paris"])], source="s", run_id="r2")
    write_table("t", [_rows([3])], source="s", run_id="r3")  # and may be missing again later
    assert _sorted("t")["city"] == [None, "Paris", None]


def test_lossy_cast_to_table_type_fails_instead_of_truncating(lake):
    write_table("t", [_rows([1])], source="s", run_id="r1")
    bad = pa.table({"id": pa.array([1.5]), "name": ["x"]})
    with pytest.raises(HeadwaterError, match="column 'id': double values cannot be stored as int64"):
        write_table("t", [bad], source="s", run_id="r2")
    ok = pa.table({"id": pa.array([2], pa.int32()), "name": ["x"]})  # widening is fine
    write_table("t", [ok], source="s", run_id="r3")
    assert read_table("t").schema.field("id").type == pa.int64()


def test_partitioned_append_and_partition_mismatch(lake):
    rows = _rows([1, 2], country=["FR", "DE"])
    write_table("t", [rows], source="s", run_id="r", partition_by=["country"])
    write_table("t", [rows], source="s", run_id="r", partition_by=["country"])
    assert DeltaTable(str(lake / "t")).metadata().partition_columns == ["country"]
    assert read_table("t").num_rows == 2
    with pytest.raises(HeadwaterError, match=r"partitioned by \['country'\], the source asks for \['id'\]"):
        write_table("t", [rows], source="s", run_id="r", partition_by=["id"])


def test_merge_upserts_and_dedupes_keeping_last(lake):
    first = write_table(
        "p", [_rows([1, 2], ["a", "b"])], source="s", run_id="r1", mode="merge", primary_key=["id"]
    )
    assert first["version"] == 0
    # id 2 twice across two parts: the later one wins; id 3 is new.
    parts = [_rows([2, 3], ["b-old", "c"]), _rows([2], ["b-new"])]
    second = write_table("p", parts, source="s", run_id="r2", mode="merge", primary_key=["id"])
    assert second == {"version": 1, "rows": 2, "uri": str(lake / "p")}
    got = _sorted("p")
    assert got["id"] == [1, 2, 3]
    assert got["name"] == ["a", "b-new", "c"]
    assert got["_hw_run_id"] == ["r1", "r2", "r2"]

    # A retried merge changes nothing but the load time.
    write_table("p", parts, source="s", run_id="r2", mode="merge", primary_key=["id"])
    assert _sorted("p")["name"] == ["a", "b-new", "c"]


def test_merge_with_mixed_case_key_and_new_column(lake):
    rows = pa.table({"CrmId": ["A", "B"], "v": [1, 2]})
    write_table("p", [rows], source="s", run_id="r1", mode="merge", primary_key=["CrmId"])
    more = pa.table({"CrmId": ["B", "C"], "v": [20, 30], "tier": ["gold", None]})
    write_table("p", [more], source="s", run_id="r2", mode="merge", primary_key=["CrmId"])
    got = read_table("p").sort_by("CrmId").to_pydict()
    assert got["v"] == [1, 20, 30]
    assert got["tier"] == [None, "gold", None]


def test_merge_guards(lake):
    with pytest.raises(HeadwaterError, match="needs a primary key"):
        write_table("p", [_rows([1])], source="s", run_id="r", mode="merge")
    with pytest.raises(HeadwaterError, match=r"1 row\(s\) have a null primary key 'id'"):
        write_table("p", [_rows([1, None])], source="s", run_id="r", mode="merge", primary_key=["id"])
    with pytest.raises(HeadwaterError, match=r"primary key column\(s\) \['nope'\]"):
        write_table("p", [_rows([1])], source="s", run_id="r", mode="merge", primary_key=["nope"])


def test_dedupe_last_keeps_input_order():
    table = pa.table({"k": [1, 2, 1, 3, 2], "v": ["a", "b", "c", "d", "e"]})
    assert dedupe_last(table, ["k"]).to_pydict() == {"k": [1, 3, 2], "v": ["c", "d", "e"]}


def test_bad_table_name(lake):
    with pytest.raises(ValueError, match="lake table name '../x'"):
        write_table("../x", [_rows([1])], source="s", run_id="r")


def test_bad_later_part_aborts_the_whole_commit(lake):
    write_table("t", [_rows([1])], source="s", run_id="r1")
    bad = pa.table({"_hw_row": pa.array([5], pa.int64()), "id": pa.array([2.5]), "name": ["x"]})
    with pytest.raises(HeadwaterError, match="column 'id'"):
        write_table("t", [_rows([7]), bad], source="s", run_id="r2")
    assert DeltaTable(str(lake / "t")).version() == 0
    assert read_table("t").column("id").to_pylist() == [1]


def test_append_replaces_the_rows_of_the_same_batch_whatever_run_wrote_them(lake):
    # r2 was killed after its lake commit, before its state commit; r3 starts from the same state
    # (same batch) and reads the same rows: they replace r2's instead of adding to them.
    write_table("t", [_rows([1, 2])], source="crm", run_id="r1", batch="e1")
    write_table("t", [_rows([3, 4])], source="crm", run_id="r2", batch="e2")
    write_table("t", [_rows([3, 4, 5])], source="crm", run_id="r3", batch="e2")
    write_table("t", [_rows([3])], source="shop", run_id="r3", batch="e2")  # another source's batch
    got = _sorted("t")
    assert list(zip(got["_hw_source"], got["id"], got["_hw_run_id"], strict=True)) == [
        ("crm", 1, "r1"), ("crm", 2, "r1"), ("crm", 3, "r3"), ("crm", 4, "r3"), ("crm", 5, "r3"), ("shop", 3, "r3"),
    ]
    assert set(got["_hw_batch"]) == {"e1", "e2"}


def test_a_table_from_before_batches_gets_the_column(lake):
    write_table("t", [_rows([1])], source="crm", run_id="r1")  # no batch: keyed by run, as before
    write_table("t", [_rows([2])], source="crm", run_id="r2", batch="e1")
    write_table("t", [_rows([2])], source="crm", run_id="r2", batch="e1")  # retried
    got = _sorted("t")
    assert got["id"] == [1, 2] and got["_hw_batch"] == [None, "e1"]
