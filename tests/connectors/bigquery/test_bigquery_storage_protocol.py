"""Reading a query job's result through the Storage Read API, at the protocol level.

bqemulator runs the query job (REST) but its Storage Read API cannot open the job's anonymous
result table, so here the Storage Read API is a gRPC server on 127.0.0.1 speaking the real
`google.cloud.bigquery.storage.v1.BigQueryRead` protocol (CreateReadSession, ReadRows with Arrow
IPC batches, the messages serialized by the client library's own types). It serves the rows the
emulator's job produced, read from the emulator; the test checks which table the hook asked for,
that it asked for one stream (order kept), and what came out. Nothing in Headwater is replaced.
"""

from __future__ import annotations

import json
from concurrent import futures

import grpc
import pyarrow as pa
import pytest
from google.cloud.bigquery_storage_v1 import types

from headwater.connectors.models import BigQueryConnector
from headwater.connectors.registry import make_hook

pytestmark = pytest.mark.integration
SERVICE = "google.cloud.bigquery.storage.v1.BigQueryRead"


class FakeStorageRead:
    """CreateReadSession answers one stream over `table`; ReadRows sends it in batches of 2 rows."""

    def __init__(self, table: pa.Table | None = None, deny: bool = False) -> None:
        self.table, self.deny = table, deny
        self.sessions: list[types.CreateReadSessionRequest] = []

    def create_read_session(self, request, context):
        self.sessions.append(request)
        if self.deny:
            context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                "request failed: the user does not have 'bigquery.readsessions.create' permission for 'projects/hw-test'",
            )
        schema = self.table.schema.serialize().to_pybytes()
        return types.ReadSession(
            name="projects/hw-test/locations/us/sessions/s1",
            table=request.read_session.table,
            data_format=types.DataFormat.ARROW,
            arrow_schema=types.ArrowSchema(serialized_schema=schema),
            streams=[types.ReadStream(name="projects/hw-test/locations/us/sessions/s1/streams/0")],
            estimated_total_bytes_scanned=1234,
        )

    def read_rows(self, request, context):
        for batch in self.table.to_batches(max_chunksize=2):
            yield types.ReadRowsResponse(
                row_count=batch.num_rows,
                arrow_record_batch=types.ArrowRecordBatch(
                    serialized_record_batch=batch.serialize().to_pybytes(), row_count=batch.num_rows
                ),
            )

    def serve(self) -> tuple[grpc.Server, int]:
        handler = grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "CreateReadSession": grpc.unary_unary_rpc_method_handler(
                    self.create_read_session,
                    request_deserializer=types.CreateReadSessionRequest.deserialize,
                    response_serializer=types.ReadSession.serialize,
                ),
                "ReadRows": grpc.unary_stream_rpc_method_handler(
                    self.read_rows,
                    request_deserializer=types.ReadRowsRequest.deserialize,
                    response_serializer=types.ReadRowsResponse.serialize,
                ),
            },
        )
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        server.add_generic_rpc_handlers((handler,))
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        return server, port


@pytest.fixture
def events(bq_emulator, bq_dataset) -> str:
    from google.cloud import bigquery as bq

    ref = f"hw-test.{bq_dataset}.events"
    bq_emulator.client().create_table(
        bq.Table(ref, schema=[bq.SchemaField("id", "INT64"), bq.SchemaField("updated_at", "TIMESTAMP")])
    )
    rows = [{"id": i, "updated_at": f"2026-01-01T00:00:0{i // 2}Z"} for i in range(1, 8)]
    assert bq_emulator.insert(ref, rows) == []
    return ref


def _connection(bq_emulator, monkeypatch, grpc_port: int) -> None:
    extra = json.loads(bq_emulator.connection())["extra"] | {"storage_api_endpoint": f"http://127.0.0.1:{grpc_port}"}
    monkeypatch.setenv("AIRFLOW_CONN_HW_BQ_STORAGE", json.dumps({"conn_type": "google_cloud_platform", "extra": extra}))


def test_query_result_is_read_through_one_ordered_storage_stream(bq_emulator, bq_dataset, events, monkeypatch) -> None:
    # The rows the hook's query returns, in its order (the emulator answers them over REST).
    served = bq_emulator.client().query(
        f"SELECT * FROM `{events}` WHERE updated_at >= TIMESTAMP '2026-01-01 00:00:02+00' ORDER BY updated_at, id"
    ).to_arrow(create_bqstorage_client=False)
    fake = FakeStorageRead(served)
    server, port = fake.serve()
    try:
        _connection(bq_emulator, monkeypatch, port)
        cfg = BigQueryConnector(
            type="bigquery", conn_id="hw_bq_storage", table=events.split(".", 1)[1], primary_key=["id"],
            cursor={"column": "updated_at"}, read_api="storage", chunk_size=3,
        )
        hook = make_hook(cfg)
        state = {"cursor": {"column": "updated_at", "type": "timestamptz", "value": "2026-01-01T00:00:02+00:00"},
                 "keys_at_cursor": [[4]]}
        chunks = list(hook.read(state))
    finally:
        server.stop(0)
    [request] = fake.sessions
    job = hook.job_facts["job_id"]
    assert job and request.max_stream_count == 1  # one stream keeps the ORDER BY
    dest = bq_emulator.client().get_job(job).destination
    assert request.read_session.table == f"projects/{dest.project}/datasets/{dest.dataset_id}/tables/{dest.table_id}"
    assert request.read_session.data_format == types.DataFormat.ARROW
    assert hook.read_path == "storage"
    ids = [i for c in chunks for i in c.table.column("id").to_pylist()]
    assert ids == [5, 6, 7]  # 4 was loaded at the watermark already; 5 is at it too and new
    assert all(c.table.num_rows <= 3 for c in chunks)
    assert any("about 1.2 KiB (1234 B) scanned" in n for n in hook.notes)
    assert hook.next_state()["cursor"]["value"] == "2026-01-01T00:00:03+00:00"


def test_auto_falls_back_to_pages_when_read_sessions_are_denied(bq_emulator, bq_dataset, events, monkeypatch) -> None:
    fake = FakeStorageRead(deny=True)
    server, port = fake.serve()
    try:
        _connection(bq_emulator, monkeypatch, port)
        hook = make_hook(BigQueryConnector(type="bigquery", conn_id="hw_bq_storage", table=events.split(".", 1)[1]))
        rows = sum(c.table.num_rows for c in hook.read(None))
    finally:
        server.stop(0)
    assert rows == 7 and hook.read_path == "rest" and len(fake.sessions) == 1
    assert any("grant roles/bigquery.readSessionUser" in n for n in hook.notes)
