"""customerio, ad_audience and salesforce_marketing_cloud against local HTTP servers speaking the
documented APIs (no local server exists for these SaaS products): Customer.io Track API (basic auth,
PUT /api/v1/customers/{id}, POST /api/v1/segments/{id}/add_customers|remove_customers, ≤1000 ids,
id_type=email), Meta custom audience users (Bearer, POST/DELETE /{audience}/users, ≤10,000 hashed
values), Marketing Cloud (POST /v2/token client credentials, POST /hub/v1/dataevents/key:{key}/rowset).
Each server enforces auth and limits like the real API and throttles once with 429."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

import pytest

from headwater.activation.members import acknowledged
from headwater.activation.runner import run_audience
from tests.activation.conftest import audience, load_people
from tests.cloud.conftest import set_connection

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Api:
    def __init__(self) -> None:
        self.people: dict[str, dict] = {}
        self.segment: set[str] = set()
        self.audience: set[str] = set()
        self.rows: dict[str, dict] = {}
        self.calls: list[tuple[str, str]] = []
        self.throttle = 1  # first data call answers 429 Retry-After: 0
        self.tokens = 0


def _server(api: Api):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _send(self, status: int, body: object = None, headers: dict | None = None) -> None:
            data = json.dumps(body if body is not None else {}).encode()
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self):
            return json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"null")

        def _handle(self) -> None:
            url = urlparse(self.path)
            body = self._body()
            api.calls.append((self.command, url.path))
            auth = self.headers.get("Authorization", "")
            if url.path == "/v2/token":  # Marketing Cloud OAuth
                if body.get("grant_type") != "client_credentials" or body.get("client_secret") != "mc-secret":
                    return self._send(401, {"error": "invalid_client"})
                api.tokens += 1
                port = self.server.server_address[1]
                return self._send(200, {"access_token": f"tok{api.tokens}", "expires_in": 1080,
                                        "rest_instance_url": f"http://127.0.0.1:{port}/"})
            if api.throttle:
                api.throttle -= 1
                return self._send(429, {"error": "slow down"}, {"Retry-After": "0"})
            if url.path.startswith("/api/v1/"):  # Customer.io Track
                if auth != "Basic " + base64.b64encode(b"site1:track-key").decode():
                    return self._send(401)
                if m := re.fullmatch(r"/api/v1/customers/(.+)", url.path):
                    api.people[unquote(m.group(1))] = body
                    return self._send(200)
                if m := re.fullmatch(r"/api/v1/segments/(\d+)/(add|remove)_customers", url.path):
                    if len(body["ids"]) > 1000 or parse_qs(url.query).get("id_type") != ["email"]:
                        return self._send(400, {"meta": {"error": "bad request"}})
                    (api.segment.update if m.group(2) == "add" else api.segment.difference_update)(body["ids"])
                    return self._send(200)
            if m := re.fullmatch(r"/(\w+)/users", url.path):  # Meta custom audience
                if auth != "Bearer ads-token":
                    return self._send(401, {"error": {"message": "Invalid OAuth access token"}})
                data = body["payload"]["data"]
                if len(data) > 10_000 or not all(re.fullmatch(r"[0-9a-f]{64}", h) for h in data):
                    return self._send(400, {"error": {"message": "bad payload"}})
                (api.audience.update if self.command == "POST" else api.audience.difference_update)(data)
                return self._send(200, {"audience_id": m.group(1), "num_received": len(data), "num_invalid_entries": 0})
            if m := re.fullmatch(r"/hub/v1/dataevents/key:(\w+)/rowset", url.path):  # Marketing Cloud rows
                if not auth.startswith("Bearer tok"):
                    return self._send(401)
                for row in body:
                    api.rows[row["keys"]["profile_id"]] = row["values"]
                return self._send(200, [])
            return self._send(404)

        do_PUT = do_POST = do_DELETE = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def api(monkeypatch):
    state = Api()
    server = _server(state)
    port = server.server_address[1]
    base = {"host": f"http://127.0.0.1:{port}"}
    set_connection(monkeypatch, "hw_act_cio", conn_type="http", login="site1", password="track-key", **base)
    set_connection(monkeypatch, "hw_act_ads", conn_type="http", password="ads-token", **base)
    set_connection(monkeypatch, "hw_act_mc", conn_type="http", login="client", password="mc-secret", **base)
    yield state
    server.shutdown()
    server.server_close()


def person(i: int, *, tier: str = "gold", at: int = 0, **extra) -> dict:
    return {"crm_id": f"c{i}", "email": f"  P{i}@Example.com ", "loyalty_tier": tier, "marketing_opt_in": True,
            "first_name": f"P{i}", "phone": f"+4477009000{i:02d}", "updated_at": T0 + timedelta(hours=at), **extra}


def _aud(dest: dict):
    return audience({"condition": "loyalty_tier = 'gold'", "variables": [{"name": "first_name", "from": "first_name"}],
                     "destinations": [dest]})


def _lifecycle(store, aud) -> None:
    load_people(store, [person(1), person(2), person(3)])
    run_audience(store, aud, run_id="run1")
    load_people(store, [person(1, first_name="Ann", at=1), person(2, tier="bronze", at=1)], run_id="r2")
    run_audience(store, aud, run_id="run2")


def test_customerio(store, api) -> None:
    aud = _aud({"name": "cio", "type": "customerio", "conn_id": "hw_act_cio", "segment_id": 7})
    _lifecycle(store, aud)
    # the store normalises emails (trimmed, lower case): those are the ids Customer.io gets
    assert api.segment == {"p1@example.com", "p3@example.com"}
    assert api.people["p1@example.com"] == {"first_name": "Ann", "email": "p1@example.com"}
    assert sorted(acknowledged(store, "vip", "cio").to_pydict()["identity"]) == ["p1@example.com", "p3@example.com"]


@pytest.mark.parametrize("namespace", ["email", "phone"])
def test_ad_audience_hashed(store, api, namespace) -> None:
    aud = _aud({"name": "ads", "type": "ad_audience", "conn_id": "hw_act_ads", "audience_id": "6001", "identity": namespace})
    _lifecycle(store, aud)
    plain = {"email": ["p1@example.com", "p3@example.com"], "phone": ["447700900001", "447700900003"]}[namespace]
    assert api.audience == {hashlib.sha256(v.encode()).hexdigest() for v in plain}
    assert not any(c[0] == "PUT" for c in api.calls)


def test_ad_audience_bad_token_fails_the_destination(store, api, monkeypatch) -> None:
    set_connection(monkeypatch, "hw_act_ads", conn_type="http", password="wrong", host=api_host(monkeypatch))
    aud = _aud({"name": "ads", "type": "ad_audience", "conn_id": "hw_act_ads", "audience_id": "6001"})
    load_people(store, [person(1)])
    api.throttle = 0
    run = run_audience(store, aud, run_id="run1")
    delivery = run.destinations["ads"].delivery
    assert delivery["transient"] is False and "refused the token" in delivery["error"]
    assert len(acknowledged(store, "vip", "ads")) == 0


def api_host(monkeypatch) -> str:
    import os

    return json.loads(os.environ["AIRFLOW_CONN_HW_ACT_CIO"])["host"]


def test_salesforce_marketing_cloud(store, api) -> None:
    aud = _aud({"name": "mc", "type": "salesforce_marketing_cloud", "conn_id": "hw_act_mc", "data_extension_key": "GoldMembers"})
    _lifecycle(store, aud)
    by_identity = {v["identity"]: v for v in api.rows.values()}
    assert by_identity["p1@example.com"] == {"first_name": "Ann", "identity": "p1@example.com", "in_audience": True}
    assert by_identity["p2@example.com"]["in_audience"] is False
    assert by_identity["p3@example.com"]["in_audience"] is True
