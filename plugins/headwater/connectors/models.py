"""The `connector:` section of a source file: one pydantic model per connector type.

Imported at DAG parse time, so only pydantic and the standard library may be imported here.
`registry.py` lists which model each `type` names and builds the discriminated union `Connector`
from that list (also importable from here).
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from headwater import settings
from headwater.config.base import FieldProblem, StrictModel

from .http.models import DynamicsConnector, HttpApiConnector, MarketingCloudConnector  # noqa: F401  (re-exported: every type's model is importable from here)
from .salesforce_models import SalesforceConnector  # noqa: F401  (re-exported)
from .sql_text import check_read_only_query

FileFormat = Literal["csv", "jsonl", "json", "parquet"]


class CsvOptions(StrictModel):
    """How CSV files are parsed. Every column is read as text; the mapping section casts."""

    delimiter: str = Field(",", min_length=1, max_length=1)
    quotechar: str = Field('"', min_length=1, max_length=1)
    escapechar: str | None = Field(None, min_length=1, max_length=1)
    header: bool = True
    column_names: list[str] | None = Field(None, min_length=1)
    encoding: str = "utf-8"
    skip_rows: int = Field(0, ge=0)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding '{value}' (e.g. utf-8, latin-1, cp1252)") from None
        return value

    @model_validator(mode="after")
    def _names_without_header(self) -> CsvOptions:
        if not self.header and not self.column_names:
            raise ValueError("csv.column_names is required when csv.header is false")
        return self


Compression = Literal["auto", "none", "gzip", "bz2", "zip", "zstd"]


class _FileOptions(StrictModel):
    """What to read and how, shared by every file source (local disk, object stores, SFTP)."""

    path: str = Field(
        min_length=1,
        description="A file, a folder/prefix (everything under it), or a glob (`*` within a folder, `**` across).",
    )
    exclude: list[str] = Field(default_factory=list, description="Globs of files to leave out (`archive/*`, `*.tmp`).")
    format: FileFormat | None = Field(None, description="File format (default: from the extension).")
    compression: Compression = Field("auto", description="auto: from the extension (.gz, .bz2, .zip, .zst).")
    csv: CsvOptions = CsvOptions()
    incremental: bool = Field(True, description="Read only files that are new or changed since the last run.")
    forget_missing_after_days: float = Field(
        30,
        ge=0,
        description="Incremental: how long a file no longer listed stays in the state (0: forget it at once). "
        "A file that comes back unchanged within this time is not read again.",
    )
    chunk_size: int = Field(100_000, gt=0, description="Rows per chunk (bounds memory).")

    @field_validator("path", "exclude")
    @classmethod
    def _no_parent_segments(cls, value: str | list[str]) -> str | list[str]:
        # The folder a path names is the root nothing is read outside of: it is written out,
        # never reached through `..` (which object stores would not even read as "parent").
        for text in [value] if isinstance(value, str) else value:
            if ".." in text.replace("\\", "/").split("/"):
                raise ValueError(f"'{text}' contains a '..' segment: name the folder directly (absolute paths are allowed)")
        return value


class LocalFilesConnector(_FileOptions):
    """Files on the worker's disk, selected by a glob (`**` recurses)."""

    type: Literal["local_files"]
    conn_id: str | None = None  # fs connection; unused for local files, kept for symmetry

    def resolved_pattern(self) -> Path:
        """The glob as an absolute path (relative paths resolve against the include folder)."""
        path = Path(self.path).expanduser()
        return path if path.is_absolute() else settings.include_dir() / path


def _no_nul(value):
    """Names and values with a NUL character: no database takes them (PostgreSQL text cannot hold one)."""
    texts = value if isinstance(value, list) else [value]
    if any(isinstance(t, str) and "\x00" in t for t in texts):
        raise ValueError("must not contain a NUL character (\\x00)")
    return value


class CursorConfig(StrictModel):
    """Incremental reads: only rows whose `column` is at or after the last run's maximum."""

    column: str = Field(min_length=1)
    initial_value: str | int | float | None = None

    _no_nul = field_validator("column", "initial_value")(_no_nul)


def check_selection(model):
    """One of `table` or `query`; the cursor and primary key among `columns` when columns are chosen
    (every table-or-query source: the SQL databases and BigQuery)."""
    if (model.table is None) == (model.query is None):
        which = "not both" if model.table else "one is required"
        raise ValueError(f"set exactly one of `table` or `query` ({which})")
    if model.columns is not None:
        if model.cursor and model.cursor.column not in model.columns:
            raise FieldProblem(
                "cursor", f"cursor column '{model.cursor.column}' is not selected; add it to connector.columns"
            )
        for i, key in enumerate(model.primary_key):
            if key not in model.columns:
                raise FieldProblem(
                    f"primary_key.{i}", f"primary key column '{key}' is not selected; add it to connector.columns"
                )
    return model


class SqlConnectorBase(StrictModel):
    """Fields shared by every SQL connector."""

    # How `query` is read by the read-only check (sql_text.READINGS): literals and comments differ.
    sql_dialect: ClassVar[str] = "generic"
    conn_id: str | None = None
    table: str | None = None
    query: str | None = None
    columns: list[str] | None = Field(None, min_length=1)
    primary_key: list[str] = []
    cursor: CursorConfig | None = None
    chunk_size: int = Field(50_000, gt=0)

    @field_validator("primary_key", mode="before")
    @classmethod
    def _key_as_list(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    _no_nul = field_validator("table", "columns", "primary_key")(_no_nul)

    @field_validator("table")
    @classmethod
    def _table_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[^.\s]([^.]*[^.\s])?(\.[^.\s]([^.]*[^.\s])?)?", value):
            raise ValueError(f"table must be `name` or `schema.name`, got '{value}'")
        return value

    @field_validator("query")
    @classmethod
    def _read_only(cls, value: str | None) -> str | None:
        return None if value is None else check_read_only_query(value, cls.sql_dialect)

    @model_validator(mode="after")
    def _selection(self) -> SqlConnectorBase:
        return check_selection(self)


class SqliteConnector(SqlConnectorBase):
    """A SQLite database: an Airflow `sqlite` connection, or a file path (`database`)."""

    type: Literal["sqlite"]
    sql_dialect: ClassVar[str] = "sqlite"
    database: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _one_location(self) -> SqliteConnector:
        if (self.conn_id is None) == (self.database is None):
            raise ValueError(
                "set exactly one of `conn_id` (an Airflow sqlite connection) or `database` (a file path)"
            )
        return self

    def database_path(self) -> Path | None:
        """`database` as an absolute path (relative paths resolve against the include folder)."""
        if self.database is None:
            return None
        path = Path(self.database).expanduser()
        return path if path.is_absolute() else settings.include_dir() / path


class PostgresConnector(SqlConnectorBase):
    """A PostgreSQL table or read-only query, through an Airflow `postgres` connection."""

    type: Literal["postgres"]
    sql_dialect: ClassVar[str] = "postgres"
    conn_id: str = Field(min_length=1)


class MySqlConnector(SqlConnectorBase):
    """A MySQL/MariaDB table or read-only query, through an Airflow `mysql` connection."""

    type: Literal["mysql"]
    sql_dialect: ClassVar[str] = "mysql"
    conn_id: str = Field(min_length=1)

    @model_validator(mode="after")
    def _no_placeholder_text(self) -> MySqlConnector:
        # The driver binds the watermark client-side and its placeholder parsing misreads `%s` and
        # `%(` even when escaped as `%%`, so such a name or query would make the incremental read fail.
        if self.cursor is None:
            return self
        named = {"table": self.table, "query": self.query, "cursor": self.cursor.column}
        named.update({f"columns.{i}": c for i, c in enumerate(self.columns or [])})
        named.update({f"primary_key.{i}": c for i, c in enumerate(self.primary_key)})
        for where, text in named.items():
            if text and "%s" in text:
                raise FieldProblem(
                    where, "'%s' cannot be used in a MySQL source with a cursor (the driver reads it as a parameter)"
                )
        return self


class MsSqlConnector(SqlConnectorBase):
    """A SQL Server / Azure SQL table or read-only query, through an Airflow `mssql` connection."""

    type: Literal["mssql"]
    sql_dialect: ClassVar[str] = "mssql"
    conn_id: str = Field(min_length=1)


class RedshiftUnload(StrictModel):
    """Big Redshift tables: `UNLOAD ... FORMAT PARQUET` into S3, then read from there."""

    above_mb: float = Field(
        1024, ge=0, description="Tables at least this big (svv_table_info.size, MB) are unloaded; 0: always."
    )
    staging: str = Field(
        pattern=r"^s3://[^/]+/.*$",
        description="s3://bucket/prefix/ the run's Parquet files go under (one folder per run, removed after the read).",
    )
    aws_conn_id: str = Field("aws_default", min_length=1, description="Airflow `aws` connection that reads the staged files.")


class RedshiftConnector(SqlConnectorBase):
    """An Amazon Redshift table or read-only query, through an Airflow `redshift` connection."""

    type: Literal["redshift"]
    sql_dialect: ClassVar[str] = "postgres"
    conn_id: str = Field(min_length=1)
    unload: RedshiftUnload | None = Field(
        None, description="Read tables above a size through UNLOAD to S3 (Parquet); omit to always read over the wire."
    )

    @model_validator(mode="after")
    def _unload_tables_only(self) -> RedshiftConnector:
        if self.unload is not None and self.table is None:
            raise FieldProblem("unload", "unload applies to `table` sources (a query is always read over the wire)")
        return self


class S3Connector(_FileOptions):
    """Objects in an Amazon S3 (or S3-compatible) bucket, through an Airflow `aws` connection."""

    type: Literal["s3"]
    conn_id: str = Field(min_length=1)
    bucket: str = Field(min_length=3, description="Bucket name; `path` is the key, prefix or glob inside it.")


class GcsConnector(_FileOptions):
    """Objects in a Google Cloud Storage bucket, through an Airflow `google_cloud_platform` connection."""

    type: Literal["gcs"]
    conn_id: str = Field(min_length=1)
    bucket: str = Field(min_length=3, description="Bucket name; `path` is the object name, prefix or glob inside it.")


class AzureBlobConnector(_FileOptions):
    """Blobs in an Azure Storage container, through an Airflow `wasb` connection."""

    type: Literal["azure_blob"]
    conn_id: str = Field(min_length=1)
    container: str = Field(min_length=3, description="Container name; `path` is the blob name, prefix or glob.")


class SftpConnector(_FileOptions):
    """Files on an SFTP server, through an Airflow `sftp` connection (host key verified by default)."""

    type: Literal["sftp"]
    conn_id: str = Field(min_length=1)


class BigQueryConnector(StrictModel):
    """A BigQuery table or read-only query, through an Airflow `google_cloud_platform` connection.

    Project, dataset and location default to the connection (extras `project`, `dataset`,
    `location`); the fields here override them for one source.
    """

    type: Literal["bigquery"]
    conn_id: str = Field(min_length=1, description="An Airflow `google_cloud_platform` connection.")
    project: str | None = Field(None, min_length=1, description="Project of the table and of the query jobs (default: the connection's).")
    dataset: str | None = Field(None, min_length=1, description="Dataset of a `table` named without one (default: the connection's extra `dataset`).")
    location: str | None = Field(None, min_length=1, description="Where jobs run, e.g. `EU`, `US`, `europe-west1` (default: the connection's).")
    table: str | None = Field(None, description="`table`, `dataset.table` or `project.dataset.table`.")
    query: str | None = Field(None, description="A read-only GoogleSQL SELECT/WITH statement, run as a query job.")
    columns: list[str] | None = Field(None, min_length=1)
    primary_key: list[str] = []
    cursor: CursorConfig | None = Field(None, description="Incremental on a TIMESTAMP, DATETIME, DATE or INT64 column.")
    where: str | None = Field(
        None,
        min_length=1,
        description="A GoogleSQL condition added to every read, e.g. a partition filter "
        "`_PARTITIONDATE >= DATE_SUB(CURRENT_DATE(), INTERVAL 3 DAY)`, so a run scans only those partitions.",
    )
    read_api: Literal["auto", "storage", "rest"] = Field(
        "auto",
        description="auto: the Storage Read API (Arrow) where it is installed and permitted, else pages of "
        "the REST API; storage: the Storage Read API only; rest: pages of the REST API only.",
    )
    maximum_bytes_billed: int | None = Field(
        None, gt=0, description="Query jobs fail instead of billing more than this many bytes."
    )
    chunk_size: int = Field(50_000, gt=0, description="Rows per chunk (and per REST page).")

    @field_validator("primary_key", mode="before")
    @classmethod
    def _key_as_list(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    _no_nul = field_validator("table", "columns", "primary_key", "where")(_no_nul)

    @field_validator("table")
    @classmethod
    def _table_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_$-]+){0,2}", value.replace(":", "")):
            raise ValueError(f"table must be `table`, `dataset.table` or `project.dataset.table`, got '{value}'")
        return value

    @field_validator("query")
    @classmethod
    def _read_only(cls, value: str | None) -> str | None:
        return None if value is None else check_read_only_query(value)

    @field_validator("where")
    @classmethod
    def _condition(cls, value: str | None) -> str | None:
        # Checked as the query it becomes part of: no second statement, nothing that writes.
        if value is not None:
            try:
                check_read_only_query(f"SELECT 1 FROM t WHERE ({value})")
            except ValueError as exc:
                raise ValueError(str(exc).replace("query", "where")) from None
        return value

    @model_validator(mode="after")
    def _selection(self) -> BigQueryConnector:
        return check_selection(self)


InletCall = Literal["identify", "track", "page", "screen", "group", "alias"]
INLET_CALLS: tuple[str, ...] = ("identify", "track", "page", "screen", "group", "alias")


class HttpInletConnector(StrictModel):
    """Events sent to `headwater inlet` (Segment / Customer.io Data Pipelines HTTP spec) with this source's write keys.

    Each run reads the events logged since the last run (at most `max_events_per_run`) as rows:
    one column per spec field (`type`, `messageId`, `userId`, `anonymousId`, `event`, `name`,
    `groupId`, `previousId`, `timestamp`, ...) with `traits`, `properties` and `context` as JSON
    text (read them with `json_extract(traits, '$.email')`).
    """

    type: Literal["http_inlet"]
    stream: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Read the events sent with another http_inlet source's write keys (default: this source's own).",
    )
    calls: list[InletCall] = Field(
        default_factory=lambda: list(INLET_CALLS),
        min_length=1,
        description="Which calls become rows; the others are passed over (e.g. identify → profiles, track → events).",
    )
    max_events_per_run: int = Field(50_000, gt=0, description="Events one micro-batch reads at most.")
    dedup_window_seconds: float = Field(
        3600, ge=0, description="A messageId seen again within this time is dropped as a duplicate."
    )
    rate_limit: float = Field(
        0, ge=0, description="Events per second one write key may send (429 + Retry-After above it); 0: no limit."
    )
    poll_seconds: float = Field(
        5, gt=0, description="How often the triggerer looks for new events (`schedule` is the fallback; default 10m)."
    )

    @field_validator("calls")
    @classmethod
    def _calls_once(cls, calls: list[str]) -> list[str]:
        return list(dict.fromkeys(calls))

    def stream_name(self, source_name: str) -> str:
        return self.stream or source_name


def __getattr__(name: str):
    # `Connector`, the union of every type's model, is derived from the registry (the one list of
    # connector types), which imports this module: so it is looked up there on first use.
    if name == "Connector":
        from .registry import Connector

        return Connector
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
