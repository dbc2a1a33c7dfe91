"""A BigQuery source run whole through Airflow (`airflow dags test`), then again incrementally.

The same path the PostgreSQL source takes in tests/dagrun: the shipped DAG file builds the DAG from
a source YAML; connect -> select -> map -> validate -> load -> monitor run as Airflow tasks against
bqemulator, with the connection from an AIRFLOW_CONN_* variable.
"""

from __future__ import annotations

import pytest

from headwater.lake.delta import read_table
from headwater.store import db, profiles, runs
from tests.dagrun.conftest import airflow_home, project  # noqa: F401  (shared fixtures)

pytestmark = [pytest.mark.dagrun, pytest.mark.integration]


def _rows(ids, hour: int = 0) -> list[dict]:
    return [
        {
            "id": i,
            "email": "broken" if i % 50 == 0 else f"user{i}@example.com",
            "first_name": f"Name{i}",
            "country": "gb",
            "updated_at": f"2026-01-01T{hour:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
        }
        for i in ids
    ]


def test_bigquery_source_incremental_in_airflow(project, bq_emulator, bq_dataset) -> None:  # noqa: F811
    from google.cloud import bigquery as bq

    client = bq_emulator.client()
    ref = f"{client.project}.{bq_dataset}.customers"
    client.create_table(
        bq.Table(ref, schema=[bq.SchemaField("id", "INT64"), bq.SchemaField("email", "STRING"),
                              bq.SchemaField("first_name", "STRING"), bq.SchemaField("country", "STRING"),
                              bq.SchemaField("updated_at", "TIMESTAMP")])
    )
    assert bq_emulator.insert(ref, _rows(range(1, 301))) == []
    project.env["AIRFLOW_CONN_HW_DAGRUN_BQ"] = bq_emulator.connection()
    (project.sources / "crm_bq.yaml").write_text(SOURCE.format(dataset=bq_dataset))

    first = project.dags_test("crm_bq", "2026-03-01")
    assert first.state == "success", first.output
    engine = db.get_engine()
    [record] = runs.runs_for(engine, "crm_bq")
    assert (record.rows_read, record.rows_quarantined, record.rows_loaded) == (300, 6, 294)
    assert "BigQuery query job" in (record.error_summary or "") and "billed" in record.error_summary
    assert record.watermark_after == "updated_at = 2026-01-01T00:05:00+00:00 (1 row at that value)"
    assert read_table("crm_bq_customers").num_rows == 294
    assert profiles.count_profiles(engine) == 294

    # 2 rows moved forward, 1 new row at exactly the watermark, 10 new rows after it.
    client.query(
        f"UPDATE `{ref}` SET country = 'fr', updated_at = TIMESTAMP '2026-01-02 00:00:00+00' WHERE id IN (1, 2)"
    ).result(retry=bq_emulator.retry)
    late = _rows([301])[0] | {"email": "late@example.com", "updated_at": "2026-01-01T00:05:00Z"}
    assert bq_emulator.insert(ref, [late, *_rows(range(302, 312), hour=1)]) == []
    second = project.dags_test("crm_bq", "2026-03-02")
    assert second.state == "success", second.output
    latest = runs.runs_for(engine, "crm_bq")[0]
    assert latest.rows_read == 13, latest.error_summary
    lake = {r["customer_id"]: r for r in read_table("crm_bq_customers").to_pylist()}
    assert len(lake) == 294 + 11
    assert lake["301"]["email"] == "late@example.com" and lake["1"]["country"] == "FR"


SOURCE = """
connector:
  type: bigquery
  conn_id: hw_dagrun_bq
  table: {dataset}.customers
  columns: [id, email, first_name, country, updated_at]
  primary_key: [id]
  cursor: {{column: updated_at}}
  read_api: rest   # bqemulator's Storage Read API cannot open a query job's result table
  chunk_size: 70
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
  table: crm_bq_customers
  mode: merge
monitor:
  retries: 0
"""
