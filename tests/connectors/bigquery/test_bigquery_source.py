"""The BigQuery source against bqemulator: both read paths, exact types, incremental watermarks."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest

from headwater.connectors.models import BigQueryConnector
from headwater.connectors.registry import make_hook
from headwater.errors import ConnectionCheckError, SelectionError

pytestmark = pytest.mark.integration

UTC = dt.UTC


def connector(conn_id: str, **fields) -> BigQueryConnector:
    return BigQueryConnector(type="bigquery", conn_id=conn_id, **fields)


@pytest.fixture
def conn_id(bq_emulator, monkeypatch) -> str:
    monkeypatch.setenv("AIRFLOW_CONN_HW_BQ", bq_emulator.connection())
    return "hw_bq"


def read_all(hook, state=None) -> tuple[pa.Table, list]:
    chunks = list(hook.read(state))
    tables = [c.table for c in chunks if c.table.num_rows] or [chunks[0].table] if chunks else []
    return (pa.concat_tables(tables) if tables else None), chunks


def _typed_table(client, dataset: str, retry) -> str:
    from google.cloud import bigquery as bq

    schema = [
        bq.SchemaField("id", "INT64", mode="REQUIRED"),
        # bqemulator drops a NUMERIC's declared precision and scale (kept: test_bigquery_types.py)
        bq.SchemaField("amount", "NUMERIC"),
        bq.SchemaField("plain", "NUMERIC"),
        bq.SchemaField("ts", "TIMESTAMP"),
        bq.SchemaField("local", "DATETIME"),
        bq.SchemaField("day", "DATE"),
        bq.SchemaField("ok", "BOOL"),
        bq.SchemaField("raw", "BYTES"),
        bq.SchemaField("doc", "JSON"),
        bq.SchemaField("tags", "STRING", mode="REPEATED"),
        bq.SchemaField("addr", "RECORD", fields=[bq.SchemaField("city", "STRING"), bq.SchemaField("zip", "INT64")]),
        bq.SchemaField("ratio", "FLOAT64"),
    ]
    table = client.create_table(bq.Table(f"{client.project}.{dataset}.typed", schema=schema))
    errors = client.insert_rows_json(
        table,
        retry=retry,
        json_rows=[
            {
                "id": 1, "amount": "12.34", "plain": "0.000000001", "ts": "2026-01-01T10:00:00.123456Z",
                "local": "2026-01-01T10:00:00", "day": "2026-01-01", "ok": True, "raw": "AAH/",
                "doc": '{"a": [1, 2]}', "tags": ["x", "y"], "addr": {"city": "Oslo", "zip": 150}, "ratio": 0.5,
            },
            {"id": 2, "amount": "-99999999.99", "ts": "2026-01-02T00:00:00Z", "tags": []},
        ],
    )
    assert errors == []
    return "typed"


EXPECTED_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("amount", pa.decimal128(38, 9)),
        ("plain", pa.decimal128(38, 9)),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("local", pa.timestamp("us")),
        ("day", pa.date32()),
        ("ok", pa.bool_()),
        ("raw", pa.binary()),
        ("doc", pa.string()),
        ("tags", pa.list_(pa.string())),
        ("addr", pa.struct([("city", pa.string()), ("zip", pa.int64())])),
        ("ratio", pa.float64()),
    ]
)


@pytest.mark.parametrize("read_api", ["storage", "rest"])
def test_table_types_are_exact_on_both_read_paths(bq_emulator, bq_dataset, conn_id, read_api) -> None:
    table = _typed_table(bq_emulator.client(), bq_dataset, bq_emulator.retry)
    hook = make_hook(connector(conn_id, table=f"{bq_dataset}.{table}", read_api=read_api, chunk_size=1))
    assert "2 rows" not in hook.check() and f"table 'hw-test.{bq_dataset}.typed'" in hook.check()
    result, chunks = read_all(hook)
    assert hook.read_path == read_api
    assert hook.job_facts is None  # a whole table is read without a query job
    assert [c.table.num_rows for c in chunks] == [1, 1]  # chunk_size bounds every chunk
    assert result.schema.remove_metadata() == EXPECTED_SCHEMA, str(result.schema)
    rows = sorted(result.to_pylist(), key=lambda r: r["id"])
    assert rows[0] == {
        "id": 1, "amount": Decimal("12.34"), "plain": Decimal("0.000000001"),
        "ts": dt.datetime(2026, 1, 1, 10, 0, 0, 123456, tzinfo=UTC), "local": dt.datetime(2026, 1, 1, 10, 0),
        "day": dt.date(2026, 1, 1), "ok": True, "raw": b"\x00\x01\xff", "doc": rows[0]["doc"],
        "tags": ["x", "y"], "addr": {"city": "Oslo", "zip": 150}, "ratio": 0.5,
    }
    import json

    assert json.loads(rows[0]["doc"]) == {"a": [1, 2]}  # JSON as its text
    assert rows[1]["amount"] == Decimal("-99999999.99") and rows[1]["tags"] == [] and rows[1]["addr"] is None


def test_columns_are_selected_in_the_order_given(bq_emulator, bq_dataset, conn_id) -> None:
    table = _typed_table(bq_emulator.client(), bq_dataset, bq_emulator.retry)
    hook = make_hook(connector(conn_id, table=table, dataset=bq_dataset, columns=["ts", "id"]))
    result, _ = read_all(hook)
    assert result.column_names == ["ts", "id"]


def _events(client, dataset: str, rows: list[tuple[int, str]]) -> None:
    from google.cloud import bigquery as bq
    from google.cloud.bigquery import DEFAULT_RETRY

    ref = f"{client.project}.{dataset}.events"
    try:
        client.get_table(ref)
    except Exception:
        client.create_table(
            bq.Table(ref, schema=[bq.SchemaField("id", "INT64"), bq.SchemaField("updated_at", "TIMESTAMP"),
                                  bq.SchemaField("note", "STRING")])
        )
    rows_json = [{"id": i, "updated_at": ts, "note": f"n{i}"} for i, ts in rows]
    assert client.insert_rows_json(ref, rows_json, retry=DEFAULT_RETRY.with_deadline(10)) == []


# Query results are read page by page here: bqemulator's Storage Read API cannot open a query job's
# anonymous destination table (NOT_FOUND), so reading a job's result through it is NOT tested.
@pytest.mark.parametrize("read_api", ["rest"])
def test_incremental_timestamp_cursor_keeps_the_watermark_rules(bq_emulator, bq_dataset, conn_id, read_api) -> None:
    client = bq_emulator.client()
    _events(client, bq_dataset, [(i, f"2026-01-01T00:00:0{i % 5}Z") for i in range(1, 11)])
    cfg = connector(
        conn_id, table=f"{bq_dataset}.events", primary_key="id", cursor={"column": "updated_at"},
        read_api=read_api, chunk_size=3,
    )
    hook = make_hook(cfg)
    first, chunks = read_all(hook)
    assert first.num_rows == 10 and max(c.table.num_rows for c in chunks) <= 3
    assert hook.read_path == read_api
    state = hook.next_state()
    assert state["cursor"]["value"] == "2026-01-01T00:00:04+00:00"
    assert sorted(k[0] for k in state["keys_at_cursor"]) == [4, 9]
    assert any("processed" in n and "billed" in n for n in hook.notes)  # bytes go into the run record
    assert hook.job_facts["job_id"]

    # Nothing new: the rows at the watermark are read again by the query and dropped by key.
    again = make_hook(cfg)
    table, _ = read_all(again, state)
    assert (table.num_rows if table is not None else 0) == 0
    assert again.next_state() == state

    # A row at exactly the watermark and one after it: both read, none of the old ones.
    _events(client, bq_dataset, [(11, "2026-01-01T00:00:04Z"), (12, "2026-01-01T00:00:07Z")])
    later = make_hook(cfg)
    table, _ = read_all(later, state)
    assert sorted(table.column("id").to_pylist()) == [11, 12]
    assert later.next_state()["cursor"]["value"] == "2026-01-01T00:00:07+00:00"
    assert later.watermark_description() == "updated_at = 2026-01-01T00:00:07+00:00 (1 row at that value)"


def test_query_with_integer_cursor_where_and_initial_value(bq_emulator, bq_dataset, conn_id) -> None:
    client = bq_emulator.client()
    _events(client, bq_dataset, [(i, "2026-01-01T00:00:00Z") for i in range(1, 21)])
    cfg = connector(
        conn_id,
        query=f"SELECT id, note FROM `{bq_dataset}.events` -- a comment at the end",
        cursor={"column": "id", "initial_value": 5},
        where="MOD(id, 2) = 0",
        primary_key=["id"],
        read_api="rest",
    )
    hook = make_hook(cfg)
    assert "incremental on id" in hook.check()
    table, _ = read_all(hook)
    assert table.column("id").to_pylist() == [6, 8, 10, 12, 14, 16, 18, 20]  # ordered by the cursor
    assert hook.next_state()["cursor"] == {"column": "id", "type": "int", "value": 20}


def test_datetime_and_date_cursors_bind_their_own_types(bq_emulator, bq_dataset, conn_id) -> None:
    from google.cloud import bigquery as bq

    ref = f"{bq_emulator.client().project}.{bq_dataset}.days"
    client = bq_emulator.client()
    client.create_table(bq.Table(ref, schema=[bq.SchemaField("day", "DATE"), bq.SchemaField("local", "DATETIME")]))
    bq_emulator.insert(ref, [{"day": f"2026-02-0{i}", "local": f"2026-02-0{i}T12:00:00"} for i in range(1, 6)])
    by_day = make_hook(connector(conn_id, table=f"{bq_dataset}.days", cursor={"column": "day", "initial_value": "2026-02-03"}, read_api="rest"))
    table, _ = read_all(by_day)
    assert table.column("day").to_pylist() == [dt.date(2026, 2, i) for i in (3, 4, 5)]
    assert by_day.next_state()["cursor"] == {"column": "day", "type": "date", "value": "2026-02-05"}
    by_local = make_hook(connector(conn_id, table=f"{bq_dataset}.days", cursor={"column": "local"}, read_api="rest"))
    table, _ = read_all(by_local, {"cursor": {"column": "local", "type": "timestamp", "value": "2026-02-04T12:00:00"}, "keys_at_cursor": []})
    assert table.column("local").to_pylist() == [dt.datetime(2026, 2, 4, 12), dt.datetime(2026, 2, 5, 12)]


def test_check_names_the_closest_dataset_table_and_column(bq_emulator, bq_dataset, conn_id) -> None:
    _events(bq_emulator.client(), bq_dataset, [(1, "2026-01-01T00:00:00Z")])
    with pytest.raises(ConnectionCheckError, match=rf"table 'event' not found in dataset 'hw-test.{bq_dataset}'.*similar name: events"):
        make_hook(connector(conn_id, table=f"{bq_dataset}.event")).check()
    with pytest.raises(ConnectionCheckError, match=rf"dataset '{bq_dataset}x' not found in project 'hw-test'.*{bq_dataset}"):
        make_hook(connector(conn_id, table=f"{bq_dataset}x.events")).check()
    with pytest.raises(SelectionError, match="column 'updated' not found.*did you mean updated_at"):
        make_hook(connector(conn_id, table=f"{bq_dataset}.events", cursor={"column": "updated"})).check()
    with pytest.raises(SelectionError, match="cursor column 'note' is NULLABLE STRING; .*TIMESTAMP, DATETIME, DATE or INT64"):
        make_hook(connector(conn_id, table=f"{bq_dataset}.events", cursor={"column": "note"})).check()
    with pytest.raises(ConnectionCheckError, match="names no dataset"):
        make_hook(connector(conn_id, table="events")).check()


def test_unreachable_endpoint_says_network(monkeypatch) -> None:
    from tests.services import free_port

    port = free_port()
    monkeypatch.setenv(
        "AIRFLOW_CONN_HW_BQ_DOWN",
        f'{{"conn_type": "google_cloud_platform", "extra": {{"project": "p", "is_anonymous": true, '
        f'"api_endpoint": "http://127.0.0.1:{port}", "retry_deadline": 1}}}}',
    )
    with pytest.raises(ConnectionCheckError, match=rf"cannot reach the BigQuery API at http://127.0.0.1:{port} \(connection 'hw_bq_down'\)") as info:
        make_hook(connector("hw_bq_down", table="d.t")).check()
    assert info.value.transient is True
