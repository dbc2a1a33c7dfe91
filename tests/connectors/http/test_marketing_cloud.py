"""The `salesforce_marketing_cloud` connector against a Marketing Cloud REST stand-in
(marketing_cloud_api.py): token from the auth base URL, REST base from the token answer, rowset
paging, incremental on a date field, 429 and an expired token mid-run."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import TypeAdapter

from headwater.connectors.marketing_cloud import iso_date
from headwater.connectors.models import Connector
from headwater.connectors.registry import make_hook

from .conftest import read_all
from .marketing_cloud_api import CLIENT_ID, CLIENT_SECRET, KEY, MID, MarketingCloudApi, member

MEMBERS = [member(i, datetime(2024, 5, i, 10 + i, 0, 0)) for i in range(1, 6)]


def config(**fields):
    base = {
        "type": "salesforce_marketing_cloud",
        "conn_id": "sfmc",
        "data_extension": KEY,
        "primary_key": "subscriberkey",
        "page_size": 2,
        "retry": {"backoff_seconds": 0.01},
    }
    return TypeAdapter(Connector).validate_python({**base, **fields})


@pytest.fixture
def sfmc(api, set_conn):
    set_conn(
        "sfmc",
        conn_type="http",
        host=api.url,
        login=CLIENT_ID,
        password=CLIENT_SECRET,
        extra={"account_id": MID},
    )
    return MarketingCloudApi(api, [dict(m) for m in MEMBERS])


def test_rowset_pages_merged_into_records(sfmc) -> None:
    hook = make_hook(config())
    rows, errors = read_all(hook)
    assert errors == []
    assert [r["subscriberkey"] for r in rows] == ["SK001", "SK002", "SK003", "SK004", "SK005"]
    assert rows[0] == {
        "subscriberkey": "SK001",
        "emailaddress": "member1@example.com",
        "firstname": "Member1",
        "tier": "gold",
        "modifieddate": "5/1/2024 11:00:00 AM",  # not the date field here: as the API wrote it
    }
    pages = sfmc.api.requests(sfmc.rowset)
    assert [(p.query["$page"], p.query["$pageSize"]) for p in pages] == [("1", "2"), ("2", "2"), ("3", "2")]
    assert hook.api_calls == 4


def test_incremental_on_a_date_field(sfmc) -> None:
    cfg = config(date_field="modifieddate", columns=["subscriberkey", "emailaddress", "modifieddate"])
    hook = make_hook(cfg)
    rows, _ = read_all(hook)
    assert rows[-1] == {
        "subscriberkey": "SK005",
        "emailaddress": "member5@example.com",
        "modifieddate": "2024-05-05T15:00:00",
    }
    state = hook.next_state()
    assert state["cursor"]["value"] == "2024-05-05T15:00:00" and state["keys_at_cursor"] == [["SK005"]]
    sfmc.rows[1] = member(2, datetime(2024, 5, 6, 9, 0, 0))
    sfmc.rows.append(member(6, datetime(2024, 5, 5, 15, 0, 0)))  # at the watermark, not loaded before
    hook = make_hook(cfg)
    rows, _ = read_all(hook, state)
    assert sorted(r["subscriberkey"] for r in rows) == ["SK002", "SK006"]
    assert sfmc.api.requests(sfmc.rowset)[-1].query["$filter"] == "modifieddate gte '2024-05-05T15:00:00'"


def test_throttle_and_expired_token_mid_run(sfmc) -> None:
    sfmc.throttle = {2}
    sfmc.revoke_at = 3
    hook = make_hook(config())
    rows, _ = read_all(hook)
    assert len(rows) == 5
    assert len(sfmc.api.requests("/v2/token")) == 2
    assert hook.api_calls == 2 + 3 + 2  # two tokens, three pages, one 429 and one 401


def test_unknown_data_extension_names_the_endpoint(sfmc) -> None:
    with pytest.raises(
        Exception,
        match=r"GET http://127.0.0.1:\d+/rest/data/v1/customobjectdata/key/Nope/rowset answered 404",
    ):
        make_hook(config(data_extension="Nope")).check()


def test_us_dates_become_iso() -> None:
    assert iso_date("12/31/2024 11:59:59 PM") == "2024-12-31T23:59:59"
    assert iso_date("1/2/2024") == "2024-01-02T00:00:00"
    assert iso_date("not a date") == "not a date" and iso_date(5) == 5
