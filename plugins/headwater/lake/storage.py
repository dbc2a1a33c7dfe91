"""Where the lake lives and how to reach it: a local folder, or s3:// gs:// abfs:// by configuration.

Two clients touch the lake: pyarrow (staging parts) and deltalake (tables). Both get their
location and credentials from here, so the two never disagree.
"""

from __future__ import annotations

import json
import os
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from headwater import settings
from headwater.errors import HeadwaterError
from headwater.lake.credentials import options_from_connection

if TYPE_CHECKING:
    import pyarrow.fs as pafs

_AZURE_SCHEMES = {"az", "abfs", "abfss"}
_REMOTE_SCHEMES = {"s3", "s3a", "gs", "gcs", *_AZURE_SCHEMES}


def lake_root(root: str | None = None) -> str:
    """The lake root (`settings.lake_uri()` unless given), without a trailing slash; local as a path."""
    value = (root or settings.lake_uri()).rstrip("/")
    value = value[len("file://") :] if value.startswith("file://") else value
    if not is_remote(value) and "://" not in value and not os.path.isdir(value):
        # a new local lake is created owner-only (settings.umask): it holds customer data
        settings.private_mkdir(Path(value))
    return value


def is_remote(uri: str) -> bool:
    return urlparse(uri).scheme.lower() in _REMOTE_SCHEMES


def join(base: str, *parts: str) -> str:
    """`base/part/part` for local paths and URIs alike (the lake always uses forward slashes)."""
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])


def filesystem(uri: str, options: dict[str, str] | None = None) -> tuple[pafs.FileSystem, str]:
    """pyarrow filesystem and the path inside it for a lake location (local path or URI).

    `options`: object-storage options (`lake.credentials`) of another connection than the lake's.
    """
    import pyarrow.fs as pafs

    if not is_remote(uri):
        return pafs.LocalFileSystem(), uri
    options = connection_options() if options is None else options
    if not options:
        # No connection: pyarrow finds credentials the usual way (environment, instance metadata).
        return pafs.FileSystem.from_uri(uri)
    scheme = urlparse(uri).scheme.lower()
    if scheme in _AZURE_SCHEMES:
        fs = _azure_filesystem(options, uri)
    elif scheme in ("gs", "gcs"):
        fs = _gcs_filesystem(options)
    else:
        fs = _s3_filesystem(options)
    return fs, fs_path(uri)


def fs_path(uri: str) -> str:
    """The path of a lake location inside its pyarrow filesystem (`bucket/key`, `container/path`)."""
    if not is_remote(uri):
        return uri
    if urlparse(uri).scheme.lower() in _AZURE_SCHEMES:
        return azure_path(uri)
    return uri.split("://", 1)[1]


def _s3_filesystem(options: dict[str, str]) -> pafs.FileSystem:
    import pyarrow.fs as pafs

    endpoint = options.get("AWS_ENDPOINT_URL")
    parsed = urlparse(endpoint) if endpoint else None
    return pafs.S3FileSystem(
        access_key=options.get("AWS_ACCESS_KEY_ID"),
        secret_key=options.get("AWS_SECRET_ACCESS_KEY"),
        session_token=options.get("AWS_SESSION_TOKEN"),
        region=options.get("AWS_REGION"),
        endpoint_override=parsed.netloc if parsed else None,
        scheme=parsed.scheme if parsed else "https",
    )


def azure_path(uri: str) -> str:
    """`container/path` of `abfs[s]://container@account.dfs.core.windows.net/path` or `az://container/path`."""
    parsed = urlparse(uri)
    container = parsed.netloc.split("@", 1)[0]
    return "/".join(p for p in (container, parsed.path.strip("/")) if p)


def _azure_account(uri: str) -> str | None:
    netloc = urlparse(uri).netloc
    return netloc.split("@", 1)[1].split(".", 1)[0] if "@" in netloc else None


def _azure_filesystem(options: dict[str, str], uri: str) -> pafs.FileSystem:
    import pyarrow.fs as pafs

    account = options.get("AZURE_STORAGE_ACCOUNT_NAME") or _azure_account(uri)
    if not account:
        raise HeadwaterError(f"{uri}: no storage account (name it in the URI: abfs://container@ACCOUNT.dfs.core.windows.net/...)")
    kwargs: dict[str, str] = {}
    if options.get("AZURE_STORAGE_ACCOUNT_KEY"):
        kwargs["account_key"] = options["AZURE_STORAGE_ACCOUNT_KEY"]
    elif options.get("AZURE_STORAGE_SAS_KEY"):
        kwargs["sas_token"] = options["AZURE_STORAGE_SAS_KEY"]
    for option, arg in (("AZURE_STORAGE_CLIENT_ID", "client_id"), ("AZURE_STORAGE_CLIENT_SECRET", "client_secret"),
                        ("AZURE_STORAGE_TENANT_ID", "tenant_id")):
        if options.get(option):
            kwargs[arg] = options[option]
    endpoint = options.get("AZURE_STORAGE_ENDPOINT")
    if endpoint:  # Azurite or a private endpoint: both services answer there
        parsed = urlparse(endpoint)
        kwargs.update(blob_storage_authority=parsed.netloc, dfs_storage_authority=parsed.netloc,
                      blob_storage_scheme=parsed.scheme, dfs_storage_scheme=parsed.scheme)
    return pafs.AzureFileSystem(account, **kwargs)


def _gcs_filesystem(options: dict[str, str]) -> pafs.FileSystem:
    """GCS with the connection's service account: pyarrow takes an access token, not a key."""
    import pyarrow.fs as pafs
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account

    scopes = ["https://www.googleapis.com/auth/devstorage.read_write"]
    if "GOOGLE_SERVICE_ACCOUNT" in options:
        creds = service_account.Credentials.from_service_account_file(options["GOOGLE_SERVICE_ACCOUNT"], scopes=scopes)
    else:
        info = json.loads(options["GOOGLE_SERVICE_ACCOUNT_KEY"])
        creds = service_account.Credentials.from_service_account_info(info, scopes=scopes)
    creds.refresh(Request())
    # google-auth's expiry is naive UTC; pyarrow wants an aware datetime
    return pafs.GcsFileSystem(access_token=creds.token, credential_token_expiration=creds.expiry.replace(tzinfo=UTC))


def storage_options(uri: str) -> dict[str, str] | None:
    """deltalake `storage_options` for a table location; None for local tables."""
    if not is_remote(uri):
        return None
    return connection_options() or None


def connection_options() -> dict[str, str]:
    """Object-storage options from the Airflow connection `settings.lake_conn_id()`, deltalake style.

    Connections of type `aws`, `wasb` and `google_cloud_platform` are understood (see
    `lake.credentials`). Without a connection id, no options are returned and both pyarrow and
    deltalake use their default credential chains (environment variables, instance metadata,
    managed identity). AWS role assumption and profiles, which the amazon provider's hook would
    resolve, are not read.
    """
    conn_id = settings.lake_conn_id()
    if not conn_id:
        return {}
    from airflow.sdk import BaseHook  # only in tasks: needs the Airflow runtime

    conn = BaseHook.get_connection(conn_id)
    return options_from_connection(conn.conn_type, conn.login, conn.password, conn.extra_dejson, conn_id, conn.host)
