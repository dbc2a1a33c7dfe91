"""In Airflow itself: a permanent error (a missing table) fails the task at once, with no retries
spent, while the run record already names the error."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import datetime

import pytest

from headwater.store import db, runs
from tests.services import require_service

pytestmark = [pytest.mark.dagrun, pytest.mark.integration]

PG = {"conn_type": "postgres", "host": "127.0.0.1", "port": 5432, "login": "postgres", "schema": "test"}


def test_missing_table_fails_at_once_without_retries(project) -> None:
    require_service("PostgreSQL", PG["host"], PG["port"])
    project.env["AIRFLOW_CONN_HW_FAILFAST_PG"] = json.dumps(PG)
    (project.sources / "failfast_pg.yaml").write_text(
        """
connector: {type: postgres, conn_id: hw_failfast_pg, table: public.hw_no_such_table}
mapping:
  target: event
  fields:
    - {to: event_id, from: id}
    - {to: event_type, value: order}
    - {to: occurred_at, from: updated_at}
monitor:
  retries: 2
  retry_delay: 20s
"""
    )
    started = time.monotonic()
    result = project.dags_test("failfast_pg", "2026-03-01")
    elapsed = time.monotonic() - started
    print(f"\nmissing table → run failed after {elapsed:.1f} s of `airflow dags test` (retries 2 × 20s)")
    assert result.state == "failed", result.output
    with sqlite3.connect(project.airflow_home / "airflow.db") as conn:
        state, tries, ended = conn.execute(
            "SELECT state, try_number, end_date FROM task_instance WHERE dag_id = 'failfast_pg' "
            "AND task_id = 'connect' ORDER BY start_date DESC LIMIT 1"
        ).fetchone()
        # earlier tries of the task (when it was retried) are kept in task_instance_history
        [first_start] = conn.execute(
            "SELECT min(start_date) FROM (SELECT start_date FROM task_instance WHERE dag_id = 'failfast_pg' "
            "AND task_id = 'connect' UNION ALL SELECT start_date FROM task_instance_history "
            "WHERE dag_id = 'failfast_pg' AND task_id = 'connect')"
        ).fetchone()
    span = datetime.fromisoformat(ended) - datetime.fromisoformat(first_start)
    print(f"connect: {state} after try {tries}; {span.total_seconds():.1f} s from its first start to failed")
    assert (state, tries) == ("failed", 1)  # not up_for_retry: no retry was spent
    [record] = runs.runs_for(db.get_engine(), "failfast_pg")
    assert record.status == "failed"
    assert record.error_summary.startswith(
        "connect: table 'public.hw_no_such_table' not found in database 'test' (connection 'hw_failfast_pg')"
    )
