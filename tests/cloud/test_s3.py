"""S3 source against moto's S3 server: S3-specific errors (shared scenarios: test_object_stores.py)."""

from __future__ import annotations

import pytest

from headwater.errors import ConnectionCheckError
from tests.services import free_port

from . import scenarios
from .conftest import set_connection
from .stores import s3_store

pytestmark = pytest.mark.integration


@pytest.fixture
def store(moto_server, monkeypatch, bucket_name):
    return s3_store(moto_server, monkeypatch, bucket_name)


def test_unreachable_endpoint_names_it(store, monkeypatch):
    dead = f"http://127.0.0.1:{free_port()}"
    set_connection(
        monkeypatch, "hw_s3_dead", conn_type="aws", login="testing", password="testing",
        extra={"endpoint_url": dead, "region_name": "us-east-1"},
    )
    store.conn_id = "hw_s3_dead"
    hook = scenarios.hook_for(store, "landing/*.csv")
    with pytest.raises(ConnectionCheckError) as caught:
        hook.check()
    assert str(caught.value) == (
        f"cannot reach the S3 endpoint {dead} for bucket '{store.bucket}' (connection 'hw_s3_dead'): "
        "connection refused or "
        "unknown host; check endpoint_url and region_name in the connection's extra"
    )
