"""Source faults on SFTP: the connection dropped (reset) and stalled in the middle of a file, through
a TCP fault proxy in front of a real OpenSSH sshd (the one tests/connectors/test_sftp.py starts).

Each case: select fails with `SourceInterrupted` (transient: retried), the half-read file is not
taken for a damaged one, nothing reaches the lake or the state; the retry loads every row once.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from headwater.errors import SourceInterrupted
from headwater.failures import TRANSIENT, classify
from headwater.store import state
from tests.connectors.test_sftp import PASSWORD, USER, server, sftpd  # noqa: F401  (fixtures)

from .conftest import lake_ids, retry_from, run_within, write_source
from .servers import FaultProxy

pytestmark = pytest.mark.integration

ROWS_PER_FILE = 40_000


@pytest.fixture
def sftp(server, monkeypatch):  # noqa: F811
    for f in range(2):
        lines = ["id,email,total,currency,updated_at"]
        for i in range(ROWS_PER_FILE):
            n = f * ROWS_PER_FILE + i
            lines.append(f"{n},user{n}@example.com,{n % 100}.5,EUR,2026-01-01T00:00:{n % 60:02d}")
        server.write(f"orders/part-{f}.csv", "\n".join(lines))
    proxy = FaultProxy(server.port)

    def connect(**extra) -> None:
        fields = {
            "conn_type": "sftp",
            "host": "127.0.0.1",
            "port": proxy.port,
            "login": USER,
            "password": PASSWORD,
            # uncompressed, so that the byte at which a fault strikes is a byte of the file
            "extra": {"host_key": server.host_key, "compress": "false", **extra},
        }
        monkeypatch.setenv("AIRFLOW_CONN_FAULT_SFTP", json.dumps(fields))

    yield proxy, connect
    proxy.close()


def _source(ws, name: str) -> None:
    write_source(ws, name, "connector:\n  type: sftp\n  conn_id: fault_sftp\n  path: orders/*.csv\n")


def _check_failed_then_retry(ws, dag, name: str, first) -> None:
    failure = first.failures.get("select")
    assert failure is not None, first.manifest("select")
    assert isinstance(failure, SourceInterrupted) and classify(failure) == TRANSIENT, repr(failure)
    assert re.match(r"SFTP read of orders/part-0\.csv failed at byte [0-9,]+ of 2,253,814: ", str(failure))
    assert lake_ids(name) == [] and state.get_state(ws.engine(), name) is None

    retry_from(dag, first, "select")
    assert first.failures == {}, first.failures
    ids = lake_ids(name)
    assert len(ids) == 2 * ROWS_PER_FILE and len(set(ids)) == len(ids)


def test_connection_dropped_mid_file(ws, sftp):
    proxy, connect = sftp
    connect()
    _source(ws, "fault_sftp_drop")
    dag = ws.dag("fault_sftp_drop")
    proxy.drop_after(1_000_000)  # mid part-0 (2.2 MB); connect's listing is a few kB
    first = run_within(dag, "manual__drop", 120).run
    _check_failed_then_retry(ws, dag, "fault_sftp_drop", first)


def test_connection_stalled_mid_file_is_stopped_after_read_timeout(ws, sftp):
    proxy, connect = sftp
    connect(read_timeout=3)
    _source(ws, "fault_sftp_stall")
    dag = ws.dag("fault_sftp_stall")
    proxy.freeze_after(1_000_000)
    first = run_within(dag, "manual__stall", 120).run
    detected = time.monotonic() - proxy.frozen_at
    print(f"\nSFTP stall → select failed in {detected:.1f} s (read_timeout 3 s)")
    assert detected < 3 + 10
    proxy.thaw()
    _check_failed_then_retry(ws, dag, "fault_sftp_stall", first)
