"""A planted connection password never reaches run records, error XComs, alerts, the quarantine,
`headwater status` or the Sources page, whatever failure a driver reports.

Runs sources through the pipeline harness (every stage operator in-process against the real
databases, lake and store; tests/pipeline/harness.py). Task logs are checked in a real Airflow run
(test_secrets_in_task_logs.py). Each case plants unique random secrets: the connection password,
a secret in the webhook connection's extra (sent as a header, never in a body), and the webhook's
own password.
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from tests.pipeline.harness import run_pipeline
from tests.services import free_port, require_service, unique

from .conftest import conn_env

PG = ("PostgreSQL", "127.0.0.1", 5432)
MY = ("MariaDB", "127.0.0.1", 3306)


def _alert_on_failure(workspace, name: str, port: int, planted, monkeypatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_OPS_WEBHOOK",
        conn_env({"conn_type": "http", "host": "127.0.0.1", "port": port, "schema": "http", "login": "ops",
                  "password": planted["webhook"], "extra": {"X-Api-Key": planted["extra"]}}),
    )
    path = workspace.sources / f"{name}.yaml"
    text = path.read_text().replace(
        "monitor:\n",
        "monitor:\n  alerts:\n    - {type: webhook, conn_id: ops_webhook, endpoint: /hook, "
        "events: [failure, threshold_exceeded, success]}\n",
        1,
    )
    path.write_text(text)


def _everything_shown(workspace, run, received, capsys, monkeypatch) -> dict[str, str]:
    """Every place a secret must not reach, as text."""
    from airflow.api_fastapi.app import create_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.security import get_user

    from headwater import cli
    from headwater.lake import delta
    from headwater.lake.quarantine import QUARANTINE_TABLE
    from headwater.store import runs
    from headwater.ui.app import app

    shown = {
        "run records": repr(runs.latest_runs(workspace.engine())),
        "xcoms (error and manifests)": json.dumps({f"{t}/{k}": v for (t, k), v in run.xcoms.items()}, default=str),
        "alerts": "\n".join(received),
    }
    try:
        shown["quarantine"] = json.dumps(delta.read_table(QUARANTINE_TABLE).to_pylist(), default=str)
    except Exception as exc:  # no quarantine table yet: nothing was rejected
        shown["quarantine"] = f"(none: {exc})"
    capsys.readouterr()
    assert cli.main(["status"]) == 0
    shown["headwater status"] = capsys.readouterr().out
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True")
    create_auth_manager()
    app.dependency_overrides[get_user] = lambda: SimpleAuthManagerUser(username="admin", role="admin")
    try:
        http = TestClient(app)
        shown["Sources page JSON"] = http.get("/api/sources").text
        shown["Sources page HTML"] = http.get("/sources").text
    finally:
        app.dependency_overrides.clear()
    return shown


def _assert_no_secret(planted, shown: dict[str, str]) -> None:
    leaks = {where: planted.found_in(text) for where, text in shown.items() if planted.found_in(text)}
    assert leaks == {}, f"planted secrets found: {leaks}\n" + "\n".join(f"--- {k}\n{v[:1500]}" for k, v in shown.items() if k in leaks)


def _pg(planted, **over) -> dict:
    return {"conn_type": "postgres", "host": "127.0.0.1", "port": 5432, "login": "postgres",
            "password": planted["password"], "schema": "test", **over}


def _my(planted, **over) -> dict:
    return {"conn_type": "mysql", "host": "127.0.0.1", "port": 3306, "login": "root",
            "password": planted["password"], "schema": "test", **over}


# (source file, connection id, service, connection fields, what the message says)
FAILURES = {
    # libpq quotes the whole URI, password included, when it cannot parse it
    "pg_malformed_host_dsn_in_exception": ("example_postgres_customers", "crm_postgres", PG,
                                           lambda p: _pg(p, host="[::1"), "cannot connect to PostgreSQL"),
    "pg_unknown_role": ("example_postgres_customers", "crm_postgres", PG,
                        lambda p: _pg(p, login="hw_no_such_role"), "authentication failed for user 'hw_no_such_role'"),
    "pg_connection_refused": ("example_postgres_customers", "crm_postgres", PG,
                              lambda p: _pg(p, port=free_port()), "connection refused"),
    "pg_bad_option_in_extra": ("example_postgres_customers", "crm_postgres", PG,
                               lambda p: _pg(p, extra={"sslmode": "bogus"}), "invalid sslmode value"),
    "mysql_wrong_password": ("example_mysql_orders", "shop_mysql", MY, lambda p: _my(p),
                             "authentication failed for user 'root'"),
    "mysql_connection_refused": ("example_mysql_orders", "shop_mysql", MY,
                                 lambda p: _my(p, port=free_port()), "connection refused"),
}


@pytest.mark.integration
@pytest.mark.parametrize("case", list(FAILURES))
def test_failed_connect_leaks_no_secret(case, workspace, planted, webhook, capsys, monkeypatch) -> None:
    source, conn_id, service, fields, expected = FAILURES[case]
    require_service(*service)
    port, received = webhook
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", conn_env(fields(planted)))
    _alert_on_failure(workspace, source, port, planted, monkeypatch)
    run = run_pipeline(workspace.dag(source), f"manual__{case}")
    assert "connect" in run.failures
    [record] = __import__("headwater.store.runs", fromlist=["runs"]).runs_for(workspace.engine(), source)
    assert record.status == "failed" and expected in record.error_summary, record.error_summary
    assert len(received) == 1  # the failure alert was sent (and is checked below)
    _assert_no_secret(planted, _everything_shown(workspace, run, received, capsys, monkeypatch))


@pytest.mark.integration
def test_successful_run_with_quarantined_rows_leaks_no_secret(workspace, planted, webhook, capsys, monkeypatch) -> None:
    """PostgreSQL here trusts local connections, so the planted password is sent and ignored."""
    import psycopg

    require_service(*PG)
    schema = unique("hw_sec")
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True) as db:
        db.execute(f"CREATE SCHEMA {schema}")
        db.execute(f"CREATE TABLE {schema}.customers (id int primary key, email text, first_name text, "
                   "last_name text, country text, updated_at timestamp)")
        # 40 good rows and one without an email (quarantined, under the 5% threshold)
        db.execute(f"INSERT INTO {schema}.customers SELECT i, 'c' || i || '@x.org', 'A', 'B', 'de', "
                   "timestamp '2026-01-01' + i * interval '1 minute' FROM generate_series(1, 40) i")
        db.execute(f"INSERT INTO {schema}.customers VALUES (41, NULL, 'C', 'D', 'fr', '2026-01-02')")
    try:
        monkeypatch.setenv("AIRFLOW_CONN_CRM_POSTGRES", conn_env(_pg(planted, extra={"application_name": "hw"})))
        path = workspace.sources / "example_postgres_customers.yaml"
        path.write_text(path.read_text().replace("table: public.customers", f"table: {schema}.customers"))
        port, received = webhook
        _alert_on_failure(workspace, "example_postgres_customers", port, planted, monkeypatch)
        run = run_pipeline(workspace.dag("example_postgres_customers"), "manual__quarantine")
        assert run.failures == {}, run.failures
        assert run.manifest("validate")["rows_quarantined"] == 1
        shown = _everything_shown(workspace, run, received, capsys, monkeypatch)
        assert "example_postgres_customers" in shown["quarantine"]
        _assert_no_secret(planted, shown)
    finally:
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True) as db:
            db.execute(f"DROP SCHEMA {schema} CASCADE")
