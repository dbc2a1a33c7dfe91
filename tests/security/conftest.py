"""Shared by the security suite: a private workspace (the pipeline suite's), planted secrets, a webhook."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import quote

import pytest

# fixtures shared with the pipeline, cloud and connector suites (stand-ins start on first use)
from tests.cloud.conftest import bucket_name, cloud_logs, moto_server  # noqa: F401
from tests.connectors.test_sftp import server, sftp_conn, sftpd  # noqa: F401
from tests.dagrun.conftest import airflow_home, project  # noqa: F401
from tests.pipeline.conftest import workspace  # noqa: F401


class Planted:
    """Unique random secrets and the forms in which one could show up (raw, URL-encoded, core)."""

    def __init__(self) -> None:
        # special characters so a URI-encoded copy differs from the raw one; the hex core is what
        # is searched for, so any encoding that keeps letters and digits is caught too
        self.cores = {name: uuid.uuid4().hex for name in ("password", "extra", "webhook")}

    def __getitem__(self, name: str) -> str:
        return f"Hw{self.cores[name]}@:/%"

    def found_in(self, text: str) -> list[str]:
        return [name for name, core in self.cores.items() if core in text or quote(core) in text]


@pytest.fixture
def planted() -> Planted:
    return Planted()


@pytest.fixture
def webhook():
    """A local HTTP server standing in for an alert webhook; collects the POSTed bodies."""
    received: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            received.append(self.rfile.read(int(self.headers["Content-Length"])).decode())
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    http = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    yield http.server_address[1], received
    http.shutdown()


def conn_env(fields: dict) -> str:
    return json.dumps(fields)


