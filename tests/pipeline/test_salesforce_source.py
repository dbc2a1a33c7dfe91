"""The shipped Salesforce example end to end through every stage, against the protocol-level HTTPS
stand-in of tests/connectors/salesforce: a first run loads everything (a throttled call retried),
a second run loads only what changed, and the run record holds the API calls and the org's API
usage (Sforce-Limit-Info)."""

from __future__ import annotations

from headwater.lake.delta import read_table
from headwater.store import runs
from tests.connectors.salesforce.salesforce_api import contact, salesforce_org

from .harness import run_pipeline


def test_salesforce_example_loads_then_picks_up_only_changes(workspace, tmp_path, monkeypatch) -> None:
    with salesforce_org(tmp_path, monkeypatch, "salesforce_crm") as api:
        api.records.extend(contact(i, f"2026-11-01T10:{i:02d}:00.000+0000") for i in range(1, 31))
        api.throttle = {4}  # the select's first query page: 429 REQUEST_LIMIT_EXCEEDED, then retried
        dag = workspace.dag("example_salesforce_contacts")
        first = run_pipeline(dag, "manual__1")
        assert first.failures == {}, first.failures
        api.records[4] = {**contact(5, "2026-11-02T09:00:00.000+0000"), "Email": " NEW5@example.com"}
        second = run_pipeline(dag, "manual__2")
        assert second.failures == {}, second.failures
    one, two = first.manifest("monitor"), second.manifest("monitor")
    assert (one["status"], one["rows_read"], one["rows_loaded"]) == ("success", 30, 30)
    # connect: token + describe; select: token + describe + COUNT() (bulk: auto) + page (429, then 200)
    assert one["api_calls"] == 2 + 5
    assert (two["status"], two["rows_read"], two["rows_loaded"]) == ("success", 1, 1)
    assert two["watermark_after"] == "SystemModstamp = 2026-11-02T09:00:00.000+0000 (1 record at that value)"
    lake = {r["crm_id"]: r for r in read_table("salesforce_contacts").to_pylist()}
    assert len(lake) == 30 and lake["003000000000000005"]["email"] == "new5@example.com"
    [record] = [
        r for r in runs.runs_for(workspace.engine(), "example_salesforce_contacts") if r.run_id == "manual__2"
    ]
    assert record.api_calls == two["api_calls"] == 2 + 4
    assert (
        "api-usage=" in (record.error_summary or "") and "/15000 (Sforce-Limit-Info)" in record.error_summary
    )


def test_deleted_salesforce_contact_leaves_its_profile(workspace, tmp_path, monkeypatch) -> None:
    """`include_deleted` (queryAll) + `IsDeleted` mapped to a boolean named in `mapping.deleted`: the
    profile store removes the deleted contact's fragment (its profile, having no other, goes)."""
    from headwater.store import profiles

    schema = workspace.include / "schemas" / "customer_profile.yaml"
    schema.write_text(
        schema.read_text().replace(
            "  - name: updated_at\n",
            "  - name: deleted\n    type: boolean\n  - name: updated_at\n",
            1,
        )
    )
    source = workspace.sources / "example_salesforce_contacts.yaml"
    text = source.read_text().replace("  # include_deleted: true", "  include_deleted: true  #")
    text = text.replace(
        "    - {to: updated_at, from: SystemModstamp}\n",
        "    - {to: updated_at, from: SystemModstamp}\n    - {to: deleted, from: IsDeleted}\n",
    )
    source.write_text(
        text.replace("  updated_at: updated_at\n", "  updated_at: updated_at\n  deleted: deleted\n")
    )
    with salesforce_org(tmp_path, monkeypatch, "salesforce_crm") as api:
        api.records.extend(contact(i, f"2026-11-01T10:{i:02d}:00.000+0000") for i in range(1, 4))
        dag = workspace.dag("example_salesforce_contacts")
        first = run_pipeline(dag, "manual__1")
        assert first.failures == {}, first.failures
        engine = workspace.engine()
        assert profiles.count_profiles(engine) == 3
        api.records[1] = contact(2, "2026-11-02T09:00:00.000+0000", deleted=True)
        second = run_pipeline(dag, "manual__2")
        assert second.failures == {}, second.failures
        assert any(r.path.endswith("/queryAll") for r in api.api.log)
    assert second.manifest("monitor")["rows_loaded"] == 1
    assert profiles.lookup_profile(engine, "email", "c2@example.com") is None
    assert profiles.count_profiles(engine) == 2
