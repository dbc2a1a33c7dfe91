"""Small parts of the HTTP layer on their own: JSON paths, Link headers, Retry-After, the rate limit,
cursor comparisons. The rate limit is measured against the loopback stand-in."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from headwater.connectors.http.client import HttpClient, retry_after
from headwater.connectors.http.incremental import CursorFilter, CursorSpec
from headwater.connectors.http.models import RetryPolicy
from headwater.connectors.http.paginators import link_header_next
from headwater.connectors.http.records import find, flatten, parse_path

from .standin import Reply


def test_json_paths() -> None:
    body = {"data": {"items": [{"id": 1}]}, "@odata.nextLink": "n", "a-b": 2}
    assert parse_path("$.data['items'][0].id") == ["data", "items", 0, "id"]
    assert find(body, "data.items[0].id") == 1
    assert find(body, "$['@odata.nextLink']") == "n" and find(body, "a-b") == 2
    assert (
        find(body, "$") is body and find(body, "data.missing") is None and find(body, "data.items[3]") is None
    )
    assert flatten({"a": {"b": {"c": 1}}, "d": [1], "e": {}}, "_") == {"a_b_c": 1, "d": [1], "e": {}}


def test_link_header() -> None:
    header = '<https://api/x?page=1>; rel="prev", <https://api/x?page=3>; rel="next", <https://api/x?page=9>; rel="last"'
    assert link_header_next(header) == "https://api/x?page=3"
    assert link_header_next('<https://api/x?page=2>; rel="next last"') == "https://api/x?page=2"
    assert link_header_next('<https://api/x?page=1>; rel="prev"') is None and link_header_next(None) is None


def test_retry_after_seconds_and_http_date() -> None:
    assert retry_after(httpx.Response(429, headers={"Retry-After": "7"})) == 7
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < retry_after(httpx.Response(503, headers={"Retry-After": later})) <= 30
    assert (
        retry_after(httpx.Response(503)) is None
        and retry_after(httpx.Response(503, headers={"Retry-After": "soon"})) is None
    )


def test_rate_limit_spaces_requests(api) -> None:
    api.route("GET", "/ping", lambda r: Reply(200, {}))
    with HttpClient(api.url, RetryPolicy(), rate_limit_per_second=20) as client:
        started = time.monotonic()
        for _ in range(6):
            client.request("GET", "/ping")
        elapsed = time.monotonic() - started
    assert elapsed >= 5 / 20 and client.calls == 6


def test_retry_after_longer_than_allowed_fails_at_once(api) -> None:
    api.route(
        "GET", "/slow", lambda r: Reply(429, {"message": "come back tomorrow"}, {"Retry-After": "86400"})
    )
    with (
        HttpClient(api.url, RetryPolicy(max_retry_after_seconds=60)) as client,
        pytest.raises(Exception) as caught,
    ):
        client.request("GET", "/slow")
    assert "asked to wait 86400s, longer than retry.max_retry_after_seconds (60s): come back tomorrow" in str(
        caught.value
    )
    assert client.calls == 1


def test_cursor_compares_instants_not_text() -> None:
    spec = CursorSpec(field="t")
    state = {
        "cursor": {"column": "t", "type": "timestamptz", "value": "2024-01-03T10:00:00Z"},
        "keys_at_cursor": [["a"]],
    }
    cursor = CursorFilter(spec, ["id"], state)
    assert not cursor.keep({"id": "a", "t": "2024-01-03T12:00:00+02:00"})  # the same instant, key loaded
    assert cursor.keep({"id": "b", "t": "2024-01-03T12:00:00+02:00"})  # same instant, new key
    assert not cursor.keep({"id": "c", "t": "2024-01-03T09:59:59Z"})  # before the watermark
    assert cursor.keep({"id": "d", "t": "2024-01-03T10:00:01"})  # naive: read as UTC
    assert cursor.state()["cursor"]["value"] == "2024-01-03T10:00:01"
    other = CursorFilter(CursorSpec(field="u"), ["id"], state)
    assert other.keep({"id": "a", "u": 1}) and other.notes == [
        "stored state is not for cursor field 'u'; reading from the initial value"
    ]
