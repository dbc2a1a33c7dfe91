"""Fixtures of the Salesforce connector tests: the HTTPS stand-in and its Airflow connection."""

from __future__ import annotations

import pytest

from .salesforce_api import salesforce_org


@pytest.fixture
def salesforce(tmp_path, monkeypatch):
    """(SalesforceApi, conn_id): a stand-in org with no records yet, and a connection `sf_test` to it."""
    with salesforce_org(tmp_path, monkeypatch, "sf_test") as api:
        yield api, "sf_test"
