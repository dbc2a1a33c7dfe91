"""Redshift source (`type: redshift`): reads over the PostgreSQL wire protocol against the real
local PostgreSQL through a `redshift` connection, and the UNLOAD path against moto's S3 server.

No Redshift runs here. UNLOAD is a Redshift statement PostgreSQL cannot run, so in the UNLOAD test
the test plays UNLOAD's part: its hook subclass replaces only `run_unload` (the one call that
sends UNLOAD to the cluster) by running the select the UNLOAD statement carries on PostgreSQL and
writing the Parquet file UNLOAD would write (`<prefix>0000_part_00.parquet`) to moto. Everything
after that (listing the staged files, reading them with the S3 code, the cursor, cleaning up)
is the hook's own code.
"""

from __future__ import annotations

import io
import json
import uuid

import pytest

from headwater.connectors.models import RedshiftConnector
from headwater.errors import ConnectionCheckError
from tests.cloud.conftest import cloud_logs, moto_server  # noqa: F401  (fixtures)
from tests.services import require_service

PG = {"host": "127.0.0.1", "port": 5432, "login": "postgres", "schema": "test"}


@pytest.fixture
def pg(set_conn):
    import psycopg2

    require_service("PostgreSQL", PG["host"], PG["port"])
    schema = f"hw_rs_{uuid.uuid4().hex[:8]}"
    conn = psycopg2.connect(host=PG["host"], port=PG["port"], user="postgres", dbname="test")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"CREATE SCHEMA {schema}")
        cur.execute(
            f"CREATE TABLE {schema}.events (id int PRIMARY KEY, email text, amount numeric(12,2), "
            "payload json, updated_at timestamptz NOT NULL)"
        )
        cur.execute(
            f"INSERT INTO {schema}.events SELECT g, 'u' || g || '@example.com', g * 1.25, "
            "json_build_object('n', g, 'tags', json_build_array('a', 'b')), "
            "timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute' FROM generate_series(1, 50) g"
        )
    set_conn("hw_rs", conn_type="redshift", extra={"sslmode": "disable", "unload_iam_role": "arn:aws:iam::123456789012:role/hw-unload"}, **PG)
    set_conn("hw_rs_bad", conn_type="redshift", **{**PG, "login": "hw_no_such_user"}, extra={"sslmode": "disable"})
    yield conn, schema
    with conn.cursor() as cur:
        cur.execute(f"DROP SCHEMA {schema} CASCADE")
    conn.close()


def _hook(cls=None, **fields):
    from headwater.connectors.redshift import RedshiftSourceHook

    return (cls or RedshiftSourceHook)(config=RedshiftConnector(type="redshift", conn_id=fields.pop("conn_id", "hw_rs"), **fields))


@pytest.mark.integration
def test_wire_read_incremental_with_json_as_text(pg) -> None:
    conn, schema = pg
    fields = {"table": f"{schema}.events", "cursor": {"column": "updated_at"}, "primary_key": "id", "chunk_size": 20}
    hook = _hook(**fields)
    assert hook.check() == (
        f"Redshift database 'test' (connection 'hw_rs'): table '{schema}.events', 5 columns selected; incremental on updated_at"
    )
    chunks = list(hook.read(None))
    assert [c.table.num_rows for c in chunks] == [20, 20, 10]
    first = chunks[0].table
    assert str(first.schema.field("amount").type) == "decimal128(12, 2)"
    assert str(first.schema.field("updated_at").type) == "timestamp[us, tz=UTC]"
    assert json.loads(first.column("payload")[0].as_py()) == {"n": 1, "tags": ["a", "b"]}
    state = hook.next_state()
    assert state["cursor"] == {"column": "updated_at", "type": "timestamptz", "value": "2026-01-01T00:50:00+00:00"}

    with conn.cursor() as cur:  # one row at exactly the watermark, one later
        cur.execute(f"INSERT INTO {schema}.events VALUES (51, 'x@example.com', 1, '{{}}', timestamptz '2026-01-01 00:50:00+00')")
        cur.execute(f"INSERT INTO {schema}.events VALUES (52, 'y@example.com', 1, '{{}}', timestamptz '2026-01-02 00:00:00+00')")
    second = _hook(**fields)
    rows = [r for c in second.read(state) for r in c.table.to_pylist()]
    assert sorted(r["id"] for r in rows) == [51, 52]


@pytest.mark.integration
def test_connect_errors_say_what_to_fix(pg) -> None:
    _, schema = pg
    with pytest.raises(ConnectionCheckError, match=r"authentication failed for user 'hw_no_such_user'"):
        _hook(conn_id="hw_rs_bad", table=f"{schema}.events").check()
    with pytest.raises(ConnectionCheckError, match=rf"table '{schema}.event' not found .*tables with a similar name: events"):
        _hook(table=f"{schema}.event").check()
    with pytest.raises(ConnectionCheckError, match=rf"table '{schema}x.events' not found .*; schema '{schema}x' does not exist; schemas with a similar name: {schema}"):
        _hook(table=f"{schema}x.events").check()


class _UnloadOnPostgres:
    """Plays UNLOAD's part (see the module docstring): runs the carried select, writes its Parquet file."""

    s3_client = None
    sent: list[str] = []

    def run_unload(self, conn, statement: str, prefix: str) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        type(self).sent.append(statement)
        inner = statement.removeprefix("UNLOAD ('").split("') TO '", 1)[0].replace("''", "'")
        with conn.cursor() as cur:
            cur.execute(inner)
            names = [d.name for d in cur.description]
            rows = cur.fetchall()
        table = pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)})
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        bucket, _, key = prefix.removeprefix("s3://").partition("/")
        self.s3_client.put_object(Bucket=bucket, Key=f"{key}0000_part_00.parquet", Body=buffer.getvalue())


@pytest.mark.integration
def test_big_table_is_unloaded_to_s3_and_read_from_there(pg, moto_server, monkeypatch) -> None:  # noqa: F811
    import boto3

    from headwater.connectors.redshift import RedshiftSourceHook
    from tests.cloud.conftest import set_connection

    _, schema = pg
    bucket = f"hw-rs-{uuid.uuid4().hex[:8]}"
    set_connection(monkeypatch, "hw_rs_s3", conn_type="aws", login="testing", password="testing",
                   extra={"endpoint_url": moto_server.url, "region_name": "us-east-1"})
    client = boto3.client("s3", endpoint_url=moto_server.url, aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    hook_cls = type("Hook", (_UnloadOnPostgres, RedshiftSourceHook), {"s3_client": client, "sent": []})
    fields = {
        "table": f"{schema}.events",
        "columns": ["id", "email", "updated_at"],
        "cursor": {"column": "updated_at", "initial_value": "2026-01-01T00:40:00+00:00"},
        "primary_key": "id",
        "unload": {"above_mb": 0, "staging": f"s3://{bucket}/unload/", "aws_conn_id": "hw_rs_s3"},
    }
    hook = _hook(hook_cls, **fields)
    rows = [r for c in hook.read(None) for r in c.table.to_pylist()]
    assert [r["id"] for r in rows] == list(range(40, 51))
    [statement] = hook_cls.sent
    prefix = statement.split("') TO '", 1)[1].split("'", 1)[0]
    assert prefix.startswith(f"s3://{bucket}/unload/hw-") and prefix.endswith("/")
    assert statement == (
        f"UNLOAD ('SELECT \"id\", \"email\", \"updated_at\" \nFROM \"{schema}\".\"events\" \n"
        "WHERE \"updated_at\" >= ''2026-01-01T00:40:00+00:00'' ORDER BY \"updated_at\"') "
        f"TO '{prefix}' IAM_ROLE 'arn:aws:iam::123456789012:role/hw-unload' FORMAT AS PARQUET PARALLEL OFF"
    )
    assert hook.next_state()["cursor"]["value"] == "2026-01-01T00:50:00+00:00"
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0  # staged files removed after the read


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["redshift", "postgres"])
def test_missing_grant_names_the_grant(pg, set_conn, kind) -> None:
    conn, schema = pg
    role = f"hw_rs_nogrant_{uuid.uuid4().hex[:6]}"
    with conn.cursor() as cur:
        cur.execute(f"CREATE ROLE {role} LOGIN")
        cur.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
    try:
        set_conn("hw_rs_nogrant", conn_type=kind, **{**PG, "login": role}, extra={"sslmode": "disable"})
        if kind == "redshift":
            hook = _hook(conn_id="hw_rs_nogrant", table=f"{schema}.events")
        else:
            from headwater.connectors.models import PostgresConnector
            from headwater.connectors.postgres import PostgresSourceHook

            hook = PostgresSourceHook(config=PostgresConnector(type="postgres", conn_id="hw_rs_nogrant", table=f"{schema}.events"))
        with pytest.raises(ConnectionCheckError) as caught:
            hook.check()
        label = "Redshift" if kind == "redshift" else "PostgreSQL"
        assert str(caught.value).startswith(
            f"{label} user '{role}' may not read table '{schema}.events' in database 'test' (connection 'hw_rs_nogrant'): "
        )
        assert str(caught.value).endswith(f"— grant it SELECT on table {schema}.events (and the use of its schema)")
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP OWNED BY {role}")
            cur.execute(f"DROP ROLE {role}")
