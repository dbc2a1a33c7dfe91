"""Merge with the key-range conjunct gives exactly the table a merge without it gives."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from headwater.errors import HeadwaterError
from headwater.lake.delta import merge_predicate, read_table, write_table

UTC = dt.UTC


def _run(name, loads, key, *, prune):
    for i, rows in enumerate(loads):
        write_table(name, rows, source="s", run_id=f"r{i}", mode="merge", primary_key=key, prune_merge=prune)
    table = read_table(name).drop_columns(["_hw_loaded_at"])
    return table.sort_by([(k, "ascending") for k in key]).to_pydict()


def _same_both_ways(loads, key):
    pruned = _run("pruned", loads, key, prune=True)
    plain = _run("plain", loads, key, prune=False)
    assert pruned == plain
    return pruned


def test_int_keys_updates_inserts_and_duplicates(lake):
    first = pa.table({"id": pa.array(range(0, 1000), pa.int64()), "v": [f"a{i}" for i in range(1000)]})
    # Parts of one load: 10..19 updated, 5000..5004 inserted, 12 twice (the later part wins).
    second = [
        pa.table({"id": pa.array([*range(10, 20), 5000, 5001], pa.int64()), "v": ["b"] * 12}),
        pa.table({"id": pa.array([12, 5002, 5003, 5004], pa.int64()), "v": ["c"] * 4}),
    ]
    got = _same_both_ways([[first], second], ["id"])
    assert len(got["id"]) == 1005
    assert got["v"][12] == "c" and got["v"][13] == "b" and got["v"][500] == "a500"
    assert got["_hw_run_id"][999:] == ["r0", "r1", "r1", "r1", "r1", "r1"]


def test_keys_below_and_above_the_table_range(lake):
    first = pa.table({"id": pa.array([10, 20, 30], pa.int32()), "v": [1, 2, 3]})
    second = pa.table({"id": pa.array([-5, 20, 99], pa.int32()), "v": [4, 5, 6]})
    got = _same_both_ways([[first], [second]], ["id"])
    assert got["id"] == [-5, 10, 20, 30, 99]
    assert got["v"] == [4, 1, 5, 3, 6]


def test_string_keys_with_quotes_and_non_ascii(lake):
    first = pa.table({"code": ["a", "b'q", "é", "z"], "v": [1, 2, 3, 4]})
    second = pa.table({"code": ["b'q", "ä", "é", "zz"], "v": [20, 50, 30, 60]})
    got = _same_both_ways([[first], [second]], ["code"])
    assert dict(zip(got["code"], got["v"], strict=True)) == {
        "a": 1,
        "b'q": 20,
        "z": 4,
        "ä": 50,
        "é": 30,
        "zz": 60,
    }


@pytest.mark.parametrize("tz", ["UTC", None])
def test_timestamp_keys(lake, tz):
    kind = pa.timestamp("us", tz=tz)
    base = dt.datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC if tz else None)
    first = pa.table({"at": pa.array([base + dt.timedelta(hours=h) for h in range(5)], kind), "v": range(5)})
    second = pa.table(
        {"at": pa.array([base + dt.timedelta(hours=h) for h in (1, 4, 7)], kind), "v": [10, 40, 70]}
    )
    got = _same_both_ways([[first], [second]], ["at"])
    assert got["v"] == [0, 10, 2, 3, 40, 70]
    assert "arrow_cast" in merge_predicate(second, ["at"])


def test_date_keys(lake):
    first = pa.table({"day": pa.array([dt.date(2026, 1, d) for d in (1, 2, 3)]), "v": [1, 2, 3]})
    second = pa.table({"day": pa.array([dt.date(2026, 1, d) for d in (3, 4)]), "v": [30, 40]})
    got = _same_both_ways([[first], [second]], ["day"])
    assert got["v"] == [1, 2, 30, 40]


def test_multi_column_and_float_keys_fall_back_to_equality(lake):
    rows = pa.table({"a": [1, 1, 2], "b": ["x", "y", "x"], "f": [0.5, 1.5, 2.5], "v": [1, 2, 3]})
    assert merge_predicate(rows, ["a", "b"]) == 't."a" = s."a" AND t."b" = s."b"'
    assert merge_predicate(rows, ["f"]) == 't."f" = s."f"'
    assert merge_predicate(rows, ["a"]) == 't."a" = s."a" AND t."a" >= 1 AND t."a" <= 2'
    more = pa.table({"a": [1, 3], "b": ["y", "x"], "f": [9.0, 9.0], "v": [20, 30]})
    got = _same_both_ways([[rows], [more]], ["a", "b"])
    assert got["v"] == [1, 20, 3, 30]


def test_null_keys_refused_as_before(lake):
    write_table(
        "t", [pa.table({"id": [1, 2], "v": [1, 2]})], source="s", run_id="r", mode="merge", primary_key=["id"]
    )
    with pytest.raises(HeadwaterError, match=r"1 row\(s\) have a null primary key 'id'"):
        write_table(
            "t",
            [pa.table({"id": [3, None], "v": [1, 2]})],
            source="s",
            run_id="r2",
            mode="merge",
            primary_key=["id"],
        )


def test_first_load_is_deduplicated_and_written_in_key_order(lake):
    parts = [pa.table({"id": [5, 3, 9], "v": [1, 2, 3]}), pa.table({"id": [3, 1], "v": [4, 5]})]
    write_table("t", parts, source="s", run_id="r", mode="merge", primary_key=["id"])
    table = read_table("t")
    assert table.column("id").to_pylist() == [1, 3, 5, 9]  # one file, in key order
    assert table.column("v").to_pylist() == [5, 4, 1, 3]


def _three_files(lake):
    for i, lo in enumerate((0, 100, 200)):
        rows = pa.table({"id": list(range(lo, lo + 100)), "v": [0] * 100})
        write_table("t", [rows], source="s", run_id=f"r{i}", mode="merge", primary_key=["id"])
    return str(lake / "t")


@pytest.mark.parametrize("prune", [True, False])
def test_pruned_merge_scans_only_files_in_the_key_range(lake, prune):
    # Three files with disjoint key ranges; a merge into the middle range. deltalake's own metrics
    # say how many target files it scanned: one with the conjunct, all three without it.
    from deltalake import DeltaTable

    uri = _three_files(lake)
    table = DeltaTable(uri)
    assert len(table.file_uris()) == 3
    source = pa.table({"id": pa.array([150, 160], pa.int64()), "v": pa.array([1, 1], pa.int64())})
    metrics = (
        table.merge(
            source, predicate=merge_predicate(source, ["id"], prune=prune), source_alias="s", target_alias="t"
        )
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .execute()
    )
    assert metrics["num_target_rows_updated"] == 2
    assert metrics["num_target_files_scanned"] == (1 if prune else 3)


def test_first_load_without_duplicates_out_of_order_and_multi_column_duplicates(lake):
    write_table(
        "a",
        [pa.table({"id": [3, 1, 2], "v": [1, 2, 3]})],
        source="s",
        run_id="r",
        mode="merge",
        primary_key=["id"],
    )
    assert read_table("a").select(["id", "v"]).to_pydict() == {"id": [1, 2, 3], "v": [2, 3, 1]}
    parts = [
        pa.table({"a": [1, 1, 2], "b": ["x", "y", "x"], "v": [1, 2, 3]}),
        pa.table({"a": [1], "b": ["x"], "v": [9]}),
    ]
    write_table("m", parts, source="s", run_id="r", mode="merge", primary_key=["a", "b"])
    assert read_table("m").select(["a", "b", "v"]).to_pydict() == {
        "a": [1, 1, 2],
        "b": ["x", "y", "x"],
        "v": [9, 2, 3],
    }
