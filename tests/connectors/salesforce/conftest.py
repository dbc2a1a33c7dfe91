"""Fixtures of the Salesforce connector tests: the HTTPS stand-in and its Airflow connection."""

from __future__ import annotations

import json

import pytest

from .salesforce_api import CLIENT_ID, CLIENT_SECRET, HttpsStandIn, SalesforceApi, self_signed


@pytest.fixture
def salesforce(tmp_path, monkeypatch):
    """(SalesforceApi, conn_id): a stand-in org with no records yet, and a connection to it."""
    cert, key = self_signed(tmp_path)
    # the provider's login (requests) and the data client both trust the CA bundle named here
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    with HttpsStandIn(cert, key) as server:
        host = server.url.removeprefix("https://")
        monkeypatch.setenv(
            "AIRFLOW_CONN_SF_TEST",
            json.dumps({
                "conn_type": "salesforce",
                "extra": {
                    "consumer_key": CLIENT_ID,
                    "consumer_secret": CLIENT_SECRET,
                    # simple-salesforce posts to https://<domain>.salesforce.com/services/oauth2/token:
                    # a My Domain such as `acme.my`; here a path on the stand-in
                    "domain": f"{host}/mydomain",
                    "version": "62.0",
                },
            }),
        )
        yield SalesforceApi(server, []), "sf_test"
