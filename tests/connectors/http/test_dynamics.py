"""The `dynamics` connector against a Dataverse Web API stand-in (dataverse_api.py): OAuth against the
tenant, $select/$filter, nextLink paging with maxpagesize, incremental on modifiedon, 429, labels."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import TypeAdapter, ValidationError

from headwater.connectors.models import Connector
from headwater.connectors.registry import make_hook
from headwater.failures import PERMANENT, classify

from .conftest import read_all
from .dataverse_api import APP_ID, APP_SECRET, TENANT, DataverseApi, contact

CONTACTS = [
    contact(i, f"2024-05-0{i}T10:00:00Z", state=0 if i != 3 else 1, gender=1 + i % 2) for i in range(1, 6)
]


def config(**fields):
    base = {
        "type": "dynamics",
        "conn_id": "dataverse",
        "entity_set": "contacts",
        "columns": ["contactid", "fullname", "emailaddress1", "gendercode", "modifiedon"],
        "primary_key": "contactid",
        "page_size": 2,
        "retry": {"backoff_seconds": 0.01},
    }
    return TypeAdapter(Connector).validate_python({**base, **fields})


@pytest.fixture
def dataverse(api, set_conn):
    extra = {"tenant_id": TENANT, "authority": api.url}
    set_conn("dataverse", conn_type="http", host=api.url, login=APP_ID, password=APP_SECRET, extra=extra)
    return DataverseApi(api, [dict(c) for c in CONTACTS])


def test_reads_pages_with_select_filter_and_labels(dataverse) -> None:
    hook = make_hook(config(filter="statecode eq 0", option_labels=["gendercode"]))
    rows, errors = read_all(hook)
    assert errors == []
    assert [r["fullname"] for r in rows] == ["Contact 1", "Contact 2", "Contact 4", "Contact 5"]
    assert rows[0] == {
        "contactid": "00000000-0000-0000-0000-000000000001",
        "fullname": "Contact 1",
        "emailaddress1": "contact1@example.com",
        "gendercode": 2,
        "modifiedon": "2024-05-01T10:00:00Z",
        "gendercode_label": "Female",
    }
    first = dataverse.api.requests("/api/data/v9.2/contacts")[0]
    assert first.query["$select"] == "contactid,fullname,emailaddress1,gendercode,modifiedon"
    assert first.query["$filter"] == "(statecode eq 0)"
    assert (
        'odata.maxpagesize=2, odata.include-annotations="OData.Community.Display.V1.FormattedValue"'
        == first.headers["prefer"]
    )
    assert len(dataverse.api.requests("/api/data/v9.2/contacts")) == 2  # 4 rows, 2 per page
    assert hook.api_calls == 3


def test_incremental_on_modifiedon(dataverse) -> None:
    hook = make_hook(config())
    rows, _ = read_all(hook)
    state = hook.next_state()
    assert len(rows) == 5 and state["cursor"]["value"] == "2024-05-05T10:00:00Z"
    dataverse.contacts[0]["modifiedon"] = "2024-05-07T08:00:00Z"
    hook = make_hook(config(filter="statecode eq 0"))
    rows, _ = read_all(hook, state)
    assert [r["fullname"] for r in rows] == ["Contact 1"]
    assert dataverse.api.log[-1].query["$filter"] == "(statecode eq 0) and modifiedon ge 2024-05-05T10:00:00Z"
    assert hook.next_state() == {
        "cursor": {"column": "modifiedon", "type": "timestamptz", "value": "2024-05-07T08:00:00Z"},
        "keys_at_cursor": [["00000000-0000-0000-0000-000000000001"]],
    }


def test_throttled_page_is_retried_after_retry_after(dataverse) -> None:
    dataverse.throttle = {2}
    hook = make_hook(config())
    rows, _ = read_all(hook)
    assert len(rows) == 5
    assert hook.api_calls == 1 + 3 + 1  # token, three pages, one throttled


def test_token_expired_mid_run_is_fetched_again(dataverse) -> None:
    dataverse.revoke_at = 2
    rows, _ = read_all(make_hook(config()))
    assert len(rows) == 5
    assert len(dataverse.api.requests(f"/{TENANT}/oauth2/v2.0/token")) == 2


def test_unknown_entity_set_and_column_are_named(dataverse) -> None:
    with pytest.raises(
        Exception,
        match=r"GET http://127.0.0.1:\d+/api/data/v9.2/contactz answered 404 Not Found: Resource not found for the segment 'contactz'",
    ) as caught:
        make_hook(config(entity_set="contactz")).check()
    assert classify(caught.value) == PERMANENT
    with pytest.raises(Exception, match="Could not find a property named 'emial'"):
        make_hook(config(columns=["contactid", "emial", "modifiedon"])).check()


def test_wrong_secret_names_the_token_endpoint(dataverse, set_conn) -> None:
    set_conn(
        "dataverse",
        conn_type="http",
        host=dataverse.api.url,
        login=APP_ID,
        password="nope-nope",
        extra={"tenant_id": TENANT, "authority": dataverse.api.url},
    )
    with pytest.raises(
        Exception,
        match=rf"OAuth token request failed: POST http://127.0.0.1:\d+/{TENANT}/oauth2/v2.0/token answered 401 Unauthorized: AADSTS7000215",
    ):
        make_hook(config()).check()


def test_check_describes_the_entity_set(dataverse) -> None:
    described = make_hook(config()).check()
    assert described.startswith("Dynamics 365 GET http://127.0.0.1:")
    assert described.endswith(
        "/api/data/v9.2/contacts (connection 'dataverse'): 2 record(s) on the first page; incremental on modifiedon"
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param(
            {"option_labels": ["statecode"]}, "'statecode' is not selected", id="label_not_selected"
        ),
        pytest.param({"columns": ["contactid"]}, "incremental reads need `modifiedon`", id="no_modifiedon"),
        pytest.param({"page_size": 6000}, "less than or equal to 5000", id="page_size"),
        pytest.param({"entity_set": "contacts; drop"}, "should match pattern", id="entity_set"),
    ],
)
def test_invalid_configs(fields, message) -> None:
    with pytest.raises(ValidationError, match=message):
        config(**fields)


def test_track_deletions_reads_changes_and_deletions_through_the_delta_link(dataverse) -> None:
    hook = make_hook(config(track_deletions=True))
    rows, errors = read_all(hook)
    assert errors == [] and len(rows) == 5 and {r["deleted"] for r in rows} == {False}
    assert "odata.track-changes" in dataverse.api.requests("/api/data/v9.2/contacts")[0].headers["prefer"]
    state = hook.next_state()
    assert "deltatoken=" in state["delta_link"]
    dataverse.contacts[0] = {**dataverse.contacts[0], "fullname": "Renamed 1"}
    del dataverse.contacts[1]
    rows, errors = read_all(hook, state)
    assert errors == []
    by_key = {r["contactid"]: r for r in rows}
    assert by_key["00000000-0000-0000-0000-000000000001"]["fullname"] == "Renamed 1"
    assert by_key["00000000-0000-0000-0000-000000000001"]["deleted"] is False
    gone = by_key["00000000-0000-0000-0000-000000000002"]
    assert gone["deleted"] is True and gone["fullname"] is None
    assert len(rows) == 2 and hook.notes == []
    assert hook.next_state()["delta_link"] != state["delta_link"]


@pytest.mark.parametrize("status", [400, 410])
def test_refused_delta_link_falls_back_to_a_full_read_with_a_note(dataverse, status) -> None:
    hook = make_hook(config(track_deletions=True))
    read_all(hook)
    state = hook.next_state()
    dataverse.expired[parse_qs(urlsplit(state["delta_link"]).query)["$deltatoken"][0]] = status
    rows, errors = read_all(hook, state)
    assert errors == [] and len(rows) == 5
    assert (
        len(hook.notes) == 1 and f"refused ({status}" in hook.notes[0] and "whole entity set" in hook.notes[0]
    )
    assert hook.next_state()["delta_link"] != state["delta_link"]


def test_track_deletions_refuses_a_filter_and_needs_one_key() -> None:
    with pytest.raises(ValidationError, match="filter"):
        config(track_deletions=True, filter="statecode eq 0")
    with pytest.raises(ValidationError, match="one key column"):
        config(track_deletions=True, primary_key=[])
