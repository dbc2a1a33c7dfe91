"""Store fixtures: every store test runs on SQLite (a temp file) and on the real local PostgreSQL.

`postgres_url()` and the `pg_url` fixture are self-contained so they can move to tests/conftest.py
when other packages need a throwaway PostgreSQL database.
"""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from headwater.store import db

# Server to create throwaway databases on (connects to its maintenance database `postgres`).
PG_ADMIN_URL = os.environ.get(
    "HEADWATER_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)


class PostgresUnavailable(RuntimeError):
    """The test PostgreSQL server cannot be reached."""


def _admin_engine():
    return create_engine(
        PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}, poolclass=NullPool
    )


def postgres_url() -> str:
    """Create a fresh, empty database `hw_test_<random>` and return its URL."""
    name = f"hw_test_{uuid.uuid4().hex[:12]}"
    engine = _admin_engine()
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin = make_url(PG_ADMIN_URL).render_as_string(hide_password=True)
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise PostgresUnavailable(f"PostgreSQL at {admin} is not reachable: {reason}") from exc
    finally:
        engine.dispose()
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    name = make_url(url).database
    engine = _admin_engine()
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def pg_url():
    """URL of a PostgreSQL database created for this test session and dropped after it.

    Unreachable server: the test fails when CI is set (a skipped integration test hides a broken
    setup), and is skipped with the reason otherwise.
    """
    try:
        url = postgres_url()
    except PostgresUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{exc} (CI is set: integration tests must not skip)")
        pytest.skip(f"{exc}; start it or set HEADWATER_TEST_PG_URL")
    yield url
    db.reset_engines()
    drop_postgres_database(url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def engine(request, tmp_path):
    """A store engine with empty `hw_` tables, on each supported database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store' / 'headwater.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    engine = db.get_engine(url)
    with engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())
    yield engine
    db.reset_engines()
