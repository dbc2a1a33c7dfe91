"""Permanent vs transient failures (headwater.failures), from real driver errors, and what a stage
operator does with each: fail at once (AirflowFailException, error XCom first) or raise for a retry.

Every error here is produced by the real driver against a real server (PostgreSQL and MariaDB on
their usual ports, SQLite files, sockets): no error object is built by hand.
"""

from __future__ import annotations

import socket
import sqlite3

import adbc_driver_postgresql.dbapi as adbc
import mysql.connector
import pytest
from airflow.sdk.exceptions import AirflowFailException

from headwater.connectors.models import MySqlConnector, PostgresConnector
from headwater.connectors.mysql import MySqlSourceHook
from headwater.connectors.postgres import PostgresSourceHook
from headwater.errors import ConnectionCheckError, SelectionError, SourceInterrupted
from headwater.failures import PERMANENT, TRANSIENT, classify
from headwater.operators import ConnectOperator
from tests.connectors.conftest import MY, PG, set_conn  # noqa: F401  (fixture)
from tests.pipeline.harness import FakeTaskInstance
from tests.services import free_port, require_service, unique

PG_URI = "postgresql://postgres@127.0.0.1:5432/test"


def raised(fn) -> BaseException:
    try:
        fn()
    except BaseException as exc:  # noqa: BLE001 - the error is what the test looks at
        return exc
    raise AssertionError("expected an error")


@pytest.fixture
def pg():
    require_service("PostgreSQL", PG["host"], PG["port"])
    conn = adbc.connect(PG_URI)
    yield conn
    conn.close()


def _pg_query(conn, sql: str) -> None:
    cur = conn.cursor()
    try:
        cur.execute(sql)
        cur.fetchall()
    finally:
        cur.close()


# -- PostgreSQL (ADBC: SQLSTATE) ------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        pytest.param("SELECT * FROM hw_no_such_table", PERMANENT, id="undefined_table_42P01"),
        pytest.param("SELECT hw_no_such_column FROM pg_class", PERMANENT, id="undefined_column_42703"),
        pytest.param("SELECT 1/0", PERMANENT, id="division_by_zero_22012"),
    ],
)
def test_postgres_query_errors(pg, sql, expected):
    exc = raised(lambda: _pg_query(pg, sql))
    pg.rollback()
    assert classify(exc) == expected, repr(exc)


@pytest.mark.integration
def test_postgres_lock_timeout_is_transient(pg):
    table = unique("hw_lock")
    _pg_query(pg, f"CREATE TABLE {table} (id int)")
    pg.commit()
    holder = adbc.connect(PG_URI)
    try:
        _pg_query(holder, f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")  # held until rollback
        _pg_query(pg, "SET lock_timeout = '100ms'")
        exc = raised(lambda: _pg_query(pg, f"SELECT * FROM {table}"))
        assert getattr(exc, "sqlstate", None) == "55P03"
        assert classify(exc) == TRANSIENT
    finally:
        holder.rollback()
        holder.close()
        pg.rollback()
        _pg_query(pg, f"DROP TABLE {table}")
        pg.commit()


@pytest.mark.integration
def test_postgres_serialization_failure_is_transient(pg):
    table = unique("hw_ser")
    _pg_query(pg, f"CREATE TABLE {table} (id int PRIMARY KEY, v int)")
    _pg_query(pg, f"INSERT INTO {table} VALUES (1, 0)")
    pg.commit()
    other = adbc.connect(PG_URI)
    try:
        for conn in (pg, other):
            _pg_query(conn, "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
            _pg_query(conn, f"SELECT * FROM {table}")
        _pg_query(other, f"UPDATE {table} SET v = 1 WHERE id = 1")
        other.commit()
        exc = raised(lambda: _pg_query(pg, f"UPDATE {table} SET v = 2 WHERE id = 1"))
        assert getattr(exc, "sqlstate", None) == "40001"
        assert classify(exc) == TRANSIENT
    finally:
        other.close()
        pg.rollback()
        _pg_query(pg, f"DROP TABLE {table}")
        pg.commit()


@pytest.mark.integration
def test_postgres_connect_failures(set_conn):  # noqa: F811
    require_service("PostgreSQL", PG["host"], PG["port"])
    set_conn("fail_pg", conn_type="postgres", **{**PG, "login": "hw_nobody"})
    hook = PostgresSourceHook(config=PostgresConnector(type="postgres", conn_id="fail_pg", table="t"))
    assert classify(raised(hook.check)) == PERMANENT  # authentication
    set_conn("fail_pg", conn_type="postgres", **{**PG, "schema": "hw_no_such_db"})
    hook = PostgresSourceHook(config=PostgresConnector(type="postgres", conn_id="fail_pg", table="t"))
    assert classify(raised(hook.check)) == PERMANENT  # unknown database
    set_conn("fail_pg", conn_type="postgres", **{**PG, "host": "hw-no-such-host.invalid"})
    hook = PostgresSourceHook(config=PostgresConnector(type="postgres", conn_id="fail_pg", table="t"))
    assert classify(raised(hook.check)) == PERMANENT  # unknown host
    set_conn("fail_pg", conn_type="postgres", **{**PG, "port": free_port()})
    hook = PostgresSourceHook(config=PostgresConnector(type="postgres", conn_id="fail_pg", table="t"))
    assert classify(raised(hook.check)) == TRANSIENT  # refused: the server may be restarting
    set_conn("fail_pg", conn_type="postgres", **PG)
    hook = PostgresSourceHook(
        config=PostgresConnector(type="postgres", conn_id="fail_pg", table="hw_no_such_table")
    )
    exc = raised(hook.check)
    assert isinstance(exc, ConnectionCheckError) and classify(exc) == PERMANENT  # missing table


# -- MySQL / MariaDB (error numbers) --------------------------------------------------------------


@pytest.fixture
def my():
    require_service("MySQL/MariaDB", MY["host"], MY["port"])
    conn = mysql.connector.connect(host="127.0.0.1", port=3306, user="root", database="test")
    yield conn
    conn.close()


def _my_query(conn, sql: str) -> None:
    cur = conn.cursor()
    try:
        cur.execute(sql)
        cur.fetchall()
    finally:
        cur.close()


@pytest.mark.integration
@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        pytest.param("SELECT * FROM hw_no_such_table", PERMANENT, id="no_such_table_1146"),
        pytest.param(
            "SELECT hw_no_such_column FROM information_schema.tables", PERMANENT, id="bad_field_1054"
        ),
        pytest.param("SELEC 1", PERMANENT, id="parse_error_1064"),
    ],
)
def test_mysql_query_errors(my, sql, expected):
    assert classify(raised(lambda: _my_query(my, sql))) == expected


@pytest.mark.integration
def test_mysql_lock_wait_timeout_is_transient(my):
    table = unique("hw_lock")
    _my_query(my, f"CREATE TABLE {table} (id int PRIMARY KEY) ENGINE=InnoDB")
    _my_query(my, f"INSERT INTO {table} VALUES (1)")
    my.commit()
    holder = mysql.connector.connect(host="127.0.0.1", port=3306, user="root", database="test")
    try:
        holder.start_transaction()
        _my_query(holder, f"SELECT * FROM {table} WHERE id = 1 FOR UPDATE")
        _my_query(my, "SET SESSION innodb_lock_wait_timeout = 1")
        my.start_transaction()
        exc = raised(lambda: _my_query(my, f"SELECT * FROM {table} WHERE id = 1 FOR UPDATE"))
        assert exc.errno == 1205
        assert classify(exc) == TRANSIENT
    finally:
        holder.rollback()
        holder.close()
        my.rollback()
        _my_query(my, f"DROP TABLE {table}")


@pytest.mark.integration
def test_mysql_connect_failures(set_conn):  # noqa: F811
    require_service("MySQL/MariaDB", MY["host"], MY["port"])
    set_conn("fail_my", conn_type="mysql", **{**MY, "password": "wrong"})
    hook = MySqlSourceHook(config=MySqlConnector(type="mysql", conn_id="fail_my", table="t"))
    assert classify(raised(hook.check)) == PERMANENT
    set_conn("fail_my", conn_type="mysql", **{**MY, "port": free_port()})
    hook = MySqlSourceHook(config=MySqlConnector(type="mysql", conn_id="fail_my", table="t"))
    assert classify(raised(hook.check)) == TRANSIENT


# -- SQLite (result codes) ------------------------------------------------------------------------


def test_sqlite_missing_table_is_permanent_and_busy_is_transient(tmp_path):
    path = tmp_path / "db.sqlite"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("CREATE TABLE t (id int)")
    reader = sqlite3.connect(path, timeout=0)
    assert classify(raised(lambda: reader.execute("SELECT * FROM missing"))) == PERMANENT
    writer.execute("BEGIN EXCLUSIVE")
    busy = raised(lambda: reader.execute("SELECT * FROM t").fetchall())
    assert busy.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
    assert classify(busy) == TRANSIENT
    writer.execute("ROLLBACK")


# -- sockets --------------------------------------------------------------------------------------


def test_unknown_host_is_permanent_and_refused_is_transient():
    assert classify(raised(lambda: socket.getaddrinfo("hw-no-such-host.invalid", 80))) == PERMANENT
    assert (
        classify(raised(lambda: socket.create_connection(("127.0.0.1", free_port()), timeout=2))) == TRANSIENT
    )


def test_headwater_errors():
    assert classify(SelectionError("column 'x' not found")) == PERMANENT
    assert classify(ConnectionCheckError("bucket 'b' does not exist")) == PERMANENT
    assert classify(ConnectionCheckError("refused", transient=True)) == TRANSIENT
    try:
        try:
            socket.create_connection(("127.0.0.1", free_port()), timeout=2)
        except OSError as exc:
            raise SelectionError("the query failed") from exc
    except SelectionError as wrapped:
        assert classify(wrapped) == TRANSIENT  # wraps a dropped connection: not the user's to fix
    assert classify(SourceInterrupted("stream ended early")) == TRANSIENT
    assert classify(RuntimeError("something new")) == TRANSIENT  # unknown: retried, as before


# -- what the operator does with each -----------------------------------------------------------


def _run_connect(connector) -> tuple[BaseException, dict]:
    xcoms: dict = {}
    op = ConnectOperator(task_id="connect", source_name="src", connector=connector)
    ti = FakeTaskInstance("src", "connect", xcoms)
    exc = raised(lambda: op.execute({"ti": ti}))
    return exc, xcoms[("connect", "error")]


@pytest.mark.integration
def test_operator_fails_permanent_errors_at_once_and_raises_transient_ones(set_conn):  # noqa: F811
    require_service("PostgreSQL", PG["host"], PG["port"])
    set_conn("op_pg", conn_type="postgres", **PG)
    exc, error = _run_connect(PostgresConnector(type="postgres", conn_id="op_pg", table="hw_no_such_table"))
    assert isinstance(exc, AirflowFailException)
    assert str(exc).startswith("table 'hw_no_such_table' not found in database 'test' (connection 'op_pg')")
    assert error["type"] == "ConnectionCheckError" and error["message"] == str(exc)

    set_conn("op_pg", conn_type="postgres", **{**PG, "port": free_port()})
    exc, error = _run_connect(PostgresConnector(type="postgres", conn_id="op_pg", table="t"))
    assert type(exc) is ConnectionCheckError  # raised as is: Airflow retries it
    assert "connection refused" in error["message"]
