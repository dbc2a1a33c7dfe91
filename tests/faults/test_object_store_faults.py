"""Source faults on an object store: S3 (moto server) answering 503 SlowDown and 500 for a while,
and a download cut off mid-file, through an HTTP fault proxy (tests/faults/servers.py).

Each case: the run fails with a transient error (retried, not failed at once) and nothing reaches
the lake or the state, or botocore's own retries absorb a short blip; after the store recovers,
the retry loads exactly the files' rows once.
"""

from __future__ import annotations

import boto3
import pytest
from airflow.sdk.exceptions import AirflowFailException

from headwater.errors import SourceInterrupted
from headwater.failures import TRANSIENT, classify
from headwater.store import state
from tests.cloud.conftest import cloud_logs, moto_server, set_connection  # noqa: F401  (fixtures)
from tests.services import unique

from .conftest import lake_ids, retry_from, run_within, write_source
from .servers import HttpFaultProxy

pytestmark = pytest.mark.integration

FILES, ROWS_PER_FILE = 3, 2000


@pytest.fixture
def s3(moto_server, monkeypatch):  # noqa: F811
    proxy = HttpFaultProxy(moto_server.url)
    bucket = unique("hw-faults").replace("_", "-")
    client = boto3.client(
        "s3",
        endpoint_url=moto_server.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=bucket)
    for f in range(FILES):
        lines = ["id,email,total,currency,updated_at"]
        for i in range(ROWS_PER_FILE):
            n = f * ROWS_PER_FILE + i
            lines.append(f"{n},user{n}@example.com,{n % 100}.5,EUR,2026-01-01T00:00:{n % 60:02d}")
        client.put_object(Bucket=bucket, Key=f"orders/part-{f}.csv", Body="\n".join(lines).encode())
    set_connection(
        monkeypatch,
        "fault_s3",
        conn_type="aws",
        login="testing",
        password="testing",
        extra={"endpoint_url": proxy.url, "region_name": "us-east-1"},
    )
    yield proxy, bucket
    proxy.close()


def _source(ws, name: str, bucket: str) -> None:
    write_source(
        ws,
        name,
        f"connector:\n  type: s3\n  conn_id: fault_s3\n  bucket: {bucket}\n  path: orders/*.csv\n",
    )


def _assert_nothing_landed(ws, name: str) -> None:
    assert lake_ids(name) == []
    assert state.get_state(ws.engine(), name) is None


def _assert_exactly_once(ws, name: str, run) -> None:
    assert run.failures == {}, run.failures
    ids = lake_ids(name)
    assert len(ids) == FILES * ROWS_PER_FILE and len(set(ids)) == len(ids)
    assert sorted(state.get_state(ws.engine(), name)["files"]) == [
        f"orders/part-{f}.csv" for f in range(FILES)
    ]


def test_listing_answered_503_for_a_while_is_retried_then_loads_every_row_once(ws, s3):
    proxy, bucket = s3
    _source(ws, "fault_s3_slowdown", bucket)
    dag = ws.dag("fault_s3_slowdown")
    proxy.fail(20, 503, "SlowDown", matching="list-type=2")  # more than botocore's own attempts
    first = run_within(dag, "manual__503", 120).run
    failure = first.failures["connect"]
    assert not isinstance(failure, AirflowFailException) and classify(failure) == TRANSIENT
    assert "SlowDown" in str(failure)
    _assert_nothing_landed(ws, "fault_s3_slowdown")

    proxy.heal()
    retry_from(ws.dag("fault_s3_slowdown"), first, "connect")
    _assert_exactly_once(ws, "fault_s3_slowdown", first)


def test_a_short_blip_is_absorbed_by_the_client_retries(ws, s3):
    proxy, bucket = s3
    _source(ws, "fault_s3_blip", bucket)
    proxy.fail(2, 500, "InternalError", matching="part-1.csv", method="GET")
    run = run_within(ws.dag("fault_s3_blip"), "manual__blip", 120).run
    _assert_exactly_once(ws, "fault_s3_blip", run)
    assert [r[2] for r in proxy.requests if "part-1.csv" in r[1] and r[0] == "GET"][:3] == [500, 500, 206]


def test_object_answered_500_mid_run_fails_the_select_without_partial_data(ws, s3):
    proxy, bucket = s3
    _source(ws, "fault_s3_500", bucket)
    dag = ws.dag("fault_s3_500")
    proxy.fail(20, 500, "InternalError", matching="part-1.csv", method="GET")  # part-0 read first
    first = run_within(dag, "manual__500", 120).run
    failure = first.failures["select"]
    assert isinstance(failure, SourceInterrupted) and classify(failure) == TRANSIENT
    assert str(failure).startswith(f"reading s3://{bucket}/orders/part-1.csv failed at byte 0 of ")
    _assert_nothing_landed(ws, "fault_s3_500")

    proxy.heal()
    retry_from(dag, first, "select")
    _assert_exactly_once(ws, "fault_s3_500", first)


def test_download_cut_mid_file_is_not_taken_for_a_damaged_file(ws, s3):
    proxy, bucket = s3
    _source(ws, "fault_s3_cut", bucket)
    dag = ws.dag("fault_s3_cut")
    proxy.cut(20_000, matching="part-1.csv")  # headers promise the whole file; 20 kB arrive
    first = run_within(dag, "manual__cut", 120).run
    failure = first.failures.get("select")
    # The cut surfaces as SourceInterrupted naming the object and the byte: never as a short or
    # damaged file (which would be recorded in the state as read, its rows lost).
    assert failure is not None, first.manifest("select")
    assert isinstance(failure, SourceInterrupted) and classify(failure) == TRANSIENT, repr(failure)
    _assert_nothing_landed(ws, "fault_s3_cut")

    retry_from(dag, first, "select")
    _assert_exactly_once(ws, "fault_s3_cut", first)
