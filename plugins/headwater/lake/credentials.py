"""An Airflow connection's fields as object-storage options for the lake (delta-rs style keys).

One function per connection type the providers define: `aws` (S3 and S3-compatible stores),
`wasb` (Azure Blob / ADLS Gen2) and `google_cloud_platform` (GCS). Extras are read by name, never
spread wholesale, so nothing unexpected (or secret) reaches a client that would log it. The same
options also build the pyarrow filesystem that writes staging parts (`lake.storage.filesystem`),
so the two clients never disagree about where or who.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse

from headwater.errors import HeadwaterError

# Extras of an Airflow "aws" connection read by name → deltalake option.
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

SUPPORTED_TYPES = ("aws", "wasb", "google_cloud_platform")


def options_from_connection(
    conn_type: str | None,
    login: str | None,
    password: str | None,
    extra: dict[str, Any],
    conn_id: str = "lake connection",
    host: str | None = None,
) -> dict[str, str]:
    """Map the fields of one connection to deltalake storage options."""
    kind = (conn_type or "").lower()
    if kind == "aws":
        return _aws(login, password, extra)
    if kind == "wasb":
        return _azure(login, password, extra, host, conn_id)
    if kind in ("google_cloud_platform", "gcp"):
        return _gcp(extra, conn_id)
    raise HeadwaterError(
        f"connection {conn_id!r} has type {conn_type!r}; the lake takes connections of type "
        f"{', '.join(repr(t) for t in SUPPORTED_TYPES)}"
    )


def _extra(extra: dict[str, Any], name: str, provider: str) -> Any:
    """An extra by its plain name, or by the `extra__<provider>__<name>` form older UIs saved."""
    value = extra.get(name)
    if value in (None, ""):
        value = extra.get(f"extra__{provider}__{name}")
    return None if value in (None, "") else value


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _aws(login: str | None, password: str | None, extra: dict[str, Any]) -> dict[str, str]:
    options: dict[str, str] = {}
    if login:
        options["AWS_ACCESS_KEY_ID"] = login
    if password:
        options["AWS_SECRET_ACCESS_KEY"] = password
    for key, option in _AWS_EXTRAS.items():
        value = extra.get(key)
        if value not in (None, ""):
            options[option] = _text(value)
    if options.get("AWS_ENDPOINT_URL", "").startswith("http://"):
        options["AWS_ALLOW_HTTP"] = "true"
    return options


def _connection_string(text: str) -> dict[str, str]:
    """`Key=Value;Key=Value` (Azure storage connection string); values may contain '='."""
    parts = (p.split("=", 1) for p in text.split(";") if "=" in p)
    return {k.strip(): v.strip() for k, v in parts}


def _azure(login, password, extra, host, conn_id) -> dict[str, str]:
    """Account key, SAS token or service principal, as the WasbHook reads them.

    A connection string wins (its `BlobEndpoint` also points at Azurite or a private endpoint);
    else `tenant_id` in the extras means login/password are a service principal's client id and
    secret, otherwise the account name and key.
    """
    options: dict[str, str] = {}
    endpoint = None
    conn_str = _extra(extra, "connection_string", "wasb")
    if conn_str:
        fields = _connection_string(conn_str)
        if "AccountName" in fields:
            options["AZURE_STORAGE_ACCOUNT_NAME"] = fields["AccountName"]
        if "AccountKey" in fields:
            options["AZURE_STORAGE_ACCOUNT_KEY"] = fields["AccountKey"]
        if "SharedAccessSignature" in fields:
            options["AZURE_STORAGE_SAS_KEY"] = fields["SharedAccessSignature"]
        endpoint = fields.get("BlobEndpoint")
    else:
        tenant = _extra(extra, "tenant_id", "wasb")
        if tenant:
            options.update(AZURE_STORAGE_TENANT_ID=str(tenant))
            if login:
                options["AZURE_STORAGE_CLIENT_ID"] = login
            if password:
                options["AZURE_STORAGE_CLIENT_SECRET"] = password
        else:
            if login:
                options["AZURE_STORAGE_ACCOUNT_NAME"] = login
            if password:
                options["AZURE_STORAGE_ACCOUNT_KEY"] = password
        sas = _extra(extra, "sas_token", "wasb")
        if sas:
            options["AZURE_STORAGE_SAS_KEY"] = str(sas).lstrip("?")
        # The WasbHook takes the account URL in `host`: only a non-Azure one (Azurite, a private
        # endpoint) needs passing on; for *.core.windows.net the client derives it from the URI.
        url = urlparse(host or "")
        if url.scheme in ("http", "https") and not url.netloc.endswith(".windows.net"):
            endpoint = host
    if endpoint:
        options["AZURE_STORAGE_ENDPOINT"] = endpoint.rstrip("/")
        if endpoint.startswith("http://"):
            options["allow_http"] = "true"
    if not options:
        raise HeadwaterError(
            f"connection {conn_id!r} (wasb) has no credentials for the lake: set a connection_string, "
            "or login/password (account name and key, or a service principal with tenant_id)"
        )
    return options


def _gcp(extra: dict[str, Any], conn_id: str) -> dict[str, str]:
    """A service account key, from a file (`key_path`) or inline (`keyfile_dict`)."""
    key_path = _extra(extra, "key_path", "google_cloud_platform")
    if key_path:
        return {"GOOGLE_SERVICE_ACCOUNT": str(key_path)}
    keyfile = _extra(extra, "keyfile_dict", "google_cloud_platform")
    if keyfile:
        text = keyfile if isinstance(keyfile, str) else json.dumps(keyfile)
        try:
            json.loads(text)
        except ValueError as exc:
            raise HeadwaterError(f"connection {conn_id!r}: keyfile_dict is not JSON ({exc})") from None
        return {"GOOGLE_SERVICE_ACCOUNT_KEY": text}
    raise HeadwaterError(
        f"connection {conn_id!r} (google_cloud_platform) has no service account key for the lake: "
        "set key_path or keyfile_dict, or leave HEADWATER_LAKE_CONN_ID unset to use the default "
        "credentials of the machine (GOOGLE_APPLICATION_CREDENTIALS, workload identity)"
    )
