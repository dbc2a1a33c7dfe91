"""Source faults on an HTTP API (`http_api` type): the API answering 429 with `Retry-After`.

The API is a protocol-level stand-in on loopback (tests/connectors/http/standin.py; no vendor
server exists), paged by page number. Cases: a short throttle is waited out (the wait asked for is
honoured, measured) and every record loads once; a `Retry-After` longer than the source allows
fails the select as transient with nothing in the lake or the state, and the retried task, once
the API answers again, loads every record exactly once.
"""

from __future__ import annotations

import json

import pytest
from airflow.sdk.exceptions import AirflowFailException

from headwater.failures import TRANSIENT, classify
from headwater.store import state
from tests.connectors.http.standin import Reply, Request, StandIn

from .conftest import lake_ids, retry_from, run_within, write_source

pytestmark = pytest.mark.integration

ROWS, PAGE = 250, 100


class OrdersApi:
    """`GET /v1/orders?page=N&per_page=M`; `throttle` maps request numbers to a `Retry-After` value."""

    def __init__(self, api: StandIn) -> None:
        self.calls = 0
        self.throttle: dict[int, str] = {}
        self.orders = [
            {
                "id": str(n),
                "email": f"user{n}@example.com",
                "total": n % 100 + 0.5,
                "currency": "EUR",
                "updated_at": f"2026-01-01T00:{n // 60 % 60:02d}:{n % 60:02d}Z",
            }
            for n in range(ROWS)
        ]
        api.route("GET", "/v1/orders", self.page)

    def page(self, request: Request) -> Reply:
        self.calls += 1
        if self.calls in self.throttle:
            return Reply(429, {"message": "Too many requests"}, {"Retry-After": self.throttle[self.calls]})
        page, size = int(request.query["page"]), int(request.query["per_page"])
        return Reply(200, {"data": self.orders[(page - 1) * size : page * size]})


@pytest.fixture
def orders(monkeypatch):
    with StandIn() as server:
        monkeypatch.setenv("AIRFLOW_CONN_FAULT_API", json.dumps({"conn_type": "http", "host": server.url}))
        yield OrdersApi(server)


def _source(ws, name: str) -> None:
    write_source(
        ws,
        name,
        "connector:\n  type: http_api\n  conn_id: fault_api\n  path: /v1/orders\n"
        "  auth: {type: none}\n  records: {path: data}\n  primary_key: [id]\n"
        f"  paginator: {{type: page_number, size: {PAGE}}}\n"
        "  retry: {max_retries: 3, backoff_seconds: 0.01, max_retry_after_seconds: 30}\n",
    )


def _assert_exactly_once(ws, name: str, run) -> None:
    assert run.failures == {}, run.failures
    ids = lake_ids(name)
    assert sorted(ids, key=int) == [str(n) for n in range(ROWS)]


def test_429_with_retry_after_is_waited_out_and_every_record_loads_once(ws, orders):
    _source(ws, "fault_api_429")
    # connect reads page 1 (call 1); select: page 1 (2), page 2 answered 429 twice (3, 4), then 200
    orders.throttle = {3: "1", 4: "1"}
    timed = run_within(ws.dag("fault_api_429"), "manual__429", 120)
    _assert_exactly_once(ws, "fault_api_429", timed.run)
    assert orders.calls == 1 + 3 + 2  # connect; select's 3 pages and the 2 throttled tries
    assert timed.seconds >= 2.0  # the two Retry-After: 1 waits were honoured
    assert timed.run.manifest("monitor")["api_calls"] == orders.calls


def test_retry_after_beyond_the_limit_fails_transient_then_the_retry_loads_once(ws, orders):
    _source(ws, "fault_api_429_long")
    dag = ws.dag("fault_api_429_long")
    orders.throttle = {3: "3600"}  # an hour: more than max_retry_after_seconds (30)
    first = run_within(dag, "manual__long", 120).run
    failure = first.failures["select"]
    assert not isinstance(failure, AirflowFailException) and classify(failure) == TRANSIENT
    assert "answered 429 and asked to wait 3600s" in str(failure) and "/v1/orders" in str(failure)
    assert lake_ids("fault_api_429_long") == []
    assert state.get_state(ws.engine(), "fault_api_429_long") is None

    retry_from(dag, first, "select")  # the API answers again (only call 3 was throttled)
    _assert_exactly_once(ws, "fault_api_429_long", first)
