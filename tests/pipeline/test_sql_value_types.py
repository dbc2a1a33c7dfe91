"""PostgreSQL types that used to reject the whole run (uuid, inet, bytea, interval, arrays, enums,
json, geometric types, money, infinity) go through every stage: exact values land in the lake,
rows whose value has no exact form land in the quarantine with their key and record."""

from __future__ import annotations

import json

import pytest

from headwater.lake.delta import read_table
from tests.services import require_service, unique

from .harness import run_pipeline

SCHEMA = """name: hw_pg_types
kind: profile
description: every column as text, to see each value as it was read
fields:
{fields}
"""

SOURCE = """description: PostgreSQL types end to end
connector:
  type: postgres
  conn_id: hw_types_pg
  table: public.{table}
  primary_key: [id]
mapping:
  target: hw_pg_types
  fields:
{mapping}
  identities:
    - {{field: id, namespace: customer_id}}
  record_key: id
validate:
  max_error_ratio: 1.0
schedule:
  cron: "15 * * * *"
  paused: true
load:
  table: {table}
  mode: merge
"""

COLUMNS = {  # column: (SQL type, value of row 1, the text it lands as)
    "u": ("uuid", "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    "ip": ("inet", "'10.0.0.1'", "10.0.0.1"),
    "net": ("cidr", "'10.0.0.0/8'", "10.0.0.0/8"),
    "mac": ("macaddr", "'08:00:2b:01:02:03'", "08:00:2b:01:02:03"),
    "bin": ("bytea", "'hello'::bytea", "hello"),
    "iv": ("interval", "'1 year 2 months 3 days 04:05:06.5'", "P1Y2M3DT4H5M6.5S"),
    "arr": ("integer[]", "'{1,2,NULL}'", "[1, 2, null]"),
    "mood": ("hw_mood", "'ok'", "ok"),
    "doc": ("jsonb", "'{\"a\": 1}'", '{"a": 1}'),
    "pt": ("point", "'(1,2)'", "(1,2)"),
    "amount": ("money", "12.34", "12.34"),
    "bits": ("bit varying", "B'101'", "101"),
}


@pytest.mark.integration
def test_postgres_types_load_exactly_or_quarantine(workspace, monkeypatch) -> None:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    import psycopg2

    monkeypatch.setenv(
        "AIRFLOW_CONN_HW_TYPES_PG",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": "127.0.0.1",
                "port": 5432,
                "login": "postgres",
                "schema": "test",
            }
        ),
    )
    table = unique("hw_types")
    conn = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="test")
    conn.autocommit = True
    cur = conn.cursor()
    try:
        cur.execute(
            "DO $$ BEGIN CREATE TYPE hw_mood AS ENUM ('sad', 'ok'); EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        )
        columns = ", ".join(f"{name} {sql_type}" for name, (sql_type, _, _) in COLUMNS.items())
        cur.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY, {columns}, due date, raw bytea)")
        values = ", ".join(value for _, value, _ in COLUMNS.values())
        cur.execute(f"INSERT INTO {table} VALUES (1, {values}, '2024-02-29', NULL)")
        cur.execute(f"INSERT INTO {table} (id, due) VALUES (2, 'infinity')")  # no exact form: quarantined
        cur.execute(f"INSERT INTO {table} (id, raw) VALUES (3, '\\xff00')")  # bytes, not text: CAST_FAILED
        names = ["id", *COLUMNS, "due", "raw"]
        fields = "\n".join(f"  - {{name: {n}, type: {'date' if n == 'due' else 'string'}}}" for n in names)
        (workspace.include / "schemas" / "hw_pg_types.yaml").write_text(SCHEMA.format(fields=fields))
        mapping = "\n".join(f"    - {{to: {n}, from: {n}}}" for n in names)
        (workspace.sources / "hw_pg_types.yaml").write_text(SOURCE.format(table=table, mapping=mapping))

        run = run_pipeline(workspace.dag("hw_pg_types"), "manual__types")
        assert run.failures == {}
        assert run.manifest("monitor")["status"] == "success"
        [row] = read_table(table).to_pylist()
        assert {n: row[n] for n in COLUMNS} == {n: text for n, (_, _, text) in COLUMNS.items()}
        assert str(row["due"]) == "2024-02-29" and row["id"] == "1"
        quarantine = {(q["error_code"], q["location"]) for q in read_table("_quarantine").to_pylist()}
        where = f"table 'public.{table}'"
        assert ("VALUE_OUT_OF_RANGE", f"{where}, id=2") in quarantine  # rejected by select
        # rejected by map: located by its key, read back through select's location index
        assert ("CAST_FAILED", f"{where}, id=3") in quarantine
    finally:
        cur.execute(f"DROP TABLE IF EXISTS {table}")
        conn.close()
