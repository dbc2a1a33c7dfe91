"""One small adapter per object store, so the scenarios in `scenarios.py` run against all three.

Each adapter owns a fresh bucket/container on its stand-in, an Airflow connection pointing at it,
and knows how to upload objects and how the connector names them in messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from .conftest import StandIn, azurite_connection_string, set_connection


@dataclass
class Store:
    type: str
    conn_id: str
    bucket: str
    bucket_field: str = "bucket"
    client: Any = field(default=None, repr=False)
    scheme: str = ""

    def connector(self, path: str, **fields) -> dict:
        return {"type": self.type, "conn_id": self.conn_id, self.bucket_field: self.bucket, "path": path, **fields}

    def name(self, key: str) -> str:
        """How the connector names an object in messages and the quarantine table."""
        return f"{self.scheme}/{key}"

    def put(self, key: str, data: bytes) -> None:
        raise NotImplementedError

    def mtime(self, key: str) -> float:
        raise NotImplementedError


class S3Store(Store):
    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def mtime(self, key: str) -> float:
        return self.client.head_object(Bucket=self.bucket, Key=key)["LastModified"].timestamp()


class GcsStore(Store):
    def put(self, key: str, data: bytes) -> None:
        self.client.bucket(self.bucket).blob(key).upload_from_string(data)

    def mtime(self, key: str) -> float:
        return self.client.bucket(self.bucket).get_blob(key).updated.timestamp()


class AzureStore(Store):
    def put(self, key: str, data: bytes) -> None:
        self.client.get_blob_client(self.bucket, key).upload_blob(data, overwrite=True)

    def mtime(self, key: str) -> float:
        return self.client.get_blob_client(self.bucket, key).get_blob_properties().last_modified.timestamp()


def s3_store(server: StandIn, monkeypatch: pytest.MonkeyPatch, bucket: str, conn_id: str = "hw_s3") -> S3Store:
    import boto3

    set_connection(
        monkeypatch,
        conn_id,
        conn_type="aws",
        login="testing",
        password="testing",
        extra={"endpoint_url": server.url, "region_name": "us-east-1"},
    )
    client = boto3.client(
        "s3", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=bucket)
    return S3Store("s3", conn_id, bucket, client=client, scheme=f"s3://{bucket}")


def gcs_store(server: StandIn, monkeypatch: pytest.MonkeyPatch, bucket: str, conn_id: str = "hw_gcs") -> GcsStore:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", server.url)
    set_connection(
        monkeypatch, conn_id, conn_type="google_cloud_platform", extra={"is_anonymous": True, "project": "test"}
    )
    client = storage.Client(project="test", credentials=AnonymousCredentials())
    client.create_bucket(bucket)
    return GcsStore("gcs", conn_id, bucket, client=client, scheme=f"gs://{bucket}")


def azure_store(server: StandIn, monkeypatch: pytest.MonkeyPatch, container: str, conn_id: str = "hw_wasb") -> AzureStore:
    from azure.storage.blob import BlobServiceClient

    conn_str = azurite_connection_string(server.port)
    set_connection(monkeypatch, conn_id, conn_type="wasb", extra={"connection_string": conn_str})
    client = BlobServiceClient.from_connection_string(conn_str)
    client.create_container(container)
    return AzureStore(
        "azure_blob", conn_id, container, bucket_field="container", client=client,
        scheme=f"{server.url}/devstoreaccount1/{container}",
    )
