"""Start `pysqlbridge` (a read-only TDS server over CSV tables) on a free loopback port.

No SQL Server can run on these machines; pysqlbridge speaks enough TDS for pymssql to log in,
read the catalog and run the selects the `mssql` connector sends. It is a partial stand-in
(no `sys.dm_exec_describe_first_result_set`, no datetimeoffset or money in CSV columns).
Used by the connector tests and the `airflow dags test` run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.services import free_port, reachable

LOGIN = "reader"
PASSWORD = "s3cret"


@contextmanager
def running_bridge(folder: Path, tables: dict[str, str], port: int | None = None) -> Iterator[int]:
    """Serve `tables` ({name: csv file in folder}) until the block ends; yields the port.

    The password reaches the bridge through its environment (`${env:...}` in its config), so it
    is in no file. `port` lets a test restart the bridge where clients already point.
    """
    import pysqlbridge  # noqa: F401  (a dev requirement, requirements-dev.in: missing is a failure)

    config = folder / "bridge.json"
    config.write_text(
        json.dumps(
            {
                "logins": [{"user": LOGIN, "password": "${env:HW_BRIDGE_PW}"}],
                "tables": [{"name": name, "csv": csv} for name, csv in tables.items()],
            }
        )
    )
    port = port or free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pysqlbridge.server", "--config", str(config), "--port", str(port)],
        env={**os.environ, "HW_BRIDGE_PW": PASSWORD},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not reachable("127.0.0.1", port):
            assert proc.poll() is None and time.monotonic() < deadline, "pysqlbridge did not start"
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def connection(port: int, password: str = PASSWORD) -> dict:
    """The Airflow connection fields (as in AIRFLOW_CONN_*) for a running bridge."""
    return {"conn_type": "mssql", "host": "127.0.0.1", "port": port, "login": LOGIN, "password": password, "schema": "master"}
