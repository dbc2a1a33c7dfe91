"""The lake on Azure Blob (Azurite): one whole source run writes staging, the lake table and the quarantine.

The same Airflow `wasb` connection that Azure sources use (a connection string naming Azurite's
endpoint) serves both lake clients: pyarrow's AzureFileSystem for staging, delta-rs for tables.
"""

from __future__ import annotations

import pytest

from headwater.lake.delta import read_table
from tests.pipeline.harness import run_pipeline

from .conftest import AZURITE_ACCOUNT, AZURITE_KEY, azurite_connection_string, set_connection
from .stores import azure_store

pytestmark = pytest.mark.integration


@pytest.fixture
def lake_on_azure(workspace, azurite, monkeypatch, bucket_name):
    store = azure_store(azurite, monkeypatch, bucket_name)
    set_connection(monkeypatch, "hw_lake", conn_type="wasb", extra={"connection_string": azurite_connection_string(azurite.port)})
    monkeypatch.setenv("HEADWATER_LAKE_URI", f"abfs://{bucket_name}@{AZURITE_ACCOUNT}.dfs.core.windows.net/lake")
    monkeypatch.setenv("HEADWATER_LAKE_CONN_ID", "hw_lake")
    return store


def test_source_run_writes_lake_and_quarantine_to_azure(workspace, lake_on_azure, azurite):
    store = lake_on_azure
    lake = f"abfs://{store.bucket}@{AZURITE_ACCOUNT}.dfs.core.windows.net/lake"
    run = run_pipeline(workspace.dag("demo_crm_contacts"), "manual__azure_lake")
    assert run.failures == {}, run.failures
    outcome = run.manifest("monitor")
    assert (outcome["status"], outcome["rows_loaded"], outcome["rows_quarantined"]) == ("success", 58, 3)
    assert run.manifest("load")["lake_table"] == f"{lake}/crm_contacts"
    assert all(p.startswith(f"{lake}/_staging/") for p in run.manifest("select")["parts"])

    assert read_table("crm_contacts").num_rows == 58
    codes = sorted(q["error_code"] for q in read_table("_quarantine").to_pylist())
    assert codes == ["CAST_FAILED", "MALFORMED_ROW", "expect_column_values_to_match_regex"]

    container = store.client.get_container_client(store.bucket)
    names = [b.name for b in container.list_blobs(name_starts_with="lake/")]
    assert any(n.startswith("lake/crm_contacts/_delta_log/") for n in names)
    assert any(n.startswith("lake/_quarantine/_delta_log/") for n in names)
    # staging is removed after a successful run
    assert not any(n.startswith("lake/_staging/") and n.endswith(".parquet") for n in names), names

    # read straight from Azurite with deltalake, as any other consumer of the lake would
    from deltalake import DeltaTable

    options = {
        "AZURE_STORAGE_ACCOUNT_NAME": AZURITE_ACCOUNT, "AZURE_STORAGE_ACCOUNT_KEY": AZURITE_KEY,
        "AZURE_STORAGE_ENDPOINT": f"{azurite.url}/{AZURITE_ACCOUNT}", "allow_http": "true",
    }
    assert DeltaTable(f"{lake}/crm_contacts", storage_options=options).to_pyarrow_table().num_rows == 58
