"""Explicit registry of connector types: type name -> config model, hook class path, label.

YAML never names a Python path; it names a `type`, and only the types listed here exist.
Hooks are imported lazily (`load_hook`), inside tasks, because they import provider hooks and
pyarrow.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from headwater.config.base import StrictModel
from headwater.errors import HeadwaterError

from .models import (
    AzureBlobConnector,
    GcsConnector,
    HttpInletConnector,
    LocalFilesConnector,
    MySqlConnector,
    PostgresConnector,
    S3Connector,
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


REGISTRY: dict[str, ConnectorSpec] = {
    "local_files": ConnectorSpec(
        LocalFilesConnector, "headwater.connectors.files:LocalFilesHook", "Local files"
    ),
    "s3": ConnectorSpec(S3Connector, "headwater.connectors.s3:S3SourceHook", "Amazon S3"),
    "gcs": ConnectorSpec(GcsConnector, "headwater.connectors.gcs:GcsSourceHook", "Google Cloud Storage"),
    "azure_blob": ConnectorSpec(AzureBlobConnector, "headwater.connectors.azure_blob:AzureBlobSourceHook", "Azure Blob Storage"),
    "sftp": ConnectorSpec(SftpConnector, "headwater.connectors.sftp:SftpSourceHook", "SFTP"),
    "sqlite": ConnectorSpec(SqliteConnector, "headwater.connectors.sqlite:SqliteSourceHook", "SQLite"),
    "postgres": ConnectorSpec(
        PostgresConnector, "headwater.connectors.postgres:PostgresSourceHook", "PostgreSQL"
    ),
    "mysql": ConnectorSpec(MySqlConnector, "headwater.connectors.mysql:MySqlSourceHook", "MySQL / MariaDB"),
    "http_inlet": ConnectorSpec(
        HttpInletConnector, "headwater.connectors.http_inlet:HttpInletHook", "HTTP inlet (Segment spec)"
    ),
}


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
