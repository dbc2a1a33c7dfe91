"""Alerts: a webhook through an Airflow HTTP connection, sent on the run outcomes it names.

The receiver is a real HTTP server on loopback (http.server), standing in for Slack/PagerDuty
style webhooks, which have no local stand-in.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from .harness import run_pipeline


@pytest.fixture
def webhook():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "body": json.loads(body)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], received
    server.shutdown()


def _with_alert(workspace, name: str, on: list[str], port: int, monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_OPS_WEBHOOK", json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": port, "schema": "http"}))
    path = workspace.sources / f"{name}.yaml"
    text = path.read_text().replace(
        "monitor:\n  retries: 1",
        f"monitor:\n  alerts:\n    - {{type: webhook, conn_id: ops_webhook, endpoint: /hooks/headwater, events: {on}}}\n  retries: 1",
    )
    assert "ops_webhook" in text
    path.write_text(text)


def test_threshold_alert_is_posted_with_the_run_summary(workspace, webhook, monkeypatch) -> None:
    port, received = webhook
    _with_alert(workspace, "demo_crm_contacts", ["threshold_exceeded", "failure"], port, monkeypatch)
    path = workspace.sources / "demo_crm_contacts.yaml"
    path.write_text(path.read_text().replace("max_error_ratio: 0.1", "max_error_ratio: 0.01"))
    run_pipeline(workspace.dag("demo_crm_contacts"), "manual__alert")
    [alert] = received
    assert alert["path"] == "/hooks/headwater"
    body = alert["body"]
    assert body["source"] == "demo_crm_contacts"
    assert body["status"] == "threshold_exceeded"
    assert body["rows_quarantined"] == 3
    assert "max_error_ratio" in body["error_summary"]


def test_success_sends_nothing_unless_asked(workspace, webhook, monkeypatch) -> None:
    port, received = webhook
    _with_alert(workspace, "demo_crm_contacts", ["failure"], port, monkeypatch)
    run = run_pipeline(workspace.dag("demo_crm_contacts"), "manual__quiet")
    assert run.manifest("monitor")["status"] == "success"
    assert received == []


def test_connect_failure_is_recorded_and_alerted(workspace, webhook, monkeypatch) -> None:
    from headwater.store import runs

    port, received = webhook
    _with_alert(workspace, "demo_crm_contacts", ["failure"], port, monkeypatch)
    (workspace.include / "demo" / "crm_contacts.csv").unlink()
    run = run_pipeline(workspace.dag("demo_crm_contacts"), "manual__nofile")
    # no file matching is not a crash: the run is recorded as "no data", nothing is alerted
    assert run.failures == {}, run.failures
    assert run.manifest("monitor")["status"] == "no_data"
    assert received == []
    [record] = runs.runs_for(workspace.engine(), "demo_crm_contacts")
    assert record.status == "no_data"


def test_unreachable_database_fails_the_run_with_an_actionable_alert(workspace, webhook, monkeypatch) -> None:
    from headwater.store import runs
    from tests.services import free_port

    port, received = webhook
    dead = free_port()
    monkeypatch.setenv(
        "AIRFLOW_CONN_CRM_POSTGRES",
        json.dumps({"conn_type": "postgres", "host": "127.0.0.1", "port": dead, "login": "postgres", "schema": "test"}),
    )
    _with_alert(workspace, "example_postgres_customers", ["failure"], port, monkeypatch)
    run = run_pipeline(workspace.dag("example_postgres_customers"), "manual__down")
    assert set(run.failures) == {"connect", "monitor"}
    [alert] = received
    summary = alert["body"]["error_summary"]
    assert alert["body"]["status"] == "failed"
    assert summary.startswith(f"connect: cannot connect to PostgreSQL at 127.0.0.1:{dead} (connection 'crm_postgres')")
    [record] = runs.runs_for(workspace.engine(), "example_postgres_customers")
    assert (record.status, record.error_summary) == ("failed", summary)
