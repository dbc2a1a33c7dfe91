"""Fixtures of the HTTP API connector tests: a stand-in server per test, connections from the environment."""

from __future__ import annotations

import json

import pytest

from .standin import StandIn


@pytest.fixture
def api():
    with StandIn() as server:
        yield server


@pytest.fixture
def set_conn(monkeypatch):
    """`set_conn("crm_api", conn_type="http", host=...)` defines an Airflow connection for the test."""

    def _set(conn_id: str, **fields) -> str:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))
        return conn_id

    return _set


def read_all(hook, state=None):
    """(rows, row errors) of a whole read."""
    import pyarrow as pa

    tables, errors = [], []
    for chunk in hook.read(state):
        errors.extend(chunk.errors)
        if chunk.table.num_rows:
            tables.append(chunk.table)
    rows = pa.concat_tables(tables, promote_options="default").to_pylist() if tables else []
    return rows, errors
