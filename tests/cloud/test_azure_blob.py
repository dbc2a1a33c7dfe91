"""Azure Blob source against Azurite: Azure-specific errors (shared scenarios: test_object_stores.py)."""

from __future__ import annotations

import pytest

from headwater.errors import ConnectionCheckError

from . import scenarios
from .conftest import azurite_connection_string, set_connection
from .stores import azure_store

pytestmark = pytest.mark.integration


@pytest.fixture
def store(azurite, monkeypatch, bucket_name):
    return azure_store(azurite, monkeypatch, bucket_name)


def test_wrong_account_key_is_access_denied(azurite, store, monkeypatch):
    wrong_key = "d3Jvbmcga2V5IGZvciB0ZXN0cw=="  # valid base64, not the account's key
    set_connection(
        monkeypatch, "hw_wasb_wrong", conn_type="wasb",
        extra={"connection_string": azurite_connection_string(azurite.port, key=wrong_key)},
    )
    store.conn_id = "hw_wasb_wrong"
    with pytest.raises(ConnectionCheckError) as caught:
        scenarios.hook_for(store, "landing/*.csv").check()
    assert str(caught.value).startswith(
        f"access denied to container '{store.bucket}' (connection 'hw_wasb_wrong'): AuthorizationFailure;"
    )
