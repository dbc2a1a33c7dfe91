"""Whole DAG runs in Airflow: a file source and an incremental PostgreSQL source."""

from __future__ import annotations

import json
import shutil

import pytest

from headwater.lake.delta import read_table
from headwater.store import db, profiles, runs
from tests.dagrun.conftest import REPO
from tests.services import require_service, unique

pytestmark = pytest.mark.dagrun

PG = {"conn_type": "postgres", "host": "127.0.0.1", "port": 5432, "login": "postgres", "schema": "test"}


def test_file_source_runs_in_airflow(project) -> None:
    shutil.copy(REPO / "include" / "sources" / "demo_crm_contacts.yaml", project.sources)
    result = project.dags_test("demo_crm_contacts", "2026-03-01")
    assert result.state == "success", result.output

    assert read_table("crm_contacts").num_rows == 58
    quarantine = read_table("_quarantine").to_pylist()
    assert sorted(q["error_code"] for q in quarantine) == [
        "CAST_FAILED",
        "MALFORMED_ROW",
        "expect_column_values_to_match_regex",
    ]
    engine = db.get_engine()
    assert profiles.count_profiles(engine) == 58
    [record] = runs.runs_for(engine, "demo_crm_contacts")
    assert (record.status, record.rows_read, record.rows_quarantined, record.rows_loaded) == ("success", 61, 3, 58)


@pytest.mark.integration
def test_postgres_source_incremental_in_airflow(project) -> None:
    import psycopg2

    require_service("PostgreSQL", PG["host"], PG["port"])
    table = unique("hw_dagrun_customers")
    conn = psycopg2.connect(host=PG["host"], port=PG["port"], user="postgres", dbname="test")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(
                f"CREATE TABLE {table} (id int PRIMARY KEY, email text, first_name text, country text, "
                "updated_at timestamp NOT NULL)"
            )
            cur.execute(
                f"INSERT INTO {table} SELECT g, CASE WHEN g % 100 = 0 THEN 'broken' ELSE 'user' || g || '@example.com' END,"
                " 'Name' || g, 'gb', timestamp '2026-01-01' + g * interval '1 minute' FROM generate_series(1, 1000) g"
            )
        project.env["AIRFLOW_CONN_HW_DAGRUN_PG"] = json.dumps(PG)
        (project.sources / "crm_pg.yaml").write_text(_pg_source(table))

        first = project.dags_test("crm_pg", "2026-03-01")
        assert first.state == "success", first.output
        engine = db.get_engine()
        [record] = runs.runs_for(engine, "crm_pg")
        assert (record.rows_read, record.rows_quarantined, record.rows_loaded) == (1000, 10, 990)
        assert read_table("crm_pg_customers").num_rows == 990
        assert profiles.count_profiles(engine) == 990
        assert {q["error_code"] for q in read_table("_quarantine").to_pylist()} == {"expect_column_values_to_match_regex"}

        with conn.cursor() as cur:  # 4 updates, 1 new row at exactly the watermark, 20 new rows
            cur.execute(f"UPDATE {table} SET country = 'fr', updated_at = updated_at + interval '1 day' WHERE id BETWEEN 1 AND 4")
            cur.execute(
                f"INSERT INTO {table} SELECT 1021, 'late@example.com', 'Late', 'de', max(updated_at) FROM {table}"
            )
            cur.execute(
                f"INSERT INTO {table} SELECT g, 'user' || g || '@example.com', 'Name' || g, 'gb', "
                "timestamp '2026-02-01' + g * interval '1 second' FROM generate_series(1001, 1020) g"
            )
        second = project.dags_test("crm_pg", "2026-03-02")
        assert second.state == "success", second.output
        latest = runs.runs_for(engine, "crm_pg")[0]
        assert latest.rows_read == 25  # 4 moved forward, 1 at exactly the old watermark, 20 new
        assert latest.duration_s < 600
        lake = {r["customer_id"]: r for r in read_table("crm_pg_customers").to_pylist()}
        assert len(lake) == 1011
        assert lake["1021"]["country"] == "DE" and lake["1"]["country"] == "FR"
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
        conn.close()


def _pg_source(table: str) -> str:
    return f"""
connector:
  type: postgres
  conn_id: hw_dagrun_pg
  table: public.{table}
  columns: [id, email, first_name, country, updated_at]
  primary_key: [id]
  cursor: {{column: updated_at}}
  chunk_size: 300
mapping:
  target: customer_profile
  fields:
    - {{to: customer_id, from: id}}
    - {{to: email, from: email}}
    - {{to: first_name, from: first_name}}
    - {{to: country, from: country, transform: [upper]}}
    - {{to: updated_at, from: updated_at}}
  identities:
    - {{field: customer_id, namespace: customer_id}}
    - {{field: email, namespace: email}}
validate:
  max_error_ratio: 0.05
  expectations:
    - {{type: expect_column_values_to_match_regex, column: email, regex: "^[^@]+@[^@]+$"}}
load:
  table: crm_pg_customers
  mode: merge
monitor:
  retries: 0
"""


@pytest.mark.integration
def test_redshift_source_incremental_in_airflow(project) -> None:
    """A `redshift` source through Airflow: read over the PostgreSQL wire protocol from the real
    local PostgreSQL through a `redshift` connection (no Redshift runs here)."""
    import psycopg2

    require_service("PostgreSQL", PG["host"], PG["port"])
    table = unique("hw_dagrun_rs_customers")
    conn = psycopg2.connect(host=PG["host"], port=PG["port"], user="postgres", dbname="test")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(
                f"CREATE TABLE {table} (id int PRIMARY KEY, email text, first_name text, country text, "
                "updated_at timestamp NOT NULL)"
            )
            cur.execute(
                f"INSERT INTO {table} SELECT g, 'user' || g || '@example.com', 'Name' || g, 'gb', "
                "timestamp '2026-01-01' + g * interval '1 minute' FROM generate_series(1, 200) g"
            )
        project.env["AIRFLOW_CONN_HW_DAGRUN_RS"] = json.dumps(
            {**PG, "conn_type": "redshift", "extra": {"sslmode": "disable"}}
        )
        source = _pg_source(table).replace("type: postgres", "type: redshift").replace("hw_dagrun_pg", "hw_dagrun_rs")
        (project.sources / "crm_rs.yaml").write_text(source.replace("crm_pg_customers", "crm_rs_customers"))

        first = project.dags_test("crm_rs", "2026-03-01")
        assert first.state == "success", first.output
        engine = db.get_engine()
        [record] = runs.runs_for(engine, "crm_rs")
        assert (record.rows_read, record.rows_loaded) == (200, 200)
        assert read_table("crm_rs_customers").num_rows == 200

        with conn.cursor() as cur:  # 2 updates, 1 new row at exactly the watermark, 5 new rows
            cur.execute(f"UPDATE {table} SET country = 'fr', updated_at = updated_at + interval '1 day' WHERE id IN (1, 2)")
            cur.execute(f"INSERT INTO {table} SELECT 300, 'late@example.com', 'Late', 'de', max(updated_at) FROM {table}")
            cur.execute(
                f"INSERT INTO {table} SELECT g, 'user' || g || '@example.com', 'Name' || g, 'gb', "
                "timestamp '2026-02-01' + g * interval '1 second' FROM generate_series(201, 205) g"
            )
        second = project.dags_test("crm_rs", "2026-03-02")
        assert second.state == "success", second.output
        latest = runs.runs_for(engine, "crm_rs")[0]
        assert latest.rows_read == 8  # 2 moved forward, 1 at exactly the old watermark, 5 new
        lake = {r["customer_id"]: r for r in read_table("crm_rs_customers").to_pylist()}
        assert len(lake) == 206
        assert lake["300"]["country"] == "DE" and lake["1"]["country"] == "FR"
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
        conn.close()


@pytest.mark.integration
def test_mssql_source_incremental_in_airflow(project, tmp_path) -> None:
    """An `mssql` source through Airflow: a full run, then an incremental run reading only new rows.

    No SQL Server can run here: the reads go over TDS through pymssql to `pysqlbridge`, a partial,
    read-only TDS stand-in over a CSV table (tests/pysqlbridge_server.py), started on a free loopback
    port. It reads its CSV files only at start, so the new rows are appended to the CSV and the
    bridge is restarted on the same port between the runs. Its CSV columns are untyped text or
    numbers, so the cursor here is the integer `id` (a real server would use rowversion or datetime2).
    """
    from tests.pysqlbridge_server import connection, running_bridge

    data = tmp_path / "bridge"
    data.mkdir()
    csv = data / "customers.csv"
    rows = ["id,email,first_name,country"]
    rows += [f"{i},{'broken' if i % 50 == 0 else f'user{i}@example.com'},Name{i},gb" for i in range(1, 201)]
    csv.write_text("\n".join(rows) + "\n")
    source = _pg_source("customers").replace("type: postgres", "type: mssql").replace("hw_dagrun_pg", "hw_dagrun_ms")
    source = source.replace("table: public.customers", "table: dbo.customers")
    source = source.replace("columns: [id, email, first_name, country, updated_at]", "columns: [id, email, first_name, country]")
    source = source.replace("cursor: {column: updated_at}", "cursor: {column: id}")
    source = source.replace("    - {to: updated_at, from: updated_at}\n", "")
    (project.sources / "crm_ms.yaml").write_text(source.replace("crm_pg_customers", "crm_ms_customers"))

    with running_bridge(data, {"customers": "customers.csv"}) as port:
        project.env["AIRFLOW_CONN_HW_DAGRUN_MS"] = json.dumps(connection(port))
        first = project.dags_test("crm_ms", "2026-03-01")
    assert first.state == "success", first.output
    engine = db.get_engine()
    [record] = runs.runs_for(engine, "crm_ms")
    assert (record.rows_read, record.rows_quarantined, record.rows_loaded) == (200, 4, 196)
    assert read_table("crm_ms_customers").num_rows == 196

    with csv.open("a") as f:  # 7 new rows after the watermark (id 200)
        f.writelines(f"{i},user{i}@example.com,Name{i},{'de' if i == 207 else 'gb'}\n" for i in range(201, 208))
    with running_bridge(data, {"customers": "customers.csv"}, port=port):  # it reads CSV only at start
        second = project.dags_test("crm_ms", "2026-03-02")
    assert second.state == "success", second.output
    latest = runs.runs_for(engine, "crm_ms")[0]
    assert (latest.rows_read, latest.rows_quarantined, latest.rows_loaded) == (7, 0, 7)
    lake = {r["customer_id"]: r for r in read_table("crm_ms_customers").to_pylist()}
    assert len(lake) == 203
    assert lake["207"]["country"] == "DE" and lake["1"]["country"] == "GB"
