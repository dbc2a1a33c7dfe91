"""The generic `http_api` connector against a public-API-shaped stand-in (tests/connectors/http/customers_api.py):
auth flows, every paginator, records, incremental reads, retries on 429/5xx, errors that name the endpoint."""

from __future__ import annotations

import time

import pytest
from pydantic import TypeAdapter, ValidationError

from headwater.connectors.models import Connector
from headwater.connectors.registry import make_hook
from headwater.failures import PERMANENT, TRANSIENT, classify

from .conftest import read_all
from .customers_api import CLIENT_ID, CLIENT_SECRET, CustomersApi, customer
from .standin import Reply

ROWS = [customer(i, f"2024-05-0{i}T10:00:00Z") for i in range(1, 6)]
OAUTH = {"type": "oauth2_client_credentials", "token_url": "/oauth/token"}


def config(**fields):
    base = {
        "type": "http_api",
        "conn_id": "customers_api",
        "path": "/v1/customers",
        "auth": OAUTH,
        "records": {"path": "$.data"},
        "primary_key": ["id"],
        "retry": {"backoff_seconds": 0.01, "max_backoff_seconds": 0.05},
    }
    return TypeAdapter(Connector).validate_python({**base, **fields})


@pytest.fixture
def customers(api, set_conn):
    set_conn("customers_api", conn_type="http", host=api.url, login=CLIENT_ID, password=CLIENT_SECRET)
    return CustomersApi(api, list(ROWS))


PAGINATORS = [
    pytest.param({"type": "page_number", "size": 2}, id="page_number"),
    pytest.param({"type": "offset", "limit": 2, "total_path": "meta.total"}, id="offset"),
    pytest.param({"type": "cursor", "token_path": "meta.next_cursor", "param": "cursor"}, id="cursor"),
    pytest.param({"type": "next_link", "path": "links.next"}, id="next_link_body"),
    pytest.param({"type": "next_link"}, id="next_link_header"),
]


@pytest.mark.parametrize("paginator", PAGINATORS)
def test_every_paginator_reads_every_record_once(customers, paginator) -> None:
    params = {"limit": 2} if paginator["type"] == "cursor" else {}
    hook = make_hook(config(paginator=paginator, params=params))
    rows, errors = read_all(hook)
    assert errors == []
    assert [r["id"] for r in rows] == [1, 2, 3, 4, 5]
    # nested kept as JSON text by default; arrays too
    assert rows[0]["name"] == '{"first": "First1", "last": "Last1"}' and rows[0]["tags"] == '["a", "b"]'
    assert hook.api_calls == customers.data_calls + 1  # + the token request


def test_flattened_records_and_selected_columns(customers) -> None:
    hook = make_hook(
        config(
            paginator={"type": "page_number", "size": 2},
            records={"path": "data", "nested": "flatten", "separator": "__"},
            columns=["id", "name__first", "updated_at"],
        )
    )
    rows, _ = read_all(hook)
    assert rows[0] == {"id": 1, "name__first": "First1", "updated_at": "2024-05-01T10:00:00Z"}


def test_chunks_are_bounded_by_chunk_size(customers) -> None:
    hook = make_hook(config(paginator={"type": "page_number", "size": 2}, chunk_size=3))
    sizes = [chunk.table.num_rows for chunk in hook.read(None)]
    assert sizes == [3, 2]


def test_incremental_second_read_gets_only_changes(customers) -> None:
    inc = {"cursor_field": "updated_at", "request_param": "updated_since"}
    cfg = config(paginator={"type": "page_number", "size": 2}, incremental=inc)
    hook = make_hook(cfg)
    rows, _ = read_all(hook)
    assert len(rows) == 5
    state = hook.next_state()
    assert state == {
        "cursor": {"column": "updated_at", "type": "timestamptz", "value": "2024-05-05T10:00:00Z"},
        "keys_at_cursor": [[5]],
    }
    # one change after the watermark, one new record AT the watermark, nothing else
    customers.rows[1] = customer(2, "2024-05-06T09:00:00Z", country="fr")
    customers.rows.append(customer(6, "2024-05-05T10:00:00Z"))
    hook = make_hook(cfg)
    rows, _ = read_all(hook, state)
    assert sorted(r["id"] for r in rows) == [2, 6]
    assert customers.requests_since("2024-05-05T10:00:00Z")
    assert hook.next_state()["cursor"]["value"] == "2024-05-06T09:00:00Z"
    # and a third read with nothing new reads nothing and keeps the state
    state = hook.next_state()
    hook = make_hook(cfg)
    rows, _ = read_all(hook, state)
    assert rows == [] and hook.next_state() == state


def test_lookback_reads_the_window_again(customers) -> None:
    inc = {"cursor_field": "updated_at", "request_param": "updated_since", "lookback_seconds": 86400}
    hook = make_hook(config(paginator={"type": "page_number", "size": 10}, incremental=inc))
    state = {
        "cursor": {"column": "updated_at", "type": "timestamptz", "value": "2024-05-04T10:00:00Z"},
        "keys_at_cursor": [[4]],
    }
    rows, _ = read_all(hook, state)
    assert customers.api.log[-1].query["updated_since"] == "2024-05-03T10:00:00Z"
    assert sorted(r["id"] for r in rows) == [3, 5]  # 3 is in the window; 4 was loaded at the watermark


def test_throttled_and_failing_pages_are_retried(customers) -> None:
    customers.faults = {
        2: Reply(429, {"message": "slow down"}, {"Retry-After": "1"}),
        3: Reply(503, {"message": "busy"}),
    }
    hook = make_hook(config(paginator={"type": "page_number", "size": 2}))
    started = time.monotonic()
    rows, _ = read_all(hook)
    assert [r["id"] for r in rows] == [1, 2, 3, 4, 5]
    assert time.monotonic() - started >= 1.0  # Retry-After honoured
    assert hook.api_calls == 1 + 3 + 2  # token, three pages, two retried requests


def test_token_revoked_mid_run_is_fetched_again(customers) -> None:
    customers.revoke_after = 1
    hook = make_hook(config(paginator={"type": "page_number", "size": 2}))
    rows, _ = read_all(hook)
    assert [r["id"] for r in rows] == [1, 2, 3, 4, 5]
    tokens = [r.headers["authorization"] for r in customers.api.requests("/v1/customers")]
    assert tokens[0] == "Bearer tok1" and tokens[-1] == "Bearer tok2"
    assert len(customers.api.requests("/oauth/token")) == 2


def test_token_refreshed_before_it_expires(customers) -> None:
    customers.token_seconds = 1.0
    slow = customers.customers

    def slow_page(request):
        time.sleep(0.4)
        return slow(request)

    customers.api.route("GET", "/v1/customers", slow_page)
    auth = {**OAUTH, "refresh_before_seconds": 0.5}
    hook = make_hook(config(paginator={"type": "page_number", "size": 1}, auth=auth))
    rows, _ = read_all(hook)
    assert len(rows) == 5
    assert len(customers.api.requests("/oauth/token")) >= 2
    # never a 401: the token was replaced before the server would have refused it
    assert all(
        r.headers["authorization"].removeprefix("Bearer ") in customers.tokens
        for r in customers.api.requests("/v1/customers")
    )


def test_retries_spent_name_endpoint_status_and_message_never_the_secret(customers) -> None:
    customers.faults = {
        n: Reply(503, {"error": {"message": f"overloaded, client_secret={CLIENT_SECRET}"}})
        for n in range(1, 10)
    }
    hook = make_hook(
        config(
            paginator={"type": "page_number", "size": 2}, retry={"max_retries": 2, "backoff_seconds": 0.01}
        )
    )
    with pytest.raises(Exception) as caught:
        read_all(hook)
    text = str(caught.value)
    assert (
        f"GET {customers.api.url}/v1/customers answered 503 Service Unavailable after 3 attempts: overloaded"
        in text
    )
    assert CLIENT_SECRET not in text and "per_page" not in text
    assert classify(caught.value) == TRANSIENT  # the task is retried later too


def test_bad_client_secret_is_permanent(customers, set_conn) -> None:
    set_conn(
        "customers_api", conn_type="http", host=customers.api.url, login=CLIENT_ID, password="wrong-secret"
    )
    hook = make_hook(config())
    with pytest.raises(Exception) as caught:
        hook.check()
    assert "OAuth token request failed" in str(caught.value) and "401" in str(caught.value)
    assert "client authentication failed" in str(caught.value) and "wrong-secret" not in str(caught.value)
    assert classify(caught.value) == PERMANENT


def test_api_key_in_query_and_header(api, set_conn) -> None:
    seen = []

    def handler(request):
        seen.append((request.query.get("api_key"), request.headers.get("x-api-key")))
        return Reply(200, [{"id": 1}])

    api.route("GET", "/items", handler)
    set_conn("keyed", conn_type="http", host=api.url, password="k-12345")
    for auth in (
        {"type": "api_key", "name": "api_key", "inject_into": "query"},
        {"type": "api_key", "name": "X-API-Key"},
    ):
        hook = make_hook(config(conn_id="keyed", path="/items", auth=auth, records={"path": "$"}))
        rows, _ = read_all(hook)
        assert rows == [{"id": 1}]
    assert seen == [("k-12345", None), (None, "k-12345")]


def test_basic_auth_and_bearer(api, set_conn) -> None:
    seen = []
    api.route(
        "GET",
        "/me",
        lambda r: (seen.append(r.headers.get("authorization")), Reply(200, {"items": [{"id": 7}]}))[1],
    )
    set_conn("basic", conn_type="http", host=api.url, login="ann", password="pw-12345")
    read_all(
        make_hook(config(conn_id="basic", path="/me", auth={"type": "basic"}, records={"path": "items"}))
    )
    read_all(
        make_hook(config(conn_id="basic", path="/me", auth={"type": "bearer"}, records={"path": "items"}))
    )
    assert seen == ["Basic YW5uOnB3LTEyMzQ1", "Bearer pw-12345"]


def test_refresh_token_grant(api, set_conn) -> None:
    grants = []

    def token(request):
        grants.append(request.form())
        return Reply(200, {"access_token": "at-1", "expires_in": 3600, "refresh_token": "rt-2"})

    api.route("POST", "/token", token)
    api.route(
        "GET", "/items", lambda r: Reply(200, {"items": [{"id": 1, "auth": r.headers["authorization"]}]})
    )
    set_conn("refreshing", conn_type="http", host=api.url, login="cid", extra={"refresh_token": "rt-1"})
    auth = {"type": "oauth2_refresh_token", "token_url": "/token"}
    rows, _ = read_all(
        make_hook(config(conn_id="refreshing", path="/items", auth=auth, records={"path": "items"}))
    )
    assert rows == [{"id": 1, "auth": "Bearer at-1"}]
    assert grants == [{"grant_type": "refresh_token", "refresh_token": "rt-1", "client_id": "cid"}]


def test_check_names_a_missing_field(customers) -> None:
    hook = make_hook(config(columns=["id", "emial"]))
    with pytest.raises(
        Exception, match=r"field 'emial' not found in the first record .*did you mean email\?"
    ):
        hook.check()
    described = make_hook(config(paginator={"type": "page_number", "size": 2})).check()
    assert described.endswith(
        "/v1/customers (connection 'customers_api'): 2 record(s) on the first page; full read each run"
    )


def test_non_object_records_are_quarantined_and_the_rest_loads(api, set_conn) -> None:
    records = [{"id": 1}, {"id": 2}, "oops", {"id": "x3"}, {"id": 4}, {}]
    api.route("GET", "/mixed", lambda r: Reply(200, {"data": records}))
    set_conn("mixed", conn_type="http", host=api.url)
    # chunks of 2: the first types `id` as an integer, "x3" in the second does not fit it
    rows, errors = read_all(
        make_hook(config(conn_id="mixed", path="/mixed", auth={"type": "none"}, chunk_size=2))
    )
    assert [r["id"] for r in rows] == [1, 2, 4]
    assert sorted(e.code for e in errors) == ["MALFORMED_ROW", "MALFORMED_ROW", "TYPE_MISMATCH"]
    mismatch = next(e for e in errors if e.code == "TYPE_MISMATCH")
    assert mismatch.location == "id=x3" and mismatch.column == "id" and mismatch.record == '{"id": "x3"}'


def test_body_that_is_not_json(api, set_conn) -> None:
    api.route(
        "GET", "/html", lambda r: Reply(200, raw=b"<html>login</html>", headers={"Content-Type": "text/html"})
    )
    set_conn("html", conn_type="http", host=api.url)
    with pytest.raises(
        Exception,
        match=r"GET http://127.0.0.1:\d+/html answered 200 with a body that is not JSON \(Content-Type text/html\)",
    ):
        make_hook(config(conn_id="html", path="/html", auth={"type": "none"})).check()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param(
            {"headers": {"Authorization": "Bearer x"}},
            "header 'Authorization' carries a credential",
            id="secret_header",
        ),
        pytest.param({"records": {"path": "data..x"}}, "is not a JSON path", id="bad_path"),
        pytest.param(
            {"incremental": {"cursor_field": "u", "template": "since"}},
            "template must contain `{value}`",
            id="template",
        ),
        pytest.param(
            {"auth": {"type": "oauth2_client_credentials", "extra_body": {"client_secret": "x"}}},
            "looks like a secret",
            id="secret_body",
        ),
        pytest.param({"body": {"a": 1}}, "a body is sent with `method: POST` only", id="body_get"),
        pytest.param(
            {"paginator": {"type": "scroll"}},
            "does not match any of the expected tags",
            id="unknown_paginator",
        ),
        pytest.param(
            {"columns": ["id"], "incremental": {"cursor_field": "updated_at"}},
            "cursor field 'updated_at' is not selected",
            id="cursor_not_selected",
        ),
    ],
)
def test_invalid_configs(fields, message) -> None:
    with pytest.raises(ValidationError, match=message):
        config(**fields)
