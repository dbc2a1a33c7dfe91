"""`headwater preview` on the Salesforce example source, against the protocol-level HTTPS stand-in
of tests/connectors/salesforce: rows mapped, nothing written."""

from __future__ import annotations

from tests.connectors.salesforce.salesforce_api import contact, salesforce_org
from tests.test_preview import workspace  # noqa: F401  (fixture)
from tests.test_preview_http import preview


def test_preview_salesforce(workspace, tmp_path, monkeypatch, capsys) -> None:  # noqa: F811
    with salesforce_org(tmp_path, monkeypatch, "salesforce_crm") as api:
        api.records.extend(contact(i, f"2026-11-01T10:0{i}:00.000+0000") for i in range(1, 5))
        api.records.append({**contact(9, "2026-11-01T10:09:00.000+0000"), "Email": None})
        out = preview(workspace, capsys, "example_salesforce_contacts", 2)
    assert "2 of 2 rows mapped onto" in out and "c1@example.com" in out
    # the example's `where` reached the SOQL
    assert any("WHERE (Email != null)" in q for q in api.soql)
