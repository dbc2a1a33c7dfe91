"""Google BigQuery source hook, on the google provider's `BigQueryHook`.

Two ways rows are read, both ending in the same Arrow types (`bigquery_types.conform`):

- a whole table (no cursor, no `where`): read directly, with no query job and nothing billed for
  a query: through the BigQuery Storage Read API (Arrow record batches over gRPC) where it is
  installed and permitted, otherwise page by page through `tabledata.list`;
- anything else (a `query`, a cursor, a `where`): one query job,
  `SELECT cols FROM … WHERE (where) AND cursor >= @hw_watermark ORDER BY cursor`, the watermark a
  bound query parameter; its result is read through the Storage Read API (one stream, which keeps
  the order) or page by page. Bytes processed and billed are written into the run record.

Incremental reads keep the watermark rules of the SQL sources (`sql.CursorTracker`): rows at
exactly the watermark are read again and those already loaded are dropped by key.

The connection is a `google_cloud_platform` connection (key_path / keyfile_dict / ADC, or
is_anonymous for an emulator). Extras read by name: `project`, `dataset`, `location`,
`api_endpoint` (REST), `storage_api_endpoint` (gRPC host:port; `http://host:port` for a
plaintext emulator) and `retry_deadline` (seconds a call is retried, default 120).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from airflow.providers.google.cloud.hooks.bigquery import BigQueryHook

from headwater.errors import ConnectionCheckError, SelectionError

from .arrow_util import rechunk
from .base import Chunk, SourceReader
from .bigquery_errors import closest, first_message, translate
from .bigquery_types import CURSOR_TYPES, arrow_schema, conform
from .models import BigQueryConnector
from .sql import CursorTracker, check_columns_exist, decode_cursor

if TYPE_CHECKING:
    import pyarrow as pa
    from google.cloud import bigquery

DEFAULT_ENDPOINT = "https://bigquery.googleapis.com"
DEFAULT_RETRY_DEADLINE = 120.0
WATERMARK_PARAM = "hw_watermark"


def quote(name: str) -> str:
    """A GoogleSQL quoted identifier (backticks; a backtick or backslash inside is escaped)."""
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def human_bytes(count: int | None) -> str:
    if count is None:
        return "unknown"
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{count} B" if unit == "B" else f"{size:.1f} {unit} ({count} B)"
        size /= 1024
    return f"{count} B"


class BigQuerySourceHook(SourceReader, BigQueryHook):
    """
    Read a BigQuery table or read-only query in chunks, optionally incrementally.

    :param config: the source's `connector:` section (`type: bigquery`); `config.conn_id` names the
        Airflow `google_cloud_platform` connection.
    """

    hook_name = "BigQuery source (Headwater)"
    source_label = "BigQuery"

    def __init__(self, config: BigQueryConnector, **kwargs) -> None:
        if config.location:
            kwargs["location"] = config.location
        super().__init__(gcp_conn_id=config.conn_id, use_legacy_sql=False, **kwargs)
        self.config = config
        self.notes: list[str] = []
        self._next_state: dict | None = None
        self.read_path: str | None = None  # "storage" or "rest", once a read has started
        self.job_facts: dict | None = None  # the query job's id and bytes, once one ran

    # -- connection ---------------------------------------------------------------------------
    def get_client_options(self, api_endpoint_override: str | None = None):
        # An emulator or private endpoint: the extra `api_endpoint` (allow-listed by name).
        return super().get_client_options(api_endpoint_override or self._get_field("api_endpoint") or None)

    @property
    def endpoint(self) -> str:
        return self._get_field("api_endpoint") or DEFAULT_ENDPOINT

    @functools.cached_property
    def retry_deadline(self) -> float:
        return float(self._get_field("retry_deadline") or DEFAULT_RETRY_DEADLINE)

    @functools.cached_property
    def retry(self):
        from google.cloud.bigquery import DEFAULT_RETRY

        return DEFAULT_RETRY.with_deadline(self.retry_deadline)

    @functools.cached_property
    def project(self) -> str:
        with self.translated():
            project = self.config.project or self._get_field("project") or self.project_id
        if not project:
            raise ConnectionCheckError(
                f"no BigQuery project for connection '{self.config.conn_id}': set connector.project or the "
                "connection's extra `project`"
            )
        return project

    @functools.cached_property
    def client(self) -> bigquery.Client:
        with self.translated():
            return self.get_client(project_id=self.project, location=self.location)

    def storage_client(self):
        """A Storage Read API client, or None when the library is not installed."""
        try:
            from google.cloud import bigquery_storage_v1 as storage
        except ImportError:
            return None
        endpoint = self._get_field("storage_api_endpoint")
        if endpoint and endpoint.startswith("http://"):  # a plaintext emulator on loopback
            import grpc
            from google.cloud.bigquery_storage_v1.services.big_query_read.transports import (
                BigQueryReadGrpcTransport,
            )

            channel = grpc.insecure_channel(endpoint.removeprefix("http://"))
            return storage.BigQueryReadClient(transport=BigQueryReadGrpcTransport(channel=channel))
        from google.api_core.client_options import ClientOptions

        options = ClientOptions(api_endpoint=endpoint) if endpoint else None
        return storage.BigQueryReadClient(credentials=self.get_credentials(), client_options=options)

    # -- names --------------------------------------------------------------------------------
    def table_parts(self) -> tuple[str, str, str]:
        """(project, dataset, table) of `connector.table`."""
        parts = (self.config.table or "").replace(":", ".").split(".")
        if len(parts) == 3:
            return parts[0], parts[1], parts[2]
        if len(parts) == 2:
            return self.project, parts[0], parts[1]
        dataset = self.config.dataset or self._get_field("dataset")
        if not dataset:
            raise ConnectionCheckError(
                f"table '{self.config.table}' names no dataset: write it as `dataset.table`, or set "
                f"connector.dataset or the extra `dataset` of connection '{self.config.conn_id}'"
            )
        return self.project, dataset, parts[0]

    def table_id(self) -> str:
        return ".".join(self.table_parts())

    def _what(self) -> str:
        return f"table '{self.table_id()}'" if self.config.table else "the query"

    # -- errors -------------------------------------------------------------------------------
    @contextmanager
    def translated(self):
        try:
            yield
        except (ConnectionCheckError, SelectionError):
            raise
        except Exception as exc:
            error = translate(exc, conn=self.config.conn_id, endpoint=self.endpoint, not_found=self._not_found)
            if error is None:
                raise
            raise error from exc

    def _not_found(self, exc: BaseException) -> Exception:
        """Which of project, dataset, table is missing, with the closest existing names."""
        from google.api_core import exceptions as api

        note = f" (connection '{self.config.conn_id}')"
        if not self.config.table:
            return SelectionError(f"the query names something that does not exist{note}: {first_message(exc)}")
        project, dataset, table = self.table_parts()
        try:
            try:
                self.client.get_dataset(f"{project}.{dataset}", retry=self.retry)
            except api.NotFound:
                names = [d.dataset_id for d in self.client.list_datasets(project, retry=self.retry)]
                return ConnectionCheckError(
                    f"dataset '{dataset}' not found in project '{project}'{note}; {closest(dataset, names, 'dataset')}",
                    transient=False,
                )
            names = [t.table_id for t in self.client.list_tables(f"{project}.{dataset}", retry=self.retry)]
        except api.GoogleAPICallError as lookup:  # cannot even list: say what we know
            return ConnectionCheckError(
                f"{self._what()} not found{note}: {first_message(exc)} ({first_message(lookup)})", transient=False
            )
        return ConnectionCheckError(
            f"table '{table}' not found in dataset '{project}.{dataset}'{note}; {closest(table, names, 'table')}",
            transient=False,
        )

    # -- what is read -------------------------------------------------------------------------
    def source_sql(self) -> str:
        if self.config.table:
            return ".".join(quote(p) for p in self.table_parts())
        # Newlines so a trailing `-- comment` in the query cannot swallow the closing parenthesis.
        return f"(\n{self.config.query}\n) AS hw_src"

    def select_sql(self, cursor_type: str | None, watermark: object) -> tuple[str, list]:
        """The query job's text and its parameters (the watermark is bound, never formatted in)."""
        from google.cloud.bigquery import ScalarQueryParameter

        cfg = self.config
        cols = ", ".join(quote(c) for c in cfg.columns) if cfg.columns else "*"
        sql = f"SELECT {cols} FROM {self.source_sql()}"
        conditions, params = [], []
        if cfg.where:
            conditions.append(f"({cfg.where}\n)")
        if cfg.cursor and watermark is not None:
            conditions.append(f"{quote(cfg.cursor.column)} >= @{WATERMARK_PARAM}")
            params.append(ScalarQueryParameter(WATERMARK_PARAM, CURSOR_TYPES[cursor_type], watermark))
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        if cfg.cursor:
            sql += f" ORDER BY {quote(cfg.cursor.column)}"
        return sql, params

    def job_config(self, params: list | None = None, dry_run: bool = False):
        from google.cloud.bigquery import QueryJobConfig

        return QueryJobConfig(
            query_parameters=params or [],
            use_legacy_sql=False,
            dry_run=dry_run,
            use_query_cache=not dry_run,
            maximum_bytes_billed=self.config.maximum_bytes_billed,
            labels={"headwater": "select"},
        )

    def source_fields(self) -> list:
        """BigQuery schema fields of the table, or of the query (from a dry run: nothing billed)."""
        with self.translated():
            if self.config.table:
                return list(self.client.get_table(self.table_id(), retry=self.retry).schema)
            job = self.client.query(
                f"SELECT * FROM {self.source_sql()}", job_config=self.job_config(dry_run=True), retry=self.retry
            )
            if job.statement_type not in (None, "SELECT"):
                raise SelectionError(f"the query is a {job.statement_type} statement; only SELECT is read")
            return list(job.schema or [])

    def selected_fields(self, fields: list) -> list:
        by_name = {f.name: f for f in fields}
        if not self.config.columns:
            return fields
        return [by_name[c] for c in self.config.columns]

    def check_selection(self, fields: list) -> None:
        cfg = self.config
        check_columns_exist(cfg, [f.name for f in fields], f"{self._what()} (connection '{cfg.conn_id}')")
        if cfg.cursor:
            field = next(f for f in fields if f.name == cfg.cursor.column)
            if field.field_type not in CURSOR_TYPES or field.mode == "REPEATED":
                raise SelectionError(
                    f"cursor column '{cfg.cursor.column}' is {field.mode} {field.field_type}; an incremental "
                    "BigQuery read needs a TIMESTAMP, DATETIME, DATE or INT64 column"
                )

    def check(self) -> str:
        cfg = self.config
        fields = self.source_fields()
        self.check_selection(fields)
        incremental = f"; incremental on {cfg.cursor.column}" if cfg.cursor else "; full read each run"
        where = "; filtered by `where`" if cfg.where else ""
        return (
            f"BigQuery project '{self.project}' (connection '{cfg.conn_id}'): {self._what()}, "
            f"{len(cfg.columns or fields)} columns selected{incremental}{where}"
        )

    # -- reading ------------------------------------------------------------------------------
    def initial_watermark(self, cursor_type: str) -> object:
        """`cursor.initial_value` as a value of the cursor column's type (bound as a parameter)."""
        value = self.config.cursor.initial_value
        if value is None:
            return None
        try:
            if cursor_type in ("INTEGER", "INT64"):
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError("not a whole number")
                return int(value)
            text = str(value)
            if cursor_type == "DATE":
                return date.fromisoformat(text)
            parsed = datetime.fromisoformat(text)
            if cursor_type == "TIMESTAMP":
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)  # BigQuery's own default zone
            if parsed.tzinfo:
                raise ValueError("a DATETIME has no time zone")
            return parsed
        except ValueError as exc:
            raise SelectionError(
                f"cursor.initial_value {value!r} is not a {cursor_type} value for column "
                f"'{self.config.cursor.column}': {exc}"
            ) from None

    def read(self, state: dict | None) -> Iterator[Chunk]:
        cfg = self.config
        self.notes = []
        self._next_state = None
        every_field = self.source_fields()
        self.check_selection(every_field)
        fields = self.selected_fields(every_field)
        schema = arrow_schema(fields)
        tracker, watermark, cursor_type = None, None, None
        if cfg.cursor:
            cursor_type = next(f.field_type for f in fields if f.name == cfg.cursor.column)
            previous = state if state and (state.get("cursor") or {}).get("column") == cfg.cursor.column else None
            if state and previous is None:
                self.notes.append(
                    f"stored state is not for cursor column '{cfg.cursor.column}'; reading from the initial value"
                )
            watermark = decode_cursor(previous["cursor"]) if previous else self.initial_watermark(cursor_type)
            tracker = CursorTracker(cfg.cursor.column, list(cfg.primary_key), previous)
        if cfg.table and not cfg.cursor and not cfg.where:
            batches = self.table_batches(self.table_parts(), [f.name for f in fields], fields)
        else:
            batches = self.query_batches(*self.select_sql(cursor_type, watermark))
        chunks = (Chunk(self._conform(batch, schema)) for batch in batches)
        for chunk in rechunk(chunks, cfg.chunk_size):
            if tracker:
                chunk.table = tracker.filter(chunk.table)
                tracker.observe(chunk.table)
            yield chunk
        self._next_state = tracker.state() if tracker else None

    def _conform(self, batch, schema: pa.Schema) -> pa.Table:
        import pyarrow as pa

        try:
            return conform(batch, schema)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, KeyError) as exc:
            # e.g. a NUMERIC(10, 2) value with more digits than declared: never rounded silently
            raise SelectionError(
                f"{self._what()} (connection '{self.config.conn_id}') returned a value that does not fit "
                f"its declared BigQuery type: {exc}"
            ) from exc

    def _use_storage(self) -> object | None:
        """The Storage Read client to read with, or None for REST pages (with a note why)."""
        mode = self.config.read_api
        if mode == "rest":
            return None
        client = self.storage_client()
        if client is None:
            if mode == "storage":
                raise ConnectionCheckError(
                    "read_api is `storage` but google-cloud-bigquery-storage is not installed on the worker"
                )
            self.notes.append("BigQuery: google-cloud-bigquery-storage is not installed; read page by page (REST)")
        return client

    def _read_session(self, client, project: str, dataset: str, table: str, columns: list[str] | None):
        from google.api_core import exceptions as api
        from google.cloud.bigquery_storage_v1 import types

        session = types.ReadSession(
            table=f"projects/{project}/datasets/{dataset}/tables/{table}",
            data_format=types.DataFormat.ARROW,
            read_options=types.ReadSession.TableReadOptions(selected_fields=columns or []),
        )
        try:
            # One stream: rows come in the table's (or an ordered result's) order, read one batch at a time.
            return client.create_read_session(
                parent=f"projects/{self.project}", read_session=session, max_stream_count=1, timeout=self.retry_deadline
            )
        except (api.PermissionDenied, api.Forbidden, api.MethodNotImplemented) as exc:
            if self.config.read_api == "storage":
                with self.translated():
                    raise
            self.notes.append(
                f"BigQuery Storage Read API not usable ({first_message(exc)}); read page by page (REST) instead"
                + ("; grant roles/bigquery.readSessionUser to use it" if isinstance(exc, (api.PermissionDenied, api.Forbidden)) else "")
            )
            return None

    def _storage_batches(self, client, session) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        self.notes.append(
            f"BigQuery Storage Read API: {len(session.streams)} stream(s), about "
            f"{human_bytes(session.estimated_total_bytes_scanned)} scanned"
        )
        self.read_path = "storage"
        if not session.streams:  # an empty table has no stream
            return
        schema = pa.ipc.read_schema(pa.py_buffer(session.arrow_schema.serialized_schema))
        for stream in session.streams:
            # ReadRowsStream reconnects at the last offset read after a transient failure.
            with self.translated():
                for response in client.read_rows(stream.name, retry=self.retry):
                    data = response.arrow_record_batch.serialized_record_batch
                    if data:
                        yield pa.ipc.read_record_batch(pa.py_buffer(data), schema)

    def _rest_batches(self, rows) -> Iterator[pa.RecordBatch]:
        self.read_path = "rest"
        with self.translated():
            # One Arrow batch per page of `chunk_size` rows: bounded memory.
            yield from rows.to_arrow_iterable(bqstorage_client=None)

    def table_batches(self, parts: tuple[str, str, str], columns: list[str], fields: list) -> Iterator[pa.RecordBatch]:
        storage = self._use_storage()
        session = self._read_session(storage, *parts, columns) if storage else None
        if session is not None:
            yield from self._storage_batches(storage, session)
            return
        with self.translated():
            rows = self.client.list_rows(
                ".".join(parts), selected_fields=fields, page_size=self.config.chunk_size, retry=self.retry
            )
        yield from self._rest_batches(rows)

    def query_batches(self, sql: str, params: list) -> Iterator[pa.RecordBatch]:
        self.log.info("Query job: %s (parameters %s)", sql, [(p.name, p.type_, p.value) for p in params])
        with self.translated():
            job = self.client.query(sql, job_config=self.job_config(params), retry=self.retry)
            rows = job.result(page_size=self.config.chunk_size, retry=self.retry)
        self.job_facts = {
            "job_id": job.job_id,
            "bytes_processed": job.total_bytes_processed,
            "bytes_billed": job.total_bytes_billed,
            "cache_hit": bool(job.cache_hit),
        }
        self.notes.append(
            f"BigQuery query job {job.job_id}: {human_bytes(job.total_bytes_processed)} processed, "
            f"{human_bytes(job.total_bytes_billed)} billed" + (" (cached result)" if job.cache_hit else "")
        )
        storage = self._use_storage() if job.destination is not None else None
        dest = job.destination
        session = self._read_session(storage, dest.project, dest.dataset_id, dest.table_id, None) if storage else None
        if session is not None:
            yield from self._storage_batches(storage, session)
        else:
            yield from self._rest_batches(rows)

    def next_state(self) -> dict | None:
        return self._next_state

    def watermark_description(self) -> str | None:
        state = self.next_state()
        if not state:
            return None
        cursor = state["cursor"]
        count = len(state.get("keys_at_cursor", []))
        return f"{cursor['column']} = {cursor['value']} ({count} row{'s' if count != 1 else ''} at that value)"
