"""The shipped HTTP API examples (http_api, dynamics, salesforce_marketing_cloud) end to end through
every stage, against the protocol-level stand-ins of tests/connectors/http: a first run loads
everything, a second run loads only what changed, and the run record counts the API calls."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from headwater.lake.delta import read_table
from headwater.store import runs
from tests.connectors.http import customers_api, dataverse_api, marketing_cloud_api
from tests.connectors.http.standin import Reply, StandIn

from .harness import run_pipeline


@pytest.fixture
def api():
    with StandIn() as server:
        yield server


def connection(monkeypatch, conn_id: str, **fields) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "http", **fields}))


def two_runs(workspace, source: str, change) -> tuple[dict, dict]:
    """Outcomes of a first run, then (after `change()`) a second one."""
    dag = workspace.dag(source)
    first = run_pipeline(dag, "manual__1")
    assert first.failures == {}, first.failures
    change()
    second = run_pipeline(dag, "manual__2")
    assert second.failures == {}, second.failures
    return first.manifest("monitor"), second.manifest("monitor")


def test_http_api_example_loads_then_picks_up_only_changes(workspace, api, monkeypatch) -> None:
    connection(
        monkeypatch,
        "customers_api",
        host=api.url,
        login=customers_api.CLIENT_ID,
        password=customers_api.CLIENT_SECRET,
    )
    start = datetime(2024, 5, 1, tzinfo=UTC)
    rows = [
        customers_api.customer(i, (start + timedelta(hours=i)).isoformat().replace("+00:00", "Z"))
        for i in range(1, 251)
    ]
    stand_in = customers_api.CustomersApi(api, rows)
    stand_in.faults = {2: Reply(429, {"message": "rate limit"}, {"Retry-After": "1"})}

    def change() -> None:
        stand_in.rows[0] = {**customers_api.customer(1, "2024-06-01T00:00:00Z"), "email": "NEW1@example.com "}
        stand_in.rows.append(customers_api.customer(999, "2024-06-02T00:00:00Z"))

    first, second = two_runs(workspace, "example_http_api_customers", change)
    assert (first["status"], first["rows_read"], first["rows_loaded"]) == ("success", 250, 250)
    # connect: token + first page; select: token + 3 pages of 100 + one throttled request
    assert first["api_calls"] == 2 + 1 + 3 + 1
    assert (second["status"], second["rows_read"], second["rows_loaded"]) == ("success", 2, 2)
    assert second["watermark_after"] == "updated_at = 2024-06-02T00:00:00Z (1 record at that value)"
    lake = {r["customer_id"]: r for r in read_table("api_customers").to_pylist()}
    assert (
        len(lake) == 251 and lake["1"]["email"] == "new1@example.com" and lake["1"]["first_name"] == "First1"
    )
    [record] = [
        r for r in runs.runs_for(workspace.engine(), "example_http_api_customers") if r.run_id == "manual__2"
    ]
    assert (
        record.api_calls == second["api_calls"] == 2 + 2
    )  # a token and one short page, at connect and at select


def test_dynamics_example_loads_then_picks_up_only_changes(workspace, api, monkeypatch) -> None:
    extra = {"tenant_id": dataverse_api.TENANT, "authority": api.url}
    connection(
        monkeypatch,
        "dynamics_crm",
        host=api.url,
        login=dataverse_api.APP_ID,
        password=dataverse_api.APP_SECRET,
        extra=extra,
    )
    contacts = []
    for i in range(1, 8):
        row = dataverse_api.contact(i, f"2024-05-0{i}T10:00:00Z")
        row.update(firstname=f"F{i}", lastname=f"L{i}", telephone1=None, address1_country="DE")
        contacts.append(row)
    stand_in = dataverse_api.DataverseApi(api, contacts)
    stand_in.throttle = {2}  # select's first page in the first run: 429 with Retry-After

    def change() -> None:
        stand_in.contacts[2]["modifiedon"] = "2024-05-09T10:00:00Z"
        stand_in.contacts[2]["emailaddress1"] = "changed@example.com"

    first, second = two_runs(workspace, "example_dynamics_contacts", change)
    assert (first["status"], first["rows_loaded"], first["api_calls"]) == ("success", 7, 2 + 3)
    assert (second["status"], second["rows_read"], second["rows_loaded"]) == ("success", 1, 1)
    lake = {r["crm_id"]: r for r in read_table("dynamics_contacts").to_pylist()}
    assert lake["00000000-0000-0000-0000-000000000003"]["email"] == "changed@example.com"
    assert second["api_calls"] == 4  # a token and one page, at connect and at select


def test_deleted_dynamics_contact_leaves_its_profile(workspace, api, monkeypatch) -> None:
    """`track_deletions` (Dataverse change tracking, against the stand-in's delta links): a contact
    deleted between two runs arrives as a `$deletedEntity`, read as `deleted = true`, mapped to the
    field named in `mapping.deleted`: the profile store removes its fragment (and its profile)."""
    from headwater.store import profiles

    schema = workspace.include / "schemas" / "customer_profile.yaml"
    schema.write_text(
        schema.read_text().replace(
            "  - name: updated_at\n", "  - name: deleted\n    type: boolean\n  - name: updated_at\n", 1
        )
    )
    source = workspace.sources / "example_dynamics_contacts.yaml"
    text = source.read_text().replace("  # track_deletions: true", "  track_deletions: true  #")
    text = text.replace("  filter: statecode eq 0", "  # filter: statecode eq 0")
    text = text.replace(
        "    - {to: updated_at, from: modifiedon}\n",
        "    - {to: updated_at, from: modifiedon}\n    - {to: deleted, from: deleted}\n",
    )
    source.write_text(
        text.replace("  updated_at: updated_at\n", "  updated_at: updated_at\n  deleted: deleted\n")
    )
    connection(
        monkeypatch,
        "dynamics_crm",
        host=api.url,
        login=dataverse_api.APP_ID,
        password=dataverse_api.APP_SECRET,
        extra={"tenant_id": dataverse_api.TENANT, "authority": api.url},
    )
    contacts = []
    for i in range(1, 4):
        row = dataverse_api.contact(i, f"2024-05-0{i}T10:00:00Z")
        row.update(firstname=f"F{i}", lastname=f"L{i}", telephone1=None, address1_country="DE")
        contacts.append(row)
    stand_in = dataverse_api.DataverseApi(api, contacts)
    engine = workspace.engine()

    def change() -> None:
        assert profiles.count_profiles(engine) == 3
        del stand_in.contacts[1]

    first, second = two_runs(workspace, "example_dynamics_contacts", change)
    assert (first["rows_loaded"], second["rows_read"], second["rows_loaded"]) == (3, 1, 1)
    assert any("$deltatoken" in r.query for r in api.requests("/api/data/v9.2/contacts"))
    assert profiles.lookup_profile(engine, "email", "contact2@example.com") is None
    assert profiles.lookup_profile(engine, "email", "contact1@example.com") is not None
    assert profiles.count_profiles(engine) == 2


def test_marketing_cloud_example_loads_then_picks_up_only_changes(workspace, api, monkeypatch) -> None:
    connection(
        monkeypatch,
        "marketing_cloud",
        host=api.url,
        login=marketing_cloud_api.CLIENT_ID,
        password=marketing_cloud_api.CLIENT_SECRET,
        extra={"account_id": marketing_cloud_api.MID},
    )
    members = [marketing_cloud_api.member(i, datetime(2024, 5, i, 9)) for i in range(1, 6)]
    stand_in = marketing_cloud_api.MarketingCloudApi(api, members)

    def change() -> None:
        stand_in.rows.append(marketing_cloud_api.member(6, datetime(2024, 5, 7, 9)))

    first, second = two_runs(workspace, "example_sfmc_loyalty", change)
    assert (first["status"], first["rows_loaded"]) == ("success", 5)
    assert (second["status"], second["rows_read"], second["rows_loaded"]) == ("success", 1, 1)
    assert second["watermark_after"] == "modifieddate = 2024-05-07T09:00:00 (1 record at that value)"
    assert read_table("sfmc_loyalty_members").num_rows == 6


def test_failed_select_still_counts_its_api_calls(workspace, api, monkeypatch) -> None:
    connection(monkeypatch, "customers_api", host=api.url, login=customers_api.CLIENT_ID, password=customers_api.CLIENT_SECRET)
    stand_in = customers_api.CustomersApi(api, [customers_api.customer(1, "2024-05-01T10:00:00Z")])
    stand_in.faults = {n: Reply(503, {"message": "maintenance"}) for n in range(2, 10)}  # all but connect's page
    path = workspace.sources / "example_http_api_customers.yaml"
    path.write_text(path.read_text().replace("  rate_limit_per_second: 5\n", "  retry: {max_retries: 1, backoff_seconds: 0.01}\n"))
    run = run_pipeline(workspace.dag("example_http_api_customers"), "manual__down")
    assert "select" in run.failures
    [record] = runs.runs_for(workspace.engine(), "example_http_api_customers")
    assert record.status == "failed" and "answered 503 Service Unavailable after 2 attempts: maintenance" in record.error_summary
    assert record.api_calls == 2 + 3  # connect: token + page; select: token + two attempts
