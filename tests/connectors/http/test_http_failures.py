"""The task-level retry agrees with the HTTP client: what the client retries (429, 5xx, no answer)
is transient for the task too, once the client's retries are spent; other 4xx fail the task at once."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException
from pydantic import TypeAdapter

from headwater.connectors.http.errors import HttpApiError
from headwater.connectors.models import Connector
from headwater.failures import PERMANENT, TRANSIENT, classify
from headwater.operators.connect import ConnectOperator
from tests.pipeline.harness import FakeTaskInstance
from tests.services import free_port

from .standin import Reply


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (429, TRANSIENT),
        (500, TRANSIENT),
        (503, TRANSIENT),
        (408, TRANSIENT),
        (400, PERMANENT),
        (401, PERMANENT),
        (403, PERMANENT),
        (404, PERMANENT),
    ],
)
def test_status_decides(status, expected) -> None:
    assert classify(HttpApiError("GET x answered", status=status)) == expected


def _connect(conn_id: str, **fields):
    connector = TypeAdapter(Connector).validate_python(
        {
            "type": "http_api",
            "conn_id": conn_id,
            "path": "/items",
            "retry": {"max_retries": 1, "backoff_seconds": 0.01},
            **fields,
        }
    )
    xcoms: dict = {}
    op = ConnectOperator(task_id="connect", source_name="src", connector=connector)
    try:
        op.execute({"ti": FakeTaskInstance("src", "connect", xcoms)})
    except BaseException as exc:  # noqa: BLE001 (the test looks at what was raised)
        return exc, xcoms[("connect", "error")]
    raise AssertionError("connect did not fail")


def test_operator_retries_throttling_and_fails_not_found_at_once(api, set_conn) -> None:
    set_conn("items", conn_type="http", host=api.url)
    api.route("GET", "/items", lambda r: Reply(429, {"message": "quota"}, {"Retry-After": "0"}))
    exc, error = _connect("items")
    assert type(exc) is HttpApiError and exc.status == 429  # raised as is: Airflow retries the task
    assert "answered 429 Too Many Requests after 2 attempts: quota" in error["message"]

    api.route("GET", "/items", lambda r: Reply(404, {"message": "no such list"}))
    exc, error = _connect("items")
    assert isinstance(exc, AirflowFailException) and "answered 404 Not Found: no such list" in str(exc)


def test_refused_connection_is_transient_and_a_bad_scheme_permanent(set_conn) -> None:
    set_conn("down", conn_type="http", host=f"http://127.0.0.1:{free_port()}")
    exc, error = _connect("down")
    assert type(exc) is HttpApiError and "no response after 2 attempt(s): ConnectError" in error["message"]
    assert classify(exc) == TRANSIENT
    set_conn("odd", conn_type="http", host="ftp://127.0.0.1:21")
    exc, _ = _connect("odd")
    assert isinstance(exc, AirflowFailException)
