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


def airflow_home() -> str:
    """The Airflow home of a `headwater` command.

    `make run` uses HEADWATER_AIRFLOW_HOME, else <project>/.airflow (scripts/airflow-env.sh), and
    so does the CLI; an AIRFLOW_HOME set without HEADWATER_AIRFLOW_HOME (a container, a shell
    that sourced airflow-env.sh) is used as it is.
    """
    from headwater.settings import PROJECT_ROOT

    value = os.environ.get("HEADWATER_AIRFLOW_HOME")
    if value:
        return os.path.abspath(os.path.expanduser(value))
    return os.environ.get("AIRFLOW_HOME") or str(PROJECT_ROOT / ".airflow")


@contextmanager
def cli_environment() -> Iterator[None]:
    """Environment of a `headwater` command: Airflow's connections as a task sees them.

    A task gets its connections from the api-server, which looks in `AIRFLOW_CONN_*` variables,
    the configured secrets backends, then the metadata database. A process outside a task (no
    supervisor) gets only the first two from `airflow.sdk` unless it declares itself a server
    process; Airflow's own `airflow connections get` / `test` set `_AIRFLOW_PROCESS_CONTEXT=server`
    for this (airflow/cli/commands/connection_command.py), and so does this.

    AIRFLOW_HOME is the one `make run` uses (`airflow_home()`), so the metadata database and the
    Fernet key that decrypts its passwords are that Airflow's.
    Both must be in place before Airflow is first imported; the previous values come back after.
    """
    saved = {name: os.environ.get(name) for name in ("AIRFLOW_HOME", "_AIRFLOW_PROCESS_CONTEXT")}
    os.environ["AIRFLOW_HOME"] = airflow_home()
    os.environ["_AIRFLOW_PROCESS_CONTEXT"] = "server"
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
