"""Alerts to Slack and e-mail, and the events that compare a run with the ones before it.

Slack has no local server: the receiver is a real HTTP server on loopback speaking Slack's
incoming-webhook API (POST of a JSON body with `text` to /services/..., answered `200 ok`), reached
through the Slack provider's own SlackWebhookHook. E-mail goes through the SMTP provider's SmtpHook
to a real SMTP server on loopback (aiosmtpd).
"""

from __future__ import annotations

import email
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from email import policy
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from tests.services import free_port

from .harness import run_pipeline

SLACK_TOKEN = "T0000/B0000/XXXXSECRET"


@pytest.fixture
def slack(monkeypatch):
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path != f"/services/{SLACK_TOKEN}":
                self.send_response(404)
                self.end_headers()
                self.wfile.write(b"no_service")
                return
            received.append(json.loads(body))
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"ok")  # what Slack answers a valid incoming-webhook post

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv(
        "AIRFLOW_CONN_OPS_SLACK",
        json.dumps({"conn_type": "slackwebhook", "host": f"http://127.0.0.1:{server.server_address[1]}/services", "password": SLACK_TOKEN}),
    )
    yield received
    server.shutdown()


@pytest.fixture
def smtp(monkeypatch):
    from aiosmtpd.controller import Controller

    received: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's naming)
            received.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content, policy=policy.default)))
            return "250 Message accepted for delivery"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv(
        "AIRFLOW_CONN_OPS_SMTP",
        json.dumps({
            "conn_type": "smtp", "host": "127.0.0.1", "port": port,
            "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "headwater@example.com", "retry_limit": 0},
        }),
    )
    yield received
    controller.stop()


def _configure(workspace, monitor: str) -> None:
    path = workspace.sources / "demo_crm_contacts.yaml"
    text = path.read_text().replace("monitor:\n  retries: 1", monitor)
    assert "ops_slack" in text
    path.write_text(text)


def _threshold(workspace, ratio: str) -> None:
    path = workspace.sources / "demo_crm_contacts.yaml"
    text = path.read_text()
    import re

    path.write_text(re.sub(r"max_error_ratio: [0-9.]+", f"max_error_ratio: {ratio}", text))


def test_failures_repeated_failures_recovery_and_staleness_reach_slack_and_email(workspace, slack, smtp) -> None:
    _configure(
        workspace,
        "monitor:\n  retries: 1\n  repeated_failures: 2\n  freshness: 1s\n  alerts:\n"
        "    - {type: slack, conn_id: ops_slack}\n"
        "    - {type: email, conn_id: ops_smtp, to: [oncall@example.com], events: [repeated_failures, recovered]}",
    )
    _threshold(workspace, "0.01")
    run_pipeline(workspace.dag("demo_crm_contacts"), "manual__1")
    run_pipeline(workspace.dag("demo_crm_contacts"), "manual__2")
    _threshold(workspace, "0.1")
    run_pipeline(workspace.dag("demo_crm_contacts"), "manual__3")
    time.sleep(1.2)  # past the 1 s freshness limit
    run = run_pipeline(workspace.dag("demo_crm_contacts"), "manual__4")  # the file is unchanged: no data
    assert run.manifest("monitor")["status"] == "no_data"
    from headwater.store import runs

    records = {r.run_id: r for r in runs.runs_for(workspace.engine(), "demo_crm_contacts")}
    assert [records[f"manual__{i}"].status for i in (1, 2, 3, 4)] == ["threshold_exceeded", "threshold_exceeded", "success", "no_data"]
    # what the run page shows: the GX result of the failed runs too, files read, the notes
    assert records["manual__1"].details["gx_result"].endswith("manual__1.json")
    assert records["manual__3"].details["files_read"] == 1 and records["manual__3"].details["files"] == ["demo/crm_contacts.csv"]
    assert records["manual__4"].details["files_read"] == 0
    assert "1 file(s) unchanged since the last run, skipped" in records["manual__4"].details["notes"]

    texts = [m["text"] for m in slack]
    firsts = [t.splitlines()[0] for t in texts]
    assert firsts == [
        "[headwater] demo_crm_contacts: error threshold exceeded",
        "[headwater] demo_crm_contacts: error threshold exceeded",
        "[headwater] demo_crm_contacts: failed repeatedly",
        "[headwater] demo_crm_contacts: recovered",
        "[headwater] demo_crm_contacts: source is stale",
    ], texts
    repeated = texts[2]
    assert "run manual__2 (threshold_exceeded)" in repeated
    assert "rows read 61 · mapped" in repeated and "quarantined 3" in repeated
    assert "top errors: " in repeated and "×" in repeated
    assert "details: /headwater/sources/demo_crm_contacts" in repeated
    assert "last successful load" in texts[4] and "limit 1s" in texts[4]
    assert SLACK_TOKEN not in "".join(texts)

    subjects = [(to, msg["Subject"]) for to, msg in smtp]
    assert subjects == [
        (["oncall@example.com"], "[headwater] demo_crm_contacts: failed repeatedly"),
        (["oncall@example.com"], "[headwater] demo_crm_contacts: recovered"),
    ]
    body = smtp[0][1].get_body(("html",)).get_content()
    assert "run manual__2" in body and "/headwater/sources/demo_crm_contacts" in body


def test_an_unreachable_target_does_not_stop_the_others(workspace, smtp, monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_OPS_SLACK", json.dumps({"conn_type": "slackwebhook", "host": f"http://127.0.0.1:{free_port()}", "password": "x"}))
    _configure(
        workspace,
        "monitor:\n  retries: 1\n  alerts:\n    - {type: slack, conn_id: ops_slack, events: [success]}\n"
        "    - {type: email, conn_id: ops_smtp, to: ops@example.com, events: [success]}",
    )
    run = run_pipeline(workspace.dag("demo_crm_contacts"), "manual__ok")
    assert run.manifest("monitor")["status"] == "success"
    assert [msg["Subject"] for _, msg in smtp] == ["[headwater] demo_crm_contacts: run succeeded"]


def test_late_run_callback_sends_the_late_event(workspace, slack) -> None:
    """What the DAG's deadline alert calls when a run is not finished in time (Airflow passes the context)."""
    from headwater.alerting import late_run
    from headwater.dag_builder import build_all

    _configure(workspace, "monitor:\n  retries: 1\n  deadline: 30m\n  alerts:\n    - {type: slack, conn_id: ops_slack, events: [late]}")
    dag = build_all(workspace.sources)["demo_crm_contacts"]
    [deadline] = dag.deadline
    assert deadline.interval == timedelta(minutes=30)
    assert deadline.callback.path == "headwater.alerting.late_run"
    assert deadline.callback.kwargs == {"source": "demo_crm_contacts"}
    late_run(**deadline.callback.kwargs, context={"dag_run": {"dag_run_id": "scheduled__2026", "dag_id": "demo_crm_contacts"}})
    [message] = slack
    assert message["text"].splitlines()[:2] == ["[headwater] demo_crm_contacts: run is late", "run scheduled__2026 (running)"]
    assert "not finished 1800s after it was queued" in message["text"]


def _rec(status: str, minutes_ago: int, now: datetime):
    from headwater.store.runs import RunRecord

    return RunRecord(source="s", run_id=f"r{minutes_ago}", status=status, started_at=now - timedelta(minutes=minutes_ago))


@pytest.mark.parametrize(
    ("statuses", "last_success_min", "expected"),
    [
        pytest.param(["success"], 0, ["success"], id="plain_success"),
        pytest.param(["failed", "success"], 1, ["failure"], id="first_failure"),
        pytest.param(["failed", "failed", "failed"], None, ["failure", "repeated_failures"], id="third_in_a_row"),
        pytest.param(["failed"] * 4, None, ["failure"], id="fourth_is_not_repeated_again"),
        pytest.param(["failed"] * 6, None, ["failure", "repeated_failures"], id="sixth_repeats"),
        pytest.param(["threshold_exceeded", "failed", "threshold_exceeded"], None, ["threshold_exceeded", "repeated_failures"], id="mixed_failures"),
        pytest.param(["success", "failed"], 0, ["success", "recovered"], id="recovered"),
        pytest.param(["no_data", "threshold_exceeded"], 10, ["no_data", "recovered"], id="recovered_without_data"),
        pytest.param(["no_data", "success"], 200, ["no_data", "stale"], id="stale"),
        pytest.param(["no_data", "success"], 100, ["no_data"], id="within_limit"),
        pytest.param(["no_data"], None, ["no_data"], id="never_loaded_is_not_stale_yet"),
    ],
)
def test_events_for(statuses, last_success_min, expected) -> None:
    from headwater.alerting import events_for

    now = datetime(2026, 12, 1, tzinfo=UTC)
    history = [_rec(s, i, now) for i, s in enumerate(statuses)]
    last = None if last_success_min is None else now - timedelta(minutes=last_success_min)
    assert events_for(statuses[0], history, repeated_failures=3, last_success=last, freshness_limit=timedelta(hours=2), now=now) == expected
