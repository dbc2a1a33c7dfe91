"""Lake location and connection → storage options mapping."""

from __future__ import annotations

import json

import pytest

from headwater.errors import HeadwaterError
from headwater.lake import storage


def test_root_from_settings_and_file_uri(monkeypatch, tmp_path):
    monkeypatch.setenv("HEADWATER_LAKE_URI", f"file://{tmp_path}/lake/")
    assert storage.lake_root() == f"{tmp_path}/lake"
    assert storage.storage_options(storage.lake_root()) is None
    monkeypatch.setenv("HEADWATER_LAKE_URI", "s3://bucket/lake")
    assert storage.is_remote(storage.lake_root())
    assert storage.join("s3://bucket/lake", "_staging", "/d/") == "s3://bucket/lake/_staging/d"


def test_remote_without_connection_uses_default_chain(monkeypatch):
    monkeypatch.delenv("HEADWATER_LAKE_CONN_ID", raising=False)
    assert storage.storage_options("s3://bucket/lake/t") is None


def test_aws_connection_options():
    options = storage.options_from_connection(
        "aws",
        "AKIA",
        "secret",
        {
            "region_name": "eu-west-1",
            "endpoint_url": "http://127.0.0.1:5000",
            "aws_s3_allow_unsafe_rename": True,
            "role_arn": "ignored: not read",
        },
    )
    assert options == {
        "AWS_ACCESS_KEY_ID": "AKIA",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
        "AWS_S3_ALLOW_UNSAFE_RENAME": "true",
        "AWS_ALLOW_HTTP": "true",
    }


def test_other_connection_types_are_refused_not_guessed():
    with pytest.raises(HeadwaterError, match="connection 'lake' has type 'ftp'; the lake takes connections of type 'aws', 'wasb'"):
        storage.options_from_connection("ftp", None, None, {}, "lake")


AZURITE = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5PT0=;"
    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
)


@pytest.mark.parametrize(
    ("login", "password", "extra", "host", "expected"),
    [
        pytest.param(
            None, None, {"connection_string": AZURITE}, None,
            {"AZURE_STORAGE_ACCOUNT_NAME": "devstoreaccount1", "AZURE_STORAGE_ACCOUNT_KEY": "a2V5PT0=",
             "AZURE_STORAGE_ENDPOINT": "http://127.0.0.1:10000/devstoreaccount1", "allow_http": "true"},
            id="connection-string-azurite",  # the key ends in '=': split on the first '=' only
        ),
        pytest.param(
            "acct", "key", {}, "https://acct.blob.core.windows.net",
            {"AZURE_STORAGE_ACCOUNT_NAME": "acct", "AZURE_STORAGE_ACCOUNT_KEY": "key"},
            id="account-key-public-endpoint-not-forwarded",
        ),
        pytest.param(
            "client-id", "client-secret", {"tenant_id": "tenant"}, None,
            {"AZURE_STORAGE_TENANT_ID": "tenant", "AZURE_STORAGE_CLIENT_ID": "client-id",
             "AZURE_STORAGE_CLIENT_SECRET": "client-secret"},
            id="service-principal",
        ),
        pytest.param(
            "acct", None, {"extra__wasb__sas_token": "?sv=2024&sig=x"}, "https://private.example.net",
            {"AZURE_STORAGE_ACCOUNT_NAME": "acct", "AZURE_STORAGE_SAS_KEY": "sv=2024&sig=x",
             "AZURE_STORAGE_ENDPOINT": "https://private.example.net"},
            id="sas-token-old-extra-name-private-endpoint",
        ),
    ],
)
def test_wasb_connection_options(login, password, extra, host, expected):
    assert storage.options_from_connection("wasb", login, password, extra, "lake", host) == expected


def test_wasb_connection_without_credentials_is_an_error():
    with pytest.raises(HeadwaterError, match="connection 'lake' \\(wasb\\) has no credentials"):
        storage.options_from_connection("wasb", None, None, {}, "lake")


def test_gcp_connection_options(tmp_path):
    key = {"type": "service_account", "client_email": "x@p.iam.gserviceaccount.com"}
    assert storage.options_from_connection("google_cloud_platform", None, None, {"key_path": "/k.json"}) == {
        "GOOGLE_SERVICE_ACCOUNT": "/k.json"
    }
    inline = storage.options_from_connection("google_cloud_platform", None, None, {"keyfile_dict": key})
    assert inline == {"GOOGLE_SERVICE_ACCOUNT_KEY": json.dumps(key)}
    with pytest.raises(HeadwaterError, match="keyfile_dict is not JSON"):
        storage.options_from_connection("google_cloud_platform", None, None, {"keyfile_dict": "{oops"}, "lake")
    with pytest.raises(HeadwaterError, match="has no service account key for the lake"):
        storage.options_from_connection("google_cloud_platform", None, None, {"is_anonymous": True}, "lake")


@pytest.mark.parametrize(
    ("uri", "path"),
    [
        ("abfs://lake@acct.dfs.core.windows.net/tables/t", "lake/tables/t"),
        ("abfss://lake@acct.dfs.core.windows.net", "lake"),
        ("az://lake/tables/t/", "lake/tables/t"),
    ],
)
def test_azure_path_inside_the_account(uri, path):
    assert storage.azure_path(uri) == path
