"""Explicit registry of connector types: type name -> config model, hook class path, label.

This is the one list of connector types. YAML never names a Python path; it names a `type`, and
only the types listed here exist. The config union (`Connector`, hence the JSON schema), the
type-specific select operators and the type table of docs/connectors.md are derived from it:
adding a type is its config model, its hook module and one entry here.
Hooks are imported lazily (`load_hook`), inside tasks, because they import provider hooks and
pyarrow.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Union

from pydantic import Field

from headwater.config.base import StrictModel
from headwater.errors import HeadwaterError

from .models import (
    AzureBlobConnector,
    BigQueryConnector,
    DynamicsConnector,
    GcsConnector,
    HttpApiConnector,
    HttpInletConnector,
    LocalFilesConnector,
    MarketingCloudConnector,
    MsSqlConnector,
    MySqlConnector,
    PostgresConnector,
    RedshiftConnector,
    S3Connector,
    SalesforceConnector,
    SftpConnector,
    SqliteConnector,
)

if TYPE_CHECKING:
    from .base import SourceReader


class UnknownConnectorType(HeadwaterError, LookupError):
    """A connector type that is not registered (the config models normally prevent this)."""


@dataclass(frozen=True)
class ConnectorSpec:
    """What Headwater knows about one connector type."""

    config_model: type[StrictModel]
    hook_path: str  # "module:Class", imported only when a task needs it
    label: str
    operator: str  # name of its select operator class (`operators.select`), e.g. PostgresSelectOperator
    reads: str  # one line for the type table of docs/connectors.md


REGISTRY: dict[str, ConnectorSpec] = {
    "local_files": ConnectorSpec(
        LocalFilesConnector,
        "headwater.connectors.files:LocalFilesHook",
        "Local files",
        "LocalFilesSelectOperator",
        "CSV, JSON lines, JSON arrays, Parquet (plain, gzip, bz2, zstd or zip) on the worker's disk",
    ),
    "s3": ConnectorSpec(
        S3Connector,
        "headwater.connectors.s3:S3SourceHook",
        "Amazon S3",
        "S3SelectOperator",
        "the same formats in an Amazon S3 (or S3-compatible) bucket",
    ),
    "gcs": ConnectorSpec(
        GcsConnector,
        "headwater.connectors.gcs:GcsSourceHook",
        "Google Cloud Storage",
        "GcsSelectOperator",
        "the same formats in a Google Cloud Storage bucket",
    ),
    "azure_blob": ConnectorSpec(
        AzureBlobConnector,
        "headwater.connectors.azure_blob:AzureBlobSourceHook",
        "Azure Blob Storage",
        "AzureBlobSelectOperator",
        "the same formats in an Azure Blob Storage container",
    ),
    "sftp": ConnectorSpec(
        SftpConnector,
        "headwater.connectors.sftp:SftpSourceHook",
        "SFTP",
        "SftpSelectOperator",
        "the same formats on an SFTP server",
    ),
    "sqlite": ConnectorSpec(
        SqliteConnector,
        "headwater.connectors.sqlite:SqliteSourceHook",
        "SQLite",
        "SqliteSelectOperator",
        "a SQLite table or read-only query",
    ),
    "postgres": ConnectorSpec(
        PostgresConnector,
        "headwater.connectors.postgres:PostgresSourceHook",
        "PostgreSQL",
        "PostgresSelectOperator",
        "a PostgreSQL table or read-only query",
    ),
    "mysql": ConnectorSpec(
        MySqlConnector,
        "headwater.connectors.mysql:MySqlSourceHook",
        "MySQL / MariaDB",
        "MySqlSelectOperator",
        "a MySQL / MariaDB table or read-only query",
    ),
    "mssql": ConnectorSpec(
        MsSqlConnector,
        "headwater.connectors.mssql:MsSqlSourceHook",
        "Microsoft SQL Server",
        "MsSqlSelectOperator",
        "a SQL Server (or Azure SQL) table or read-only query",
    ),
    "redshift": ConnectorSpec(
        RedshiftConnector,
        "headwater.connectors.redshift:RedshiftSourceHook",
        "Amazon Redshift",
        "RedshiftSelectOperator",
        "a Redshift table or read-only query; big tables through UNLOAD to S3 (Parquet)",
    ),
    "bigquery": ConnectorSpec(
        BigQueryConnector,
        "headwater.connectors.bigquery:BigQuerySourceHook",
        "Google BigQuery",
        "BigQuerySelectOperator",
        "a Google BigQuery table or read-only query",
    ),
    "http_api": ConnectorSpec(
        HttpApiConnector,
        "headwater.connectors.http.source:HttpApiSourceHook",
        "HTTP API",
        "HttpApiSelectOperator",
        "any JSON REST API described in YAML (auth, paging, records, incremental)",
    ),
    "dynamics": ConnectorSpec(
        DynamicsConnector,
        "headwater.connectors.dynamics:DynamicsSourceHook",
        "Microsoft Dynamics 365 / Dataverse",
        "DynamicsSelectOperator",
        "a Microsoft Dynamics 365 / Dataverse entity set (Web API, OData)",
    ),
    "salesforce_marketing_cloud": ConnectorSpec(
        MarketingCloudConnector,
        "headwater.connectors.marketing_cloud:MarketingCloudSourceHook",
        "Salesforce Marketing Cloud",
        "MarketingCloudSelectOperator",
        "rows of a Salesforce Marketing Cloud data extension (REST)",
    ),
    "salesforce": ConnectorSpec(
        SalesforceConnector,
        "headwater.connectors.salesforce:SalesforceSourceHook",
        "Salesforce",
        "SalesforceSelectOperator",
        "Salesforce objects (REST query / queryAll, Bulk API 2.0 for large extracts)",
    ),
    "http_inlet": ConnectorSpec(
        HttpInletConnector,
        "headwater.connectors.http_inlet:HttpInletHook",
        "HTTP inlet (Segment spec)",
        "HttpInletSelectOperator",
        "events sent to `headwater inlet` (Segment / Customer.io Data Pipelines HTTP spec), read in "
        "micro-batches from the event log; see [streaming.md](streaming.md)",
    ),
}

# The `connector:` section: one model per registered type, picked by `type`.
Connector = Annotated[Union[tuple(spec.config_model for spec in REGISTRY.values())], Field(discriminator="type")]  # noqa: UP007


def hook_class_name(spec: ConnectorSpec) -> str:
    """`module.Class` of the hook, relative to `headwater.connectors` (for docs and messages)."""
    module, _, cls = spec.hook_path.partition(":")
    return f"{module.removeprefix('headwater.connectors.')}.{cls}"


def get_spec(type_name: str) -> ConnectorSpec:
    try:
        return REGISTRY[type_name]
    except KeyError:
        valid = ", ".join(sorted(REGISTRY))
        raise UnknownConnectorType(f"unknown connector type '{type_name}'; valid types: {valid}") from None


def load_hook(spec: ConnectorSpec) -> type[SourceReader]:
    """Import the hook class of `spec` (heavy imports happen here, not at DAG parse time)."""
    module_name, _, class_name = spec.hook_path.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def make_hook(config: StrictModel, *, source_name: str | None = None, **kwargs) -> SourceReader:
    """The hook for a validated `connector:` section: `make_hook(source.connector).read(state)`.

    `source_name` reaches only the hooks that read per source (http_inlet: its consumer name);
    the others pass their keyword arguments on to provider hooks.
    """
    if config.type == "http_inlet":  # type: ignore[attr-defined]
        kwargs["source_name"] = source_name
    return load_hook(get_spec(config.type))(config=config, **kwargs)  # type: ignore[attr-defined]
