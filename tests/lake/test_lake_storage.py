"""Lake location and connection → storage options mapping."""

from __future__ import annotations

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
    with pytest.raises(HeadwaterError, match="connection 'lake' has type 'google_cloud_platform'"):
        storage.options_from_connection("google_cloud_platform", None, None, {}, "lake")
