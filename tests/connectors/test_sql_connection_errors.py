"""Connection failures and missing objects produce messages a person can act on (wording pinned)."""

from __future__ import annotations

import pytest

from headwater.connectors.models import MySqlConnector, PostgresConnector, SqliteConnector
from headwater.connectors.mysql import MySqlSourceHook
from headwater.connectors.postgres import PostgresSourceHook
from headwater.connectors.sqlite import SqliteSourceHook
from headwater.errors import ConnectionCheckError

from .conftest import MY, PG, free_port, require_service


def check_message(hook) -> str:
    with pytest.raises(ConnectionCheckError) as info:
        hook.check()
    return str(info.value)


def test_postgres_wrong_port(set_conn):
    port = free_port()
    set_conn("crm_pg", conn_type="postgres", **{**PG, "port": port})
    hook = PostgresSourceHook(config=PostgresConnector(type="postgres", conn_id="crm_pg", table="contacts"))
    assert check_message(hook) == (
        f"cannot connect to PostgreSQL at 127.0.0.1:{port} (connection 'crm_pg'): "
        "connection refused — is the server running and the port right?"
    )


@pytest.mark.integration
def test_postgres_authentication_failed(set_conn):
    require_service("PostgreSQL", PG["host"], PG["port"])
    # The local server trusts every password, so an unknown role stands in for a wrong password:
    # both are reported as failed authentication.
    set_conn("crm_pg", conn_type="postgres", **{**PG, "login": "hw_nobody", "password": "secret"})
    hook = PostgresSourceHook(config=PostgresConnector(type="postgres", conn_id="crm_pg", table="contacts"))
    assert check_message(hook) == (
        "cannot connect to PostgreSQL at 127.0.0.1:5432 (connection 'crm_pg'): "
        "authentication failed for user 'hw_nobody' — check the connection's login and password"
    )


@pytest.mark.integration
def test_postgres_unknown_database(set_conn):
    require_service("PostgreSQL", PG["host"], PG["port"])
    set_conn("crm_pg", conn_type="postgres", **{**PG, "schema": "hw_no_such_db"})
    hook = PostgresSourceHook(config=PostgresConnector(type="postgres", conn_id="crm_pg", table="contacts"))
    assert check_message(hook) == (
        "cannot connect to PostgreSQL at 127.0.0.1:5432 (connection 'crm_pg'): "
        "database 'hw_no_such_db' does not exist — check the database name in the connection"
    )


def test_mysql_wrong_port(set_conn):
    port = free_port()
    set_conn("crm_my", conn_type="mysql", **{**MY, "port": port})
    hook = MySqlSourceHook(config=MySqlConnector(type="mysql", conn_id="crm_my", table="contacts"))
    assert check_message(hook) == (
        f"cannot connect to MySQL at 127.0.0.1:{port} (connection 'crm_my'): "
        "connection refused — is the server running and the port right?"
    )


@pytest.mark.integration
def test_mysql_bad_password(set_conn):
    require_service("MySQL/MariaDB", MY["host"], MY["port"])
    set_conn("crm_my", conn_type="mysql", **{**MY, "password": "wrong"})
    hook = MySqlSourceHook(config=MySqlConnector(type="mysql", conn_id="crm_my", table="contacts"))
    assert check_message(hook) == (
        "cannot connect to MySQL at 127.0.0.1:3306 (connection 'crm_my'): "
        "authentication failed for user 'root' — check the connection's login and password"
    )


@pytest.mark.integration
def test_mysql_unknown_database(set_conn):
    require_service("MySQL/MariaDB", MY["host"], MY["port"])
    set_conn("crm_my", conn_type="mysql", **{**MY, "schema": "hw_no_such_db"})
    hook = MySqlSourceHook(config=MySqlConnector(type="mysql", conn_id="crm_my", table="contacts"))
    assert check_message(hook) == (
        "cannot connect to MySQL at 127.0.0.1:3306 (connection 'crm_my'): "
        "database 'hw_no_such_db' does not exist — check the database name in the connection"
    )


def test_sqlite_missing_database_file(include_dir):
    hook = SqliteSourceHook(config=SqliteConnector(type="sqlite", database="db/nope.db", table="contacts"))
    assert check_message(hook) == (
        f"cannot connect to SQLite at {include_dir / 'db/nope.db'}: "
        "the database file does not exist — check `database` in the source file"
    )


def test_sqlite_through_an_airflow_connection(tmp_path, set_conn):
    import sqlite3

    path = tmp_path / "crm.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE contacts (id INTEGER, email TEXT)")
        conn.execute("INSERT INTO contacts VALUES (1, 'a@x')")
    set_conn("crm_sqlite", conn_type="sqlite", host=str(path))
    hook = SqliteSourceHook(config=SqliteConnector(type="sqlite", conn_id="crm_sqlite", table="contacts"))
    assert hook.check() == (
        f"SQLite database '{path}' (connection 'crm_sqlite'): table 'contacts', 2 columns selected; full read each run"
    )
    assert [r for c in hook.read(None) for r in c.table.to_pylist()] == [{"id": 1, "email": "a@x"}]
