"""The lake on S3 (moto): one whole source run writes staging, the lake table and the quarantine to s3://."""

from __future__ import annotations

import pytest

from headwater.lake.delta import read_table
from tests.pipeline.harness import run_pipeline

from .conftest import set_connection
from .stores import s3_store

pytestmark = pytest.mark.integration


@pytest.fixture
def lake_on_s3(workspace, moto_server, monkeypatch, bucket_name):
    store = s3_store(moto_server, monkeypatch, bucket_name)
    # delta-rs without DynamoDB: one writer per table (see docs/connectors.md, "Lake on object storage")
    set_connection(
        monkeypatch, "hw_lake", conn_type="aws", login="testing", password="testing",
        extra={"endpoint_url": moto_server.url, "region_name": "us-east-1", "aws_s3_allow_unsafe_rename": True},
    )
    monkeypatch.setenv("HEADWATER_LAKE_URI", f"s3://{bucket_name}/lake")
    monkeypatch.setenv("HEADWATER_LAKE_CONN_ID", "hw_lake")
    return store


def test_source_run_writes_lake_and_quarantine_to_s3(workspace, lake_on_s3):
    store = lake_on_s3
    run = run_pipeline(workspace.dag("demo_crm_contacts"), "manual__s3_lake")
    assert run.failures == {}, run.failures
    outcome = run.manifest("monitor")
    assert (outcome["status"], outcome["rows_loaded"], outcome["rows_quarantined"]) == ("success", 58, 3)

    load = run.manifest("load")
    assert load["lake_table"] == f"s3://{store.bucket}/lake/crm_contacts"
    assert all(p.startswith(f"s3://{store.bucket}/lake/_staging/") for p in run.manifest("select")["parts"])

    assert read_table("crm_contacts").num_rows == 58
    quarantine = read_table("_quarantine").to_pylist()
    assert sorted(q["error_code"] for q in quarantine) == [
        "CAST_FAILED", "MALFORMED_ROW", "expect_column_values_to_match_regex",
    ]
    # rows map and validate rejected are located through select's index, staged on S3 as well
    assert run.manifest("select")["location_parts"][0].startswith(f"s3://{store.bucket}/lake/_staging/")
    csv = workspace.include / "demo" / "crm_contacts.csv"
    assert sorted((q["stage"], q["location"]) for q in quarantine) == [
        ("map", f"{csv}:line 13"), ("select", f"{csv}:line 62"), ("validate", f"{csv}:line 25"),
    ]
    keys = [o["Key"] for o in store.client.list_objects_v2(Bucket=store.bucket, Prefix="lake/")["Contents"]]
    assert any(k.startswith("lake/crm_contacts/_delta_log/") for k in keys)
    assert any(k.startswith("lake/_quarantine/_delta_log/") for k in keys)

    # the same data read straight from S3 with deltalake, as any other consumer of the lake would
    from deltalake import DeltaTable

    options = {
        "AWS_ENDPOINT_URL": store.client.meta.endpoint_url, "AWS_ALLOW_HTTP": "true", "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    }
    table = DeltaTable(f"s3://{store.bucket}/lake/crm_contacts", storage_options=options)
    assert table.to_pyarrow_table().num_rows == 58
