"""How Headwater's processes outside Airflow's components see the same Airflow as `make run`.

Two jobs, both about the local (laptop) Airflow that `make run` starts:

- `SQLITE_CONNECT_ARGS`: Airflow's embedded SQLite metadata database fails a request with
  "database is locked" after SQLite's default 5 s wait when the scheduler, the api-server and
  several task processes write at once. `scripts/airflow-env.sh` points
  `[database] sql_alchemy_connect_args` here so writers wait longer instead of failing.
- `cli_environment()`: the `headwater` command resolves connections exactly as tasks do.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

SQLITE_CONNECT_ARGS = {"timeout": 60}


def default_airflow_home() -> str:
    """The AIRFLOW_HOME `make run` uses (scripts/airflow-env.sh): HEADWATER_AIRFLOW_HOME or <repo>/.airflow."""
    from headwater.settings import PROJECT_ROOT

    value = os.environ.get("HEADWATER_AIRFLOW_HOME")
    return os.path.abspath(os.path.expanduser(value)) if value else str(PROJECT_ROOT / ".airflow")


@contextmanager
def cli_environment() -> Iterator[None]:
    """Environment of a `headwater` command: Airflow's connections as a task sees them.

    A task gets its connections from the api-server, which looks in `AIRFLOW_CONN_*` variables,
    the configured secrets backends, then the metadata database. A process outside a task (no
    supervisor) gets only the first two from `airflow.sdk` unless it declares itself a server
    process; Airflow's own `airflow connections get` / `test` set `_AIRFLOW_PROCESS_CONTEXT=server`
    for this (airflow/cli/commands/connection_command.py), and so does this.

    AIRFLOW_HOME defaults to the one `make run` uses, so the metadata database and the Fernet key
    that decrypts its passwords are that Airflow's; a set AIRFLOW_HOME (docker compose) wins.
    Both must be in place before Airflow is first imported; the previous values come back after.
    """
    saved = {name: os.environ.get(name) for name in ("AIRFLOW_HOME", "_AIRFLOW_PROCESS_CONTEXT")}
    if not saved["AIRFLOW_HOME"]:
        os.environ["AIRFLOW_HOME"] = default_airflow_home()
    os.environ["_AIRFLOW_PROCESS_CONTEXT"] = "server"
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
