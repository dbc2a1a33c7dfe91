"""PostgreSQL source hook: streams with ADBC (binary COPY) into Arrow record batches.

Statements are SQLAlchemy Core compiled by the PostgreSQL dialect. ADBC only streams queries
without bind parameters (with parameters the driver buffers the whole result), so the dialect
inlines the watermark as a typed literal quoted by psycopg (`sql.Literal`).
Every transaction is read-only (`default_transaction_read_only=on` in the session options).
Values arrive exact or not at all: `pg_values` says which types are cast in SQL first and which
values (infinity, 24:00, ...) become quarantined rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from airflow.providers.postgres.hooks.postgres import PostgresHook

from headwater.errors import SourceInterrupted

from .base import Chunk

if TYPE_CHECKING:
    import pyarrow as pa
from .models import PostgresConnector
from .sql import (
    REFUSED,
    RESTARTING,
    TIMEOUT,
    UNKNOWN_HOST,
    SqlSource,
    auth_failed,
    first_line,
    unknown_database,
)

# Connection extras passed on to libpq (allowlist: never spread extras wholesale).
_LIBPQ_EXTRAS = (
    "sslmode",
    "sslcert",
    "sslkey",
    "sslrootcert",
    "sslcrl",
    "application_name",
    "connect_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
)
# A peer that vanished (host down, network cut) is noticed within about a minute instead of never:
# TCP keepalives probe an idle connection, tcp_user_timeout (ms) bounds unacknowledged sends. A
# long-running query is not affected (the server's kernel answers the probes); a server process
# that hangs is caught by the task's execution_timeout. Each can be overridden in the extras.
_LIBPQ_DEFAULTS = {
    "connect_timeout": "10",
    "keepalives": "1",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
    "tcp_user_timeout": "60000",
}
# Seconds without any data from the server before a read counts as stalled and is stopped (extra
# `read_timeout`; 0 turns it off). Generous: the server sends nothing while it sorts or scans
# before the first row of a big ordered read.
DEFAULT_READ_TIMEOUT = 600


def psycopg_literal(value: object) -> str:
    """`value` as a typed SQL literal, quoted by psycopg (imported only when a value is inlined)."""
    from psycopg import sql

    return sql.Literal(value).as_string()


class PostgresSourceHook(SqlSource, PostgresHook):
    """
    Read a PostgreSQL table or read-only query in chunks, optionally incrementally.

    :param config: the source's `connector:` section (`type: postgres`); `config.conn_id` names
        the Airflow `postgres` connection.
    """

    hook_name = "PostgreSQL source (Headwater)"
    source_label = "PostgreSQL"

    def __init__(self, config: PostgresConnector, **kwargs) -> None:
        super().__init__(postgres_conn_id=config.conn_id, **kwargs)
        self.config = config
        self.notes = []
        self._watchdog = None

    # -- connection -----------------------------------------------------------------------------
    def _endpoint(self) -> tuple[str, int]:
        conn = self.connection
        return conn.host or "localhost", int(conn.port or 5432)

    def location(self) -> str:
        host, port = self._endpoint()
        return f"at {host}:{port}{self.connection_note()}"

    def adbc_uri(self) -> str:
        """libpq URI for ADBC, built from the Airflow connection; sessions default to read-only."""
        conn = self.connection
        host, port = self._endpoint()
        auth = quote(conn.login or "", safe="")
        if conn.password:
            encoded = quote(conn.password, safe="")
            if encoded != conn.password:  # libpq quotes the whole URI in some errors: mask this form too
                from airflow.sdk.log import mask_secret

                mask_secret(encoded)
            auth += ":" + encoded
        extras = conn.extra_dejson
        params = {**_LIBPQ_DEFAULTS, **{k: str(extras[k]) for k in _LIBPQ_EXTRAS if k in extras}}
        params["options"] = "-c default_transaction_read_only=on"
        database = quote(self.database or conn.schema or "", safe="")
        return f"postgresql://{auth}@{host}:{port}/{database}?{urlencode(params, quote_via=quote)}"

    def _reason(self, exc: Exception) -> str:
        text = str(exc)
        lower = text.lower()
        if "connection refused" in lower:
            return REFUSED
        if "could not translate host name" in lower or "name or service not known" in lower:
            return UNKNOWN_HOST
        if "timeout expired" in lower or "timed out" in lower:
            return TIMEOUT
        # libpq gives no SQLSTATE for a refused startup, so the server's words are all there is.
        if "the database system is" in lower:  # starting up / shutting down / in recovery mode
            return RESTARTING
        if "password authentication failed" in lower or ("role" in lower and "does not exist" in lower):
            return auth_failed(self.connection.login)
        if "no password supplied" in lower:
            return auth_failed(self.connection.login) + " (no password was given)"
        if "database" in lower and "does not exist" in lower:
            return unknown_database(self.database or self.connection.schema)
        return first_line(exc).removeprefix("IO: ").removeprefix("[libpq] ")

    @contextmanager
    def reader_connection(self):
        import adbc_driver_postgresql.dbapi as adbc

        from .stall import StallWatchdog, tcp_socket_fds

        timeout = float(self.connection.extra_dejson.get("read_timeout", DEFAULT_READ_TIMEOUT))
        before = tcp_socket_fds() if timeout > 0 else set()
        try:
            conn = adbc.connect(self.adbc_uri())
        except adbc.Error as exc:
            from headwater.redact import redact

            failure = self.connect_failure(redact(self._reason(exc)))
            if redact(str(exc)) != str(exc):  # libpq quoted the URI, password included: not in tracebacks
                raise failure from None
            raise failure from exc
        self._watchdog = StallWatchdog(tcp_socket_fds() - before, timeout) if timeout > 0 else None
        try:
            yield conn
        except BaseException as exc:
            # The read failed (or was abandoned): a rollback on a dead connection would raise its own
            # "Failed to rollback" and hide the first error. Closing ends the read-only transaction.
            with suppress(Exception):
                conn.close()
            if self._stop_watchdog() and isinstance(exc, Exception):
                raise SourceInterrupted(
                    f"{self.source_label} {self.location()} sent no data for {timeout:g} s while reading "
                    f"{self._what()}; the read was stopped and the task will be retried (raise the "
                    f"connection's extra read_timeout if the query needs longer before its first row)"
                ) from exc
            raise
        self._stop_watchdog()
        try:
            conn.rollback()  # read-only: nothing to commit
        finally:
            conn.close()

    def _progress(self) -> None:
        if self._watchdog is not None:
            self._watchdog.kick()

    def _stop_watchdog(self) -> bool:
        """Stop the stall watchdog; whether it had found the read stalled."""
        watchdog, self._watchdog = getattr(self, "_watchdog", None), None
        if watchdog is None:
            return False
        watchdog.close()
        return watchdog.stalled

    # -- dialect ----------------------------------------------------------------------------------
    def make_dialect(self):
        # ADBC streams only statements without parameters: values are inlined as psycopg quotes them.
        from sqlalchemy.dialects import postgresql

        from .sql_query import inline_dialect

        return inline_dialect(postgresql.dialect, psycopg_literal)

    def catalog_tables(self, schema: str | None):
        from .sql_query import pg_catalog_tables

        return pg_catalog_tables(schema)

    def catalog_schemas(self):
        from .sql_query import pg_catalog_schemas

        return pg_catalog_schemas()

    def database_expression(self):
        import sqlalchemy as sa

        return sa.func.current_database()

    def _scalar_rows(self, conn, query: str) -> list[tuple]:
        cur = conn.cursor()
        try:
            cur.execute(query)
            return cur.fetchall()
        finally:
            cur.close()

    def _probe(self, conn, stmt) -> pa.Schema:
        """The result's Arrow schema (with each column's PostgreSQL type), without reading rows."""
        import sqlalchemy as sa

        probe = sa.select(sa.literal_column("*")).select_from(stmt.subquery("hw_rows")).limit(0)
        cur = conn.cursor()
        try:
            cur.execute(self.compile(probe)[0])
            return cur.fetch_arrow_table().schema
        finally:
            cur.close()

    def exact_sql(self, conn, stmt) -> str:
        """`stmt` compiled, wrapped so every column arrives as an exact Arrow value (see `pg_values`)."""
        import sqlalchemy as sa

        from . import pg_values

        schema = self._probe(conn, stmt)
        if not pg_values.needs_rewrite(schema):
            return self.compile(stmt)[0]
        money_scale = 2
        if pg_values.uses_money(schema):  # the locale's decimals (lc_monetary)
            money_scale = self._scalar_rows(conn, "SELECT scale('1'::money::numeric)")[0][0]
        if pg_values.uses_interval(schema):  # intervals as ISO 8601 text (P1Y2M3DT4H5M6S)
            self._scalar_rows(conn, "SELECT set_config('intervalstyle', 'iso_8601', false)")
        items = pg_values.select_items(schema, self.quote_identifier, money_scale)
        wrapped = sa.select(*(sa.literal_column(item) for item in items)).select_from(stmt.subquery("hw_rows"))
        if self.config.cursor:  # the source's cursor column (qualified: not the cast output of the same name)
            wrapped = wrapped.order_by(sa.literal_column(f"hw_rows.{self.quote_identifier(self.config.cursor.column)}"))
        return self.compile(wrapped)[0]

    def stream(self, conn, stmt) -> Iterator[Chunk]:
        sql = self.exact_sql(conn, stmt)
        cur = conn.cursor()
        offset = 0
        try:
            cur.execute(sql)
            # Record batches come typed from the declared column types, so every chunk shares a schema.
            for batch in cur.fetch_record_batch():
                self._progress()
                yield self._exact_chunk(batch, offset)
                offset += batch.num_rows
                self._progress()  # the time the consumer took is not the server's
        except BaseException:
            with suppress(Exception):  # the first error is the one to report
                cur.close()
            raise
        cur.close()

    def _exact_chunk(self, batch: pa.RecordBatch, offset: int) -> Chunk:
        """The batch with ordinary Arrow types; rows holding a value with no exact Arrow form are
        left out and become errors (`offset`: rows of this read before the batch)."""
        import pyarrow as pa

        from . import pg_values

        problems: list[pg_values.Problem] = []
        batch = pg_values.check_batch(pg_values.plain_batch(batch, problems), problems)
        if not problems:
            return Chunk(batch, runs=self.read_runs(offset, batch.num_rows, set()))
        by_row: dict[int, list[pg_values.Problem]] = {}
        for problem in problems:
            by_row.setdefault(problem.index, []).append(problem)
        errors = []
        for index, found in sorted(by_row.items()):
            row = {name: pg_values.record_value(batch.column(name)[index]) for name in batch.schema.names}
            row.update({p.column: p.value for p in found})
            number = offset + index + 1
            for p in found:
                message = (
                    f"{self._what()}, row {number} of this read: value of column '{p.column}' {p.reason}"
                )
                errors.append(self.value_error(p.code, p.column, p.value, message, row, number))
        keep = pa.array([i for i in range(batch.num_rows) if i not in by_row], type=pa.int64())
        return Chunk(batch.take(keep), errors, runs=self.read_runs(offset, batch.num_rows, set(by_row)))
