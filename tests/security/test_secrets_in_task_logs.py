"""A planted connection password never reaches the task logs of a real Airflow run.

`airflow dags test` runs the DAG through Airflow's own task runner, with its secrets masker. The
PostgreSQL connection is broken so that libpq quotes the whole connection URI, password
URL-encoded, in its error (a form Airflow's masker is not told about by itself); the webhook alert
connection holds a second secret in its extra. Checked: everything the run printed, every log file
under the Airflow home, the XComs in the metadata database and the run record in the store.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess

import pytest

from tests.dagrun.conftest import AIRFLOW, REPO
from tests.services import require_service

pytestmark = [pytest.mark.dagrun, pytest.mark.integration]


def test_broken_connection_leaks_no_secret_into_task_logs(project, planted, webhook) -> None:
    from headwater.store import db, runs

    require_service("PostgreSQL", "127.0.0.1", 5432)
    port, received = webhook
    source = project.sources / "example_postgres_customers.yaml"
    shutil.copy(REPO / "include" / "sources" / "example_postgres_customers.yaml", source)
    source.write_text(source.read_text().replace(
        "monitor:\n",
        "monitor:\n  alerts:\n    - {type: webhook, conn_id: ops_webhook, endpoint: /hook, events: [failure]}\n", 1,
    ))
    project.env["AIRFLOW_CONN_CRM_POSTGRES"] = json.dumps(
        {"conn_type": "postgres", "host": "[::1", "port": 5432, "login": "postgres",
         "password": planted["password"], "schema": "test"})
    project.env["AIRFLOW_CONN_OPS_WEBHOOK"] = json.dumps(
        {"conn_type": "http", "host": "127.0.0.1", "port": port, "schema": "http",
         "password": planted["webhook"], "extra": {"X-Api-Key": planted["extra"]}})

    # run as tests/dagrun does, keeping the whole output (its helper keeps only the tail)
    proc = subprocess.run([AIRFLOW, "dags", "test", "example_postgres_customers", "2026-03-02"],
                          env=project.env, capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    assert "cannot connect to PostgreSQL" in output, output[-3000:]
    assert len(received) == 1, output[-3000:]

    logs = {
        str(path.relative_to(project.airflow_home)): path.read_text(errors="replace")
        for path in (project.airflow_home / "logs").rglob("*")
        if path.is_file() and "example_postgres_customers" in str(path)
    }
    with sqlite3.connect(project.airflow_home / "airflow.db") as meta:
        xcoms = meta.execute("SELECT task_id, key, value FROM xcom WHERE dag_id = 'example_postgres_customers'").fetchall()
    shown = {
        "airflow dags test output": output,
        **{f"log file {name}": text for name, text in logs.items()},
        "xcoms": repr(xcoms),
        "run record": repr(runs.runs_for(db.get_engine(), "example_postgres_customers")),
        "alert": "\n".join(received),
    }
    leaks = {where: planted.found_in(text) for where, text in shown.items() if planted.found_in(text)}
    assert leaks == {}, f"planted secrets found: {leaks}\n" + "\n".join(
        f"--- {k}\n{_around(v, planted)}" for k, v in shown.items() if k in leaks)


def _around(text: str, planted) -> str:
    """The lines around the first planted secret in `text`."""
    at = min((i for core in planted.cores.values() if (i := text.find(core)) >= 0), default=0)
    return text[max(0, at - 1500) : at + 500]
