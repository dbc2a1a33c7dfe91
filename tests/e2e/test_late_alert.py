"""`monitor.deadline` end to end: Airflow's deadline alert calls Headwater's callback, which posts `late`.

A source file with a 5 s deadline is added to the running instance's sources folder; its run takes
far longer, so the scheduler finds the deadline missed and the executor runs
`headwater.alerting.late_run`. Slack has no local server: the receiver is a real HTTP server on
loopback speaking Slack's incoming-webhook API (answers `200 ok`), reached through the Slack
provider's hook with the environment connection `e2e_slack` the fixture gives Airflow. (Airflow
3.3.2 refuses deadline callbacks connections from the metadata database: "Access denied for
connection ... by Execution API"; environment and secrets-backend connections work.)
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from .conftest import SHIPPED_SOURCES, SLACK_TOKEN, Standalone
from .test_standalone import _trigger, _wait_for_dag

pytestmark = pytest.mark.e2e

DAG_ID = "late_demo"
LATE_TIMEOUT_S = 600


@pytest.fixture
def slack(standalone: Standalone):
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "body": json.loads(body)})
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", standalone.slack_port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], received
    server.shutdown()


@pytest.mark.timeout(1800)
def test_a_late_run_sends_the_late_alert(standalone: Standalone, slack) -> None:
    _, received = slack
    text = (SHIPPED_SOURCES / "demo_crm_contacts.yaml").read_text()
    text = text.replace("table: crm_contacts", "table: late_demo_contacts").replace("paused: false", "paused: true")
    text = re.sub(
        r"(?m)^monitor:\n",
        "monitor:\n  deadline: 5s\n  alerts:\n    - {type: slack, conn_id: e2e_slack, events: [late]}\n",
        text,
    )
    (standalone.sources_dir / f"{DAG_ID}.yaml").write_text(text)
    _wait_for_dag(standalone, DAG_ID)
    standalone.unpause(DAG_ID)
    run_id = _trigger(standalone, DAG_ID)
    deadline = time.monotonic() + LATE_TIMEOUT_S
    while time.monotonic() < deadline and not received:
        time.sleep(2)
    assert received, f"no late alert {LATE_TIMEOUT_S} s after triggering {run_id}\n{standalone.diagnostics()}"
    [message] = received[:1]
    assert message["path"] == f"/services/{SLACK_TOKEN}"
    lines = message["body"]["text"].splitlines()
    assert lines[0] == f"[headwater] {DAG_ID}: run is late"
    assert re.fullmatch(r"run (manual|scheduled|e2e)__\S+ \(running\)", lines[1]), lines
    assert "not finished 5s after it was queued" in message["body"]["text"]
    assert f"/headwater/sources/{DAG_ID}" in lines[-1]
