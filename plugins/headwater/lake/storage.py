"""Where the lake lives and how to reach it: a local folder, or s3:// gs:// abfs:// by configuration.

Two clients touch the lake: pyarrow (staging Parquet parts) and deltalake (tables). Both get their
location and credentials from here, so the two never disagree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from headwater import settings
from headwater.errors import HeadwaterError

if TYPE_CHECKING:
    import pyarrow.fs as pafs

_REMOTE_SCHEMES = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"}

# Extras of an Airflow "aws" connection read by name (never spread wholesale) → deltalake option.
_AWS_EXTRAS = {
    "region_name": "AWS_REGION",
    "aws_session_token": "AWS_SESSION_TOKEN",
    "endpoint_url": "AWS_ENDPOINT_URL",
    # S3 has no atomic rename: delta-rs needs a locking provider (DynamoDB) for concurrent writers,
    # or an explicit opt-out. Operators choose; we only forward their choice.
    "aws_s3_locking_provider": "AWS_S3_LOCKING_PROVIDER",
    "delta_dynamo_table_name": "DELTA_DYNAMO_TABLE_NAME",
    "aws_s3_allow_unsafe_rename": "AWS_S3_ALLOW_UNSAFE_RENAME",
}


def lake_root(root: str | None = None) -> str:
    """The lake root (`settings.lake_uri()` unless given), without a trailing slash; local as a path."""
    value = (root or settings.lake_uri()).rstrip("/")
    return value[len("file://") :] if value.startswith("file://") else value


def is_remote(uri: str) -> bool:
    return urlparse(uri).scheme.lower() in _REMOTE_SCHEMES


def join(base: str, *parts: str) -> str:
    """`base/part/part` for local paths and URIs alike (the lake always uses forward slashes)."""
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])


def filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """pyarrow filesystem and the path inside it for a lake location (local path or URI)."""
    import pyarrow.fs as pafs

    if not is_remote(uri):
        return pafs.LocalFileSystem(), uri
    options = connection_options()
    scheme = urlparse(uri).scheme.lower()
    if options and scheme in ("s3", "s3a"):
        endpoint = options.get("AWS_ENDPOINT_URL")
        parsed = urlparse(endpoint) if endpoint else None
        fs = pafs.S3FileSystem(
            access_key=options.get("AWS_ACCESS_KEY_ID"),
            secret_key=options.get("AWS_SECRET_ACCESS_KEY"),
            session_token=options.get("AWS_SESSION_TOKEN"),
            region=options.get("AWS_REGION"),
            endpoint_override=parsed.netloc if parsed else None,
            scheme=parsed.scheme if parsed else "https",
        )
        return fs, uri.split("://", 1)[1]
    # No connection: pyarrow finds credentials the usual way (environment, instance metadata).
    return pafs.FileSystem.from_uri(uri)


def storage_options(uri: str) -> dict[str, str] | None:
    """deltalake `storage_options` for a table location; None for local tables."""
    if not is_remote(uri):
        return None
    return connection_options() or None


def connection_options() -> dict[str, str]:
    """Object-storage options from the Airflow connection `settings.lake_conn_id()`, deltalake style.

    What is implemented: an Airflow connection of type `aws` (login = access key id, password =
    secret key, extras `region_name`, `endpoint_url`, `aws_session_token`, and the delta-rs S3
    locking settings `aws_s3_locking_provider`, `delta_dynamo_table_name`,
    `aws_s3_allow_unsafe_rename`). An http:// endpoint (MinIO, moto) sets `AWS_ALLOW_HTTP`.

    Not implemented yet: Google Cloud and Azure connections (they raise, rather than silently using
    other credentials), and AWS role assumption / profiles, which the amazon provider's hook would
    resolve. Without a connection id, no options are returned and both pyarrow and deltalake use
    their default credential chains (environment variables, instance metadata).
    """
    conn_id = settings.lake_conn_id()
    if not conn_id:
        return {}
    from airflow.sdk import BaseHook  # only in tasks: needs the Airflow runtime

    conn = BaseHook.get_connection(conn_id)
    return options_from_connection(conn.conn_type, conn.login, conn.password, conn.extra_dejson, conn_id)


def options_from_connection(
    conn_type: str | None,
    login: str | None,
    password: str | None,
    extra: dict[str, Any],
    conn_id: str = "lake connection",
) -> dict[str, str]:
    """Map the fields of one connection to deltalake storage options (see `connection_options`)."""
    if (conn_type or "").lower() != "aws":
        raise HeadwaterError(
            f"connection {conn_id!r} has type {conn_type!r}; the lake supports only 'aws' connections "
            "so far. For gs:// or abfs:// leave HEADWATER_LAKE_CONN_ID unset and provide credentials "
            "through the environment."
        )
    options: dict[str, str] = {}
    if login:
        options["AWS_ACCESS_KEY_ID"] = login
    if password:
        options["AWS_SECRET_ACCESS_KEY"] = password
    for key, option in _AWS_EXTRAS.items():
        value = extra.get(key)
        if value not in (None, ""):
            options[option] = str(value).lower() if isinstance(value, bool) else str(value)
    if options.get("AWS_ENDPOINT_URL", "").startswith("http://"):
        options["AWS_ALLOW_HTTP"] = "true"
    return options
