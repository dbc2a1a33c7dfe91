"""Fixtures of the activation tests: a private SQLite store with profiles, audiences built from
dicts, and a local HTTP server speaking the webhook destination's documented API.

The webhook receiver is an in-process stand-in at protocol level (there is no third-party server
for "our webhook"): it checks the HMAC-SHA256 signature header like a real receiver must, answers
with scripted statuses (500, 429 + Retry-After) to simulate outages, and records what it accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from headwater.activation.loader import audience_from
from headwater.activation.models import Audience

SECRET = "test-signing-secret"


class Receiver:
    """What the webhook endpoint received and will answer."""

    def __init__(self) -> None:
        self.accepted: list[dict] = []  # signals of acknowledged requests, in order
        self.requests = 0
        self.script: list[tuple[int, dict]] = []  # (status, headers) for the next requests
        self.fail_after: int | None = None  # accept this many more requests, then answer 503
        self.reject_profiles: set[str] = set()  # answered in the body's "rejected" list
        self.lock = threading.Lock()

    def keys(self, op: str | None = None) -> list[str]:
        return [s["idempotency_key"] for s in self.accepted if op is None or s["op"] == op]

    def by_op(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for s in self.accepted:
            out.setdefault(s["op"], []).append(s["identity"])
        return {k: sorted(v) for k, v in out.items()}


def _handler(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _answer(self, status: int, body: dict | None = None, headers: dict | None = None) -> None:
            data = json.dumps(body or {}).encode()
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            with receiver.lock:
                receiver.requests += 1
                if not hmac.compare_digest(self.headers.get("X-Headwater-Signature", ""), expected):
                    return self._answer(401, {"error": "bad signature"})
                if receiver.script:
                    status, headers = receiver.script.pop(0)
                    return self._answer(status, {"error": "scripted"}, headers)
                if receiver.fail_after is not None:
                    if receiver.fail_after <= 0:
                        return self._answer(503, {"error": "down"})
                    receiver.fail_after -= 1
                payload = json.loads(body)
                assert self.headers["Idempotency-Key"] == payload["batch_key"]
                rejected = [s for s in payload["signals"] if s["profile_id"] in receiver.reject_profiles]
                receiver.accepted += [s for s in payload["signals"] if s not in rejected]
            self._answer(200, {"rejected": [{"idempotency_key": s["idempotency_key"], "reason": "unknown user"} for s in rejected]})

    return Handler


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    state = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AIRFLOW_CONN_HW_ACT_HOOK", json.dumps({
        "conn_type": "http", "host": "127.0.0.1", "port": server.server_address[1], "schema": "http", "password": SECRET,
    }))
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from headwater.store import db

    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HEADWATER_STORE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    db.reset_engines()
    yield db.get_engine()
    db.reset_engines()


def load_people(engine, people: list[dict], *, source: str = "crm", run_id: str = "r1",
                identities: tuple[str, ...] = ("email", "crm_id", "phone")) -> None:
    """Rows of a profile source (crm_id keyed), written through the real profile writer."""
    from headwater.store import profiles

    profiles.upsert_profiles(engine, source=source, run_id=run_id, rows=people,
                             identities=[(n, n) for n in identities],
                             record_key="crm_id", updated_at="updated_at")


def audience(data: dict, name: str = "vip", folder: Path | None = None) -> Audience:
    return audience_from(Path(folder or "/tmp") / f"{name}.yaml", data)


WEBHOOK = {"name": "hook", "type": "webhook", "conn_id": "hw_act_hook", "batch_size": 2}
