from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from headwater.store import db


def test_tables_created_with_prefix(engine):
    names = set(inspect(engine).get_table_names())
    assert {"hw_profiles", "hw_identities", "hw_fragments", "hw_source_state", "hw_runs"} <= names
    db.create_all(engine)  # idempotent


def test_engine_cached_per_url(engine):
    assert db.get_engine(engine.url) is engine


def test_sqlite_default_creates_folder_and_uses_wal(tmp_path, monkeypatch):
    monkeypatch.delenv("HEADWATER_STORE_URL", raising=False)
    monkeypatch.delenv("HEADWATER_STORE_CONN_ID", raising=False)
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "home"))
    try:
        engine = db.get_engine()
        assert engine.url.database == str(tmp_path / "home" / "headwater.db")
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == db.SQLITE_BUSY_TIMEOUT_MS
    finally:
        db.reset_engines()


def test_connection_id_builds_postgres_url_without_leaking_password(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_HW_STORE_TEST",
        '{"conn_type": "postgres", "login": "hw", "password": "pa55word!", "host": "db.internal",'
        ' "port": 6432, "schema": "headwater", "extra": {"sslmode": "require", "options": "-c x=y"}}',
    )
    monkeypatch.setenv("HEADWATER_STORE_CONN_ID", "hw_store_test")
    monkeypatch.setenv("HEADWATER_STORE_URL", "sqlite:////ignored.db")
    url = db.store_url()
    assert url.drivername == "postgresql+psycopg2"
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "hw",
        "pa55word!",
        "db.internal",
        6432,
        "headwater",
    )
    assert dict(url.query) == {"sslmode": "require"}  # extras are allowlisted
    assert (
        url.render_as_string(hide_password=True)
        == "postgresql+psycopg2://hw:***@db.internal:6432/headwater?sslmode=require"
    )


def test_describe_hides_password():
    engine = db._create_engine(db.make_url("postgresql+psycopg2://u:topsecret@h/d"))
    assert "topsecret" not in db.describe(engine)
    assert db.describe(engine) == "postgresql+psycopg2://u:***@h/d"


@pytest.mark.integration
def test_profile_writer_settings_last_only_for_its_transaction(pg_url):
    """JIT off and a larger work_mem for the exclusive profile writer, never leaking to the pooled
    connection's next user (SET LOCAL ends with the transaction)."""
    engine = db.get_engine(pg_url)
    with engine.connect() as conn:
        default_jit = conn.exec_driver_sql("SHOW jit").scalar()
        default_mem = conn.exec_driver_sql("SHOW work_mem").scalar()
    with db.write_transaction(engine, exclusive=True) as conn:
        assert conn.exec_driver_sql("SHOW jit").scalar() == "off"
        assert conn.exec_driver_sql("SHOW work_mem").scalar() == "64MB"
    with db.write_transaction(engine) as conn:  # not exclusive: server defaults
        assert conn.exec_driver_sql("SHOW work_mem").scalar() == default_mem
    with engine.connect() as conn:
        assert (conn.exec_driver_sql("SHOW jit").scalar(), conn.exec_driver_sql("SHOW work_mem").scalar()) == (
            default_jit, default_mem,
        )
