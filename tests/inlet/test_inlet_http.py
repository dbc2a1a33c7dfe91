"""The inlet speaks the Segment HTTP spec: every call through a real HTTP client, the official
Python client, and every rejection path (each answer read from the inlet process on loopback)."""

from __future__ import annotations

import base64
import gzip
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from headwater.inlet.log import open_log


def _auth(key: str) -> tuple[str, str]:
    return (key, "")


def _logged(stream: str = "demo_web") -> list[dict]:
    log = open_log()
    try:
        return log.read(stream, "test-reader", None, 10_000).events
    finally:
        log.close()


def test_every_call_of_the_spec_is_logged(running) -> None:
    inlet, key, _ = running
    calls = {
        "identify": {"userId": "u1", "traits": {"email": "Ann@Example.com", "name": "Ann"}},
        "track": {"userId": "u1", "event": "Order Completed", "properties": {"revenue": 12.5}},
        "page": {"anonymousId": "a1", "name": "Home", "properties": {"url": "https://x"}},
        "screen": {"userId": "u1", "name": "Cart"},
        "group": {"userId": "u1", "groupId": "g1", "traits": {"plan": "pro"}},
        "alias": {"userId": "u1", "previousId": "a1"},
    }
    for call, body in calls.items():
        answer = requests.post(f"{inlet.url}/v1/{call}", json={**body, "messageId": f"m-{call}"}, auth=_auth(key), timeout=10)
        assert answer.status_code == 200, (call, answer.text)
        assert answer.json() == {"success": True}
    # the write key as a body field instead of HTTP Basic
    answer = requests.post(f"{inlet.url}/v1/batch", timeout=10, json={
        "writeKey": key,
        "batch": [{"type": "track", "userId": "u2", "event": "A", "messageId": "b1"},
                  {"type": "identify", "anonymousId": "a2", "messageId": "b2"}],
        "context": {"library": {"name": "test"}},
    })
    assert answer.status_code == 200, answer.text
    logged = {e["messageId"]: e for e in _logged()}
    assert set(logged) == {*(f"m-{c}" for c in calls), "b1", "b2"}
    assert logged["m-track"]["event"] == "Order Completed" and logged["m-track"]["type"] == "track"
    assert logged["m-identify"]["traits"]["email"] == "Ann@Example.com"
    assert logged["b1"]["context"] == {"library": {"name": "test"}}  # batch context merged into each call
    assert all(e["receivedAt"] and e["timestamp"] for e in logged.values())


def test_clock_skew_is_corrected_as_the_spec_says(running) -> None:
    inlet, key, _ = running
    # the device clock is 1 hour fast: it stamped the event 10 s before it sent it
    device_now = datetime.now(UTC) + timedelta(hours=1)
    body = {
        "userId": "u1", "event": "Skewed", "messageId": "skew",
        "timestamp": (device_now - timedelta(seconds=10)).isoformat(),
        "sentAt": device_now.isoformat(),
    }
    assert requests.post(f"{inlet.url}/v1/track", json=body, auth=_auth(key), timeout=10).status_code == 200
    event = {e["messageId"]: e for e in _logged()}["skew"]
    received = datetime.fromisoformat(event["receivedAt"])
    corrected = datetime.fromisoformat(event["timestamp"])
    assert abs((received - corrected).total_seconds() - 10) < 0.01  # receivedAt - (sentAt - timestamp)
    assert datetime.fromisoformat(event["originalTimestamp"]) > received + timedelta(minutes=59)


def test_the_official_python_client_works_by_changing_only_the_host(running) -> None:
    from segment.analytics import Client

    inlet, key, _ = running
    errors = []
    client = Client(key, host=inlet.url, on_error=lambda e, batch: errors.append(e), sync_mode=False, gzip=True)
    client.identify("user-7", {"email": "seven@example.com", "firstName": "Seven"})
    client.track("user-7", "Signed Up", {"plan": "pro"})
    client.page("user-7", "Docs", "Install", {"url": "https://example.com/docs"})
    client.screen("user-7", "App", "Home")
    client.group("user-7", "acme", {"name": "Acme"})
    client.alias("anon-7", "user-7")
    client.flush()
    client.join()
    assert errors == []
    logged = _logged()
    assert sorted(e["type"] for e in logged) == ["alias", "group", "identify", "page", "screen", "track"]
    assert {e["messageId"] for e in logged} and all(e["messageId"] for e in logged)
    identify = next(e for e in logged if e["type"] == "identify")
    assert identify["traits"]["email"] == "seven@example.com" and identify["userId"] == "user-7"


def _post(inlet, path: str, key: str | None, **kwargs) -> requests.Response:
    return requests.post(f"{inlet.url}{path}", auth=_auth(key) if key else None, timeout=10, **kwargs)


@pytest.mark.parametrize(
    ("path", "kwargs", "code", "message"),
    [
        pytest.param("/v1/track", {"data": b"{not json"}, "malformed", "body is not valid JSON", id="not_json"),
        pytest.param("/v1/track", {"json": [1, 2]}, "malformed", "body must be a JSON object, not list", id="not_object"),
        pytest.param("/v1/track", {"json": {"userId": "u"}}, "malformed", "body.event: required for track", id="track_without_event"),
        pytest.param("/v1/identify", {"json": {"traits": {}}}, "malformed", "body: userId or anonymousId is required", id="no_user"),
        pytest.param("/v1/alias", {"json": {"userId": "u"}}, "malformed", "alias needs userId and previousId", id="alias_without_previous"),
        pytest.param("/v1/group", {"json": {"userId": "u"}}, "malformed", "body.groupId: required for group", id="group_without_id"),
        pytest.param("/v1/identify", {"json": {"userId": "u", "traits": "x"}}, "malformed", "body.traits: must be an object", id="traits_not_object"),
        pytest.param("/v1/track", {"json": {"userId": "u", "event": "e", "timestamp": "yesterday"}}, "malformed", "body.timestamp: 'yesterday' is not an ISO 8601 date-time", id="bad_timestamp"),
        pytest.param("/v1/track", {"json": {"userId": "u", "event": "e", "properties": {"x": "y" * 33_000}}}, "too_large", "the limit of /v1/track is 32768 bytes", id="event_over_32kb"),
        pytest.param("/v1/batch", {"json": {"batch": []}}, "malformed", "batch: empty list", id="empty_batch"),
        pytest.param("/v1/batch", {"json": {"batch": [{"type": "track", "userId": "u", "event": "e"}, {"type": "shout", "userId": "u"}]}}, "malformed", "batch[1].type: must be one of identify", id="batch_bad_type"),
        pytest.param("/v1/batch", {"json": {"batch": [{"type": "track", "userId": "u", "event": "e", "properties": {"x": "y" * 33_000}}]}}, "too_large", "batch[0]: event is", id="batch_event_over_32kb"),
        pytest.param("/v1/batch", {"json": {"batch": [{"type": "track", "userId": "u", "event": "e", "properties": {"x": "y" * 30_000}}] * 18}}, "too_large", "the limit of /v1/batch is 512000 bytes", id="batch_over_500kb"),
        pytest.param("/v1/track", {"data": gzip.compress(b'{"userId":"u","event":"e","p":"' + b"0" * 200_000 + b'"}'), "headers": {"Content-Encoding": "gzip"}}, "too_large", "once unzipped", id="gzip_over_limit"),
        pytest.param("/v1/track", {"data": b"\x1f\x8b not gzip", "headers": {"Content-Encoding": "gzip"}}, "malformed", "body is not valid gzip", id="bad_gzip"),
    ],
)
def test_bad_bodies_get_400_with_the_reason_and_nothing_is_logged(running, path, kwargs, code, message) -> None:
    inlet, key, _ = running
    answer = _post(inlet, path, key, **kwargs)
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == code
    assert message in answer.json()["message"]
    assert _logged() == []


def test_keys_missing_unknown_or_not_streaming_get_401(running) -> None:
    inlet, key, env = running
    ok = {"userId": "u", "event": "e"}
    assert _post(inlet, "/v1/track", None, json=ok).status_code == 401
    answer = _post(inlet, "/v1/track", "hw_not-a-key", json=ok)
    assert answer.status_code == 401 and answer.json()["code"] == "invalid_write_key"
    bad_basic = requests.post(f"{inlet.url}/v1/track", json=ok, headers={"Authorization": "Basic !!!"}, timeout=10)
    assert bad_basic.status_code == 401
    other = env.key("demo_crm_contacts")  # a key whose source is a batch source
    assert _post(inlet, "/v1/track", other, json=ok).status_code == 401
    # The key in the body works, in the header it wins
    assert requests.post(f"{inlet.url}/v1/track", json={**ok, "writeKey": key}, timeout=10).status_code == 200
    assert _post(inlet, "/v1/track", "hw_wrong", json={**ok, "writeKey": key}).status_code == 401


def test_revoke_and_rotate(running, capsys) -> None:
    from headwater.cli import main

    inlet, key, _ = running
    ok = {"userId": "u", "event": "e"}
    assert main(["inlet", "keys", "rotate", "demo_web", "--grace", "1h"]) == 0
    new_key = capsys.readouterr().out.strip()
    assert new_key.startswith("hw_") and new_key != key
    assert _post(inlet, "/v1/track", key, json=ok).status_code == 200  # old key: within its grace period
    assert _post(inlet, "/v1/track", new_key, json=ok).status_code == 200
    assert main(["inlet", "keys", "list", "demo_web"]) == 0
    listing = capsys.readouterr().out
    assert "rotated, valid until" in listing and "active" in listing and key not in listing and new_key not in listing
    # a grace period of 0: the old keys stop at once
    assert main(["inlet", "keys", "rotate", "demo_web", "--grace", "0s"]) == 0
    newest = capsys.readouterr().out.strip()
    assert _post(inlet, "/v1/track", new_key, json=ok).status_code == 401
    assert _post(inlet, "/v1/track", newest, json=ok).status_code == 200
    assert main(["inlet", "keys", "revoke", "demo_web"]) == 0
    assert _post(inlet, "/v1/track", newest, json=ok).status_code == 401  # the very next request
    assert main(["inlet", "keys", "create", "demo_crm_contacts"]) == 1
    assert "write keys are for http_inlet sources" in capsys.readouterr().err


def test_rate_limit_gets_429_with_retry_after(segments_env) -> None:
    source = segments_env.sources / "demo_web.yaml"
    source.write_text(source.read_text().replace("  dedup_window_seconds: 3600\n", "  dedup_window_seconds: 3600\n  rate_limit: 10\n"))
    key = segments_env.key()
    inlet = segments_env.inlet().start()
    try:
        batch = {"batch": [{"type": "track", "userId": "u", "event": "e"}] * 30}
        assert _post(inlet, "/v1/batch", key, json=batch).status_code == 200  # takes the bucket into debt
        answer = _post(inlet, "/v1/batch", key, json=batch)
        assert answer.status_code == 429 and answer.json()["code"] == "rate_limited"
        assert int(answer.headers["Retry-After"]) >= 1
    finally:
        inlet.stop()


def test_full_log_gets_413_with_retry_after(segments_env) -> None:
    key = segments_env.key()
    inlet = segments_env.inlet(HEADWATER_INLET_LOG_MAX_BYTES="2000").start()
    try:
        body = {"userId": "u", "event": "e", "properties": {"x": "y" * 600}}
        codes = []
        for _ in range(6):
            codes.append(_post(inlet, "/v1/track", key, json=body).status_code)
            time.sleep(1.1)  # the inlet looks at the log's size at most once a second
        assert codes[0] == 200 and codes[-1] == 413, codes
        answer = _post(inlet, "/v1/track", key, json=body)
        assert answer.json()["code"] == "log_full" and int(answer.headers["Retry-After"]) > 0
    finally:
        inlet.stop()


def test_health_and_metrics(running) -> None:
    inlet, key, _ = running
    assert requests.get(f"{inlet.url}/health", timeout=10).json() == {"status": "ok", "log": "segments"}
    _post(inlet, "/v1/batch", key, json={"batch": [{"type": "track", "userId": "u", "event": "e"}] * 3})
    _post(inlet, "/v1/track", key, json={"userId": "u"})
    _post(inlet, "/v1/track", "hw_nope", json={"userId": "u", "event": "e"})
    text = requests.get(f"{inlet.url}/metrics", timeout=10).text
    assert 'headwater_inlet_events_accepted_total{source="demo_web"} 3' in text
    assert 'headwater_inlet_events_rejected_total{reason="malformed",source="demo_web"} 1' in text
    assert 'headwater_inlet_events_rejected_total{reason="invalid_write_key",source="unknown"} 1' in text
    assert 'headwater_inlet_requests_total{call="batch",status="200"} 1' in text
    assert "headwater_inlet_ack_seconds_count 1" in text


def test_basic_auth_header_parsing() -> None:
    from headwater.inlet.app import _basic_user

    assert _basic_user("Basic " + base64.b64encode(b"abc:").decode()) == "abc"
    assert _basic_user("Basic " + base64.b64encode(b":").decode()) is None
    assert _basic_user("Bearer x") is None
    assert json.loads(json.dumps({"ok": True}))
