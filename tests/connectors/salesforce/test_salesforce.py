"""The `salesforce` connector against a protocol-level Salesforce stand-in over HTTPS (salesforce_api.py).

The provider's SalesforceHook logs in (OAuth client credentials through simple-salesforce), the HTTP
layer's client sends the queries; only the far end is ours.
"""

from __future__ import annotations

import pytest

from headwater.connectors.registry import make_hook
from headwater.connectors.salesforce_models import SalesforceConnector
from headwater.errors import SelectionError

from ..http.conftest import read_all
from .salesforce_api import contact

FAST = {"max_retries": 3, "backoff_seconds": 0.01, "max_backoff_seconds": 0.05}


def connector(conn_id: str, **extra) -> SalesforceConnector:
    fields = {
        "type": "salesforce",
        "conn_id": conn_id,
        "object": "Contact",
        "fields": ["FirstName", "LastName", "Email", "NumberOfPurchases__c"],
        "retry": FAST,
        "bulk": "never",
        "page_size": 200,
        **extra,
    }
    return SalesforceConnector.model_validate(fields)


def stamp(minute: int) -> str:
    return f"2026-11-01T10:{minute:02d}:00.000+0000"


def test_full_read_pages_and_reports_api_usage(salesforce):
    api, conn = salesforce
    api.records.extend(contact(i, stamp(i % 50)) for i in range(450))
    checker = make_hook(connector(conn))
    assert "Contact at 127.0.0.1" in checker.check()
    assert checker.api_calls == 2  # token, describe
    hook = make_hook(connector(conn))
    rows, errors = read_all(hook)
    assert errors == []
    assert len(rows) == 450 and len({r["Id"] for r in rows}) == 450
    assert set(rows[0]) == {"FirstName", "LastName", "Email", "NumberOfPurchases__c", "Id", "SystemModstamp"}
    assert hook.mode == "rest"
    # 450 records at batchSize 200: three pages, the last two through nextRecordsUrl
    assert len(api.api.requests("/services/data/v62.0/query")) == 1
    assert sum(r.path.startswith("/services/data/v62.0/query/") for r in api.api.log) == 2
    assert hook.api_calls == 1 + 1 + 3  # token, describe, 3 pages
    assert any("api-usage=5/15000" in n for n in hook.notes), hook.notes
    assert "ORDER BY SystemModstamp" in api.soql[-1]


def test_second_incremental_run_reads_only_changes(salesforce):
    api, conn = salesforce
    api.records.extend(contact(i, stamp(i)) for i in range(5))
    hook = make_hook(connector(conn))
    rows, _ = read_all(hook)
    assert len(rows) == 5
    state = hook.next_state()
    assert state["cursor"]["value"] == stamp(4)
    assert state["keys_at_cursor"] == [["003000000000000004"]]
    # one record changed, one new; one at the watermark already loaded is not read again
    api.records[2] = contact(2, stamp(30))
    api.records.append(contact(9, stamp(31)))
    hook2 = make_hook(connector(conn))
    rows2, _ = read_all(hook2, state)
    assert sorted(r["Id"] for r in rows2) == ["003000000000000002", "003000000000000009"]
    assert "SystemModstamp >= 2026-11-01T10:04:00Z" in api.soql[-1]
    assert hook2.next_state()["cursor"]["value"] == stamp(31)
    # nothing changed: nothing read, watermark kept
    hook3 = make_hook(connector(conn))
    assert read_all(hook3, hook2.next_state())[0] == []
    assert hook3.next_state() == hook2.next_state()


def test_deleted_record_comes_through_query_all_flagged(salesforce):
    api, conn = salesforce
    api.records.extend([contact(1, stamp(1)), contact(2, stamp(2))])
    cfg = connector(conn, include_deleted=True)
    hook = make_hook(cfg)
    rows, _ = read_all(hook)
    assert {r["Id"]: r["IsDeleted"] for r in rows} == {
        "003000000000000001": False,
        "003000000000000002": False,
    }
    api.records[0] = contact(1, stamp(5), deleted=True)
    hook2 = make_hook(cfg)
    rows2, _ = read_all(hook2, hook.next_state())
    assert [(r["Id"], r["IsDeleted"]) for r in rows2] == [("003000000000000001", True)]
    assert api.api.requests("/services/data/v62.0/queryAll")
    # without include_deleted the plain query endpoint hides it
    rows3, _ = read_all(make_hook(connector(conn)), hook.next_state())
    assert rows3 == []


def test_throttled_call_is_retried(salesforce):
    api, conn = salesforce
    api.records.extend(contact(i, stamp(i)) for i in range(300))
    api.throttle = {2, 3}  # the first query page answered 429 REQUEST_LIMIT_EXCEEDED twice
    hook = make_hook(connector(conn))
    rows, _ = read_all(hook)
    assert len(rows) == 300
    assert hook.api_calls == 1 + 1 + 3 + 1  # token, describe, first page x3, second page


def test_throttled_beyond_retries_fails_naming_the_error(salesforce):
    api, conn = salesforce
    api.records.append(contact(1, stamp(1)))
    api.throttle = set(range(2, 20))
    hook = make_hook(connector(conn, retry={**FAST, "max_retries": 1}))
    with pytest.raises(Exception, match="429.*REQUEST_LIMIT_EXCEEDED|TotalRequests Limit exceeded"):
        read_all(hook)


def test_expired_session_is_refreshed_mid_run(salesforce):
    api, conn = salesforce
    api.records.extend(contact(i, stamp(i % 50)) for i in range(450))
    api.expire_at = 3  # the second page's request finds the session expired
    hook = make_hook(connector(conn))
    rows, _ = read_all(hook)
    assert len({r["Id"] for r in rows}) == 450
    assert hook._auth.logins == 2
    assert len(api.tokens) == 1 and "00D-session-2" in api.tokens


def test_bulk_job_lifecycle(salesforce):
    api, conn = salesforce
    api.records.extend(contact(i, stamp(i % 50), purchases=None if i == 7 else float(i)) for i in range(120))
    api.records.append(contact(500, stamp(55), deleted=True))
    cfg = connector(
        conn,
        bulk="auto",
        bulk_threshold=100,
        bulk_page_records=50,
        bulk_poll_seconds=0.01,
        include_deleted=True,
    )
    hook = make_hook(cfg)
    rows, _ = read_all(hook)
    assert hook.mode == "bulk"
    assert len(rows) == 121
    by_id = {r["Id"]: r for r in rows}
    assert by_id["003000000000000007"]["NumberOfPurchases__c"] is None
    assert by_id["003000000000000008"]["NumberOfPurchases__c"] == 8.0
    assert by_id["003000000000000500"]["IsDeleted"] is True
    job_calls = [r for r in api.api.log if "/jobs/query" in r.path]
    assert [r.method for r in job_calls][:1] == ["POST"]
    results = [r for r in job_calls if r.path.endswith("/results")]
    assert [r.query.get("locator") for r in results] == [None, "50", "100"]
    assert hook.next_state()["cursor"]["value"] == stamp(55)


def test_missing_field_named_with_closest(salesforce):
    api, conn = salesforce
    hook = make_hook(connector(conn, fields=["FirstName", "Emial"]))
    with pytest.raises(SelectionError, match="'Emial'.*did you mean Email"):
        hook.check()


def test_unknown_object(salesforce):
    api, conn = salesforce
    hook = make_hook(connector(conn, object="Contcat"))
    with pytest.raises(SelectionError, match="'Contcat' not found"):
        hook.check()


def test_where_keyword_rejected():
    with pytest.raises(ValueError, match="without the `WHERE` keyword"):
        connector("x", where="WHERE Email != null")
