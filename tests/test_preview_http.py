"""`headwater preview` on the three HTTP connector types' example sources, against the
protocol-level stand-ins of tests/connectors/http: rows mapped, nothing written, reader stopped early."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from headwater.cli import main
from tests.connectors.http import customers_api, dataverse_api, marketing_cloud_api
from tests.connectors.http.standin import StandIn
from tests.test_preview import snapshot, workspace  # noqa: F401  (fixture)


@pytest.fixture
def api():
    with StandIn() as server:
        yield server


def connection(monkeypatch, conn_id: str, **fields) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "http", **fields}))


def preview(workspace: Path, capsys, source: str, rows: int) -> str:  # noqa: F811
    before = snapshot(workspace)
    assert main(["preview", source, "--rows", str(rows)]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "nothing was loaded or written" in out
    assert snapshot(workspace) == before
    return out


def test_preview_http_api(workspace, api, monkeypatch, capsys) -> None:  # noqa: F811
    connection(
        monkeypatch,
        "customers_api",
        host=api.url,
        login=customers_api.CLIENT_ID,
        password=customers_api.CLIENT_SECRET,
    )
    stand_in = customers_api.CustomersApi(
        api, [customers_api.customer(i, f"2024-05-0{i}T10:00:00Z") for i in range(1, 10)]
    )
    out = preview(workspace, capsys, "example_http_api_customers", 3)
    assert "3 of 3 rows mapped onto" in out and "c1@example.com" in out and "First1" in out
    # the example pages by 100: the first page was enough, no second one asked for
    assert stand_in.data_calls == 2  # connect's first page and preview's first page


def test_preview_dynamics(workspace, api, monkeypatch, capsys) -> None:  # noqa: F811
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
    for i in range(1, 5):
        row = dataverse_api.contact(i, f"2024-05-0{i}T10:00:00Z")
        row.update(firstname=f"F{i}", lastname=f"L{i}", telephone1=None, address1_country="DE")
        contacts.append(row)
    dataverse_api.DataverseApi(api, contacts)
    out = preview(workspace, capsys, "example_dynamics_contacts", 2)
    assert "2 of 2 rows mapped onto" in out and "contact1@example.com" in out


def test_preview_marketing_cloud(workspace, api, monkeypatch, capsys) -> None:  # noqa: F811
    connection(
        monkeypatch,
        "marketing_cloud",
        host=api.url,
        login=marketing_cloud_api.CLIENT_ID,
        password=marketing_cloud_api.CLIENT_SECRET,
        extra={"account_id": marketing_cloud_api.MID},
    )
    marketing_cloud_api.MarketingCloudApi(
        api, [marketing_cloud_api.member(i, datetime(2024, 5, i, 9)) for i in range(1, 4)]
    )
    out = preview(workspace, capsys, "example_sfmc_loyalty", 3)
    assert "3 of 3 rows mapped onto" in out and "member2@example.com" in out
