"""Source faults on SQL servers: PostgreSQL killed and stalled mid-select, MariaDB's connection
reset and stalled mid-select.

PostgreSQL is a cluster of the test's own (initdb on a free port), so it can be SIGKILLed and
SIGSTOPped; MariaDB is the shared server behind a TCP fault proxy (tests/faults/servers.py), which
resets or freezes the connection at a chosen byte. Each case: the run fails with the driver's first
error (transient: Airflow retries it), nothing reaches the lake or the state, and the retry loads
exactly the source's rows once. A stall is stopped after the connection's `read_timeout`.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import mysql.connector
import pytest
from airflow.sdk.exceptions import AirflowFailException

from headwater.failures import TRANSIENT, classify
from headwater.store import state
from tests.services import require_service, unique

from .conftest import lake_ids, retry_from, run_within, wait_for, write_source
from .servers import FaultProxy, OwnPostgres

pytestmark = pytest.mark.integration

ROWS = 120_000


@pytest.fixture(scope="module")
def own_pg():
    pg = OwnPostgres()
    import adbc_driver_postgresql.dbapi as adbc

    with adbc.connect(f"postgresql://postgres@127.0.0.1:{pg.port}/postgres") as conn, conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE orders AS SELECT g AS id, 'user' || g || '@example.com' AS email, "
            "(g % 1000)::float8 + 0.5 AS total, 'EUR' AS currency, "
            "timestamp '2026-01-01' + g * interval '1 second' AS updated_at, repeat(md5(g::text), 4) AS pad "
            f"FROM generate_series(1, {ROWS}) g"
        )
        conn.commit()
    yield pg
    pg.stop()


def _pg_source(ws, monkeypatch, port: int, name: str, **extra) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_FAULT_PG",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": "127.0.0.1",
                "port": port,
                "login": "postgres",
                "schema": "postgres",
                "extra": extra,
            }
        ),
    )
    write_source(
        ws,
        name,
        "connector:\n  type: postgres\n  conn_id: fault_pg\n  table: orders\n"
        "  primary_key: [id]\n  cursor: {column: updated_at}\n",
    )


def _assert_nothing_landed(ws, name: str) -> None:
    assert lake_ids(name) == []
    assert state.get_state(ws.engine(), name) is None


def _assert_exactly_once(ws, name: str, run) -> None:
    assert run.failures == {}, run.failures
    ids = lake_ids(name)
    assert len(ids) == ROWS and len(set(ids)) == ROWS
    assert run.manifest("monitor")["status"] == "success"
    assert state.get_state(ws.engine(), name)["cursor"]["value"].startswith("2026-01-02T09:20:00")


def test_postgres_killed_mid_select_reports_the_first_error_and_the_retry_loads_every_row_once(
    ws, monkeypatch, own_pg
):
    proxy = FaultProxy(own_pg.port)  # only to see how far the read has got
    _pg_source(ws, monkeypatch, proxy.port, "fault_pg_kill")
    dag = ws.dag("fault_pg_kill")
    killer = threading.Thread(
        target=lambda: (
            wait_for(lambda: proxy.bytes_to_client > 4_000_000, what="select to stream"),
            own_pg.kill(),
        ),
        daemon=True,
    )
    killer.start()
    first = run_within(dag, "manual__kill", 120).run
    killer.join(5)
    failure = first.failures["select"]
    assert set(first.failures) == {"select", "monitor"}, first.failures
    assert not isinstance(failure, AirflowFailException) and classify(failure) == TRANSIENT
    # The first error, not the rollback's ("Failed to rollback") that used to replace it.
    assert "server closed the connection unexpectedly" in str(failure)
    assert "rollback" not in str(failure).lower()
    assert "server closed the connection" in first.xcoms[("select", "error")]["message"]
    _assert_nothing_landed(ws, "fault_pg_kill")

    own_pg.start()
    retry_from(dag, first, "select")
    _assert_exactly_once(ws, "fault_pg_kill", first)
    proxy.close()


def test_postgres_backend_stopped_mid_select_is_stopped_after_read_timeout_and_retried(
    ws, monkeypatch, own_pg
):
    proxy = FaultProxy(own_pg.port)
    _pg_source(ws, monkeypatch, proxy.port, "fault_pg_stall", read_timeout=3)
    dag = ws.dag("fault_pg_stall")
    stopped: list[int] = []
    stalled_at: list[float] = []

    def stall() -> None:
        wait_for(lambda: proxy.bytes_to_client > 4_000_000, what="select to stream")
        for pid in own_pg.backends():  # the server process answering us, and its siblings
            os.kill(pid, signal.SIGSTOP)
            stopped.append(pid)
        stalled_at.append(time.monotonic())

    threading.Thread(target=stall, daemon=True).start()
    try:
        first = run_within(dag, "manual__stall", 90).run
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
    detected = time.monotonic() - stalled_at[0]
    failure = first.failures["select"]
    assert classify(failure) == TRANSIENT
    assert str(failure).startswith(
        f"PostgreSQL at 127.0.0.1:{proxy.port} (connection 'fault_pg') sent no data for 3 s while reading "
        "table 'orders'; the read was stopped"
    )
    assert detected < 3 + 10, detected
    print(f"\nPostgreSQL stall → select failed in {detected:.1f} s (read_timeout 3 s)")
    _assert_nothing_landed(ws, "fault_pg_stall")

    retry_from(dag, first, "select")
    _assert_exactly_once(ws, "fault_pg_stall", first)
    proxy.close()


# -- MariaDB through the fault proxy ----------------------------------------------------------------


@pytest.fixture
def maria_table():
    require_service("MySQL/MariaDB", "127.0.0.1", 3306)
    table = unique("hw_fault_orders")
    conn = mysql.connector.connect(host="127.0.0.1", port=3306, user="root", database="test")
    cur = conn.cursor()
    cur.execute(
        f"CREATE TABLE {table} (id BIGINT PRIMARY KEY, email VARCHAR(64), total DOUBLE, currency CHAR(3), "
        "updated_at DATETIME, pad VARCHAR(200))"
    )
    cur.execute(
        f"INSERT INTO {table} SELECT seq, CONCAT('user', seq, '@example.com'), seq % 1000 + 0.5, 'EUR', "
        "TIMESTAMP '2026-01-01 00:00:00' + INTERVAL seq SECOND, REPEAT(MD5(seq), 4) "
        f"FROM seq_1_to_{ROWS}"
    )
    conn.commit()
    yield table
    cur.execute(f"DROP TABLE {table}")
    conn.close()


def _maria_source(ws, monkeypatch, port: int, name: str, table: str, **extra) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_FAULT_MY",
        json.dumps(
            {
                "conn_type": "mysql",
                "host": "127.0.0.1",
                "port": port,
                "login": "root",
                "schema": "test",
                "extra": extra,
            }
        ),
    )
    write_source(
        ws,
        name,
        f"connector:\n  type: mysql\n  conn_id: fault_my\n  table: {table}\n"
        "  primary_key: [id]\n  cursor: {column: updated_at}\n  chunk_size: 5000\n",
    )


def test_mariadb_connection_reset_mid_select_is_retried_and_loads_every_row_once(
    ws, monkeypatch, maria_table
):
    proxy = FaultProxy(3306)
    _maria_source(ws, monkeypatch, proxy.port, "fault_my_reset", maria_table)
    dag = ws.dag("fault_my_reset")
    dropper = threading.Thread(
        target=lambda: (
            wait_for(lambda: proxy.bytes_to_client > 4_000_000, what="select to stream"),
            proxy.drop(),
        ),
        daemon=True,
    )
    dropper.start()
    first = run_within(dag, "manual__reset", 120).run
    failure = first.failures["select"]
    assert classify(failure) == TRANSIENT and not isinstance(failure, AirflowFailException)
    assert getattr(failure, "errno", None) in (2013, 2055), repr(failure)
    _assert_nothing_landed(ws, "fault_my_reset")

    retry_from(dag, first, "select")
    _assert_exactly_once(ws, "fault_my_reset", first)
    proxy.close()


def test_mariadb_stalled_mid_select_is_stopped_after_read_timeout_and_retried(ws, monkeypatch, maria_table):
    proxy = FaultProxy(3306)
    _maria_source(ws, monkeypatch, proxy.port, "fault_my_stall", maria_table, read_timeout=3)
    dag = ws.dag("fault_my_stall")
    frozen_at: list[float] = []

    def freeze() -> None:
        wait_for(lambda: proxy.bytes_to_client > 4_000_000, what="select to stream")
        proxy.freeze()
        frozen_at.append(time.monotonic())

    threading.Thread(target=freeze, daemon=True).start()
    first = run_within(dag, "manual__stall", 90).run
    detected = time.monotonic() - frozen_at[0]
    failure = first.failures["select"]
    assert classify(failure) == TRANSIENT, repr(failure)
    assert detected < 3 + 10, detected
    print(f"\nMariaDB stall → select failed in {detected:.1f} s (read_timeout 3 s): {failure!r}")
    _assert_nothing_landed(ws, "fault_my_stall")

    proxy.thaw()
    retry_from(dag, first, "select")
    _assert_exactly_once(ws, "fault_my_stall", first)
    proxy.close()
