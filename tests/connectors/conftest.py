"""Fixtures for connector tests: Airflow connections from the environment, real local databases.

Integration tests need PostgreSQL (127.0.0.1:5432) and MariaDB/MySQL (127.0.0.1:3306). When one is
unreachable they are skipped with the reason, except in CI (env `CI` set), where they fail.
"""

from __future__ import annotations

import json

import pytest

from tests.services import free_port, reachable, require_service, unique  # noqa: F401  (used by tests)

PG = {"host": "127.0.0.1", "port": 5432, "login": "postgres", "schema": "test"}
MY = {"host": "127.0.0.1", "port": 3306, "login": "root", "schema": "test"}


@pytest.fixture
def set_conn(monkeypatch):
    """`set_conn("crm_pg", conn_type="postgres", host=...)` defines an Airflow connection for the test."""

    def _set(conn_id: str, **fields) -> str:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))
        return conn_id

    return _set


@pytest.fixture
def include_dir(tmp_path, monkeypatch):
    """A fresh include folder: relative paths in connector configs resolve against it."""
    folder = tmp_path / "include"
    folder.mkdir()
    monkeypatch.setenv("HEADWATER_INCLUDE_DIR", str(folder))
    return folder
