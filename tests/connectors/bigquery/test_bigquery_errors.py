"""What connect says when BigQuery refuses: IAM roles, bad credentials, quota.

bqemulator has no IAM (it answers every request), so these answers come from a small HTTP server on
127.0.0.1 speaking BigQuery's REST error format (status, `error.errors[].reason`, `error.message`,
copied from real BigQuery responses). The hook talks to it through the ordinary client and the
connection's `api_endpoint`; nothing in Headwater is replaced.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from headwater.connectors.models import BigQueryConnector
from headwater.connectors.registry import make_hook
from headwater.errors import ConnectionCheckError


class FakeBigQuery(BaseHTTPRequestHandler):
    answer: tuple[int, str, str] = (500, "backendError", "")

    def _reply(self) -> None:
        status, reason, message = self.server.answer  # type: ignore[attr-defined]
        body = json.dumps(
            {"error": {"code": status, "message": message, "errors": [{"message": message, "domain": "global", "reason": reason}]}}
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _reply

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def fake_bq(monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeBigQuery)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv(
        "AIRFLOW_CONN_HW_BQ_FAKE",
        json.dumps({"conn_type": "google_cloud_platform", "extra": {
            "project": "acme", "is_anonymous": True, "api_endpoint": f"http://127.0.0.1:{server.server_port}",
            "retry_deadline": 1}}),
    )
    yield server
    server.shutdown()
    server.server_close()


def check(**fields) -> str:
    return make_hook(BigQueryConnector(type="bigquery", conn_id="hw_bq_fake", **fields)).check()


@pytest.mark.parametrize(
    ("fields", "answer", "expected"),
    [
        pytest.param(
            {"table": "shop.orders"},
            (403, "accessDenied", "Access Denied: Table acme:shop.orders: Permission bigquery.tables.get denied on table acme:shop.orders (or it may not exist)."),
            "lacks bigquery.tables.get: grant roles/bigquery.dataViewer (or metadataViewer) on the dataset or table",
            id="table_get",
        ),
        pytest.param(
            {"query": "SELECT 1 AS x"},
            (403, "accessDenied", "Access Denied: Project acme: User does not have bigquery.jobs.create permission in project acme."),
            "lacks bigquery.jobs.create: grant roles/bigquery.jobUser on the project that runs the jobs",
            id="jobs_create",
        ),
        pytest.param(
            {"table": "shop.orders"},
            (403, "accessDenied", "Access Denied: Dataset acme:shop: User does not have permission to access dataset."),
            "grant roles/bigquery.dataViewer on the dataset and roles/bigquery.jobUser on the project",
            id="unnamed_permission",
        ),
        pytest.param(
            {"table": "shop.orders"},
            (401, "authError", "Request had invalid authentication credentials. Expected OAuth 2 access token."),
            "BigQuery rejected the credentials of connection 'hw_bq_fake'",
            id="bad_credentials",
        ),
    ],
)
def test_refusals_say_what_to_fix(fake_bq, fields, answer, expected) -> None:
    fake_bq.answer = answer
    with pytest.raises(ConnectionCheckError) as info:
        check(**fields)
    assert expected in str(info.value)
    assert "(connection 'hw_bq_fake')" in str(info.value) or "connection 'hw_bq_fake'" in str(info.value)
    assert info.value.transient is False  # waiting does not grant a role: no retries burnt


def test_quota_is_transient(fake_bq) -> None:
    fake_bq.answer = (403, "quotaExceeded", "Quota exceeded: Your project exceeded quota for free query bytes scanned.")
    with pytest.raises(ConnectionCheckError, match="quota exceeded") as info:
        check(query="SELECT 1 AS x")
    assert info.value.transient is True
