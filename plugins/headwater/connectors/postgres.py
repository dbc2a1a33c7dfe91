"""PostgreSQL source hook: streams with ADBC (binary COPY) into Arrow record batches.

ADBC only streams queries without bind parameters (with parameters the driver buffers the whole
result), so the watermark is inlined as a typed literal quoted by psycopg (`sql.Literal`).
Every transaction is read-only (`default_transaction_read_only=on` in the session options).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from airflow.providers.postgres.hooks.postgres import PostgresHook

from .base import Chunk

if TYPE_CHECKING:
    import pyarrow as pa
from .models import PostgresConnector
from .sql import REFUSED, TIMEOUT, UNKNOWN_HOST, SqlSource, auth_failed, first_line, unknown_database

# Connection extras passed on to libpq (allowlist: never spread extras wholesale).
_LIBPQ_EXTRAS = (
    "sslmode",
    "sslcert",
    "sslkey",
    "sslrootcert",
    "sslcrl",
    "application_name",
    "connect_timeout",
)


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
        params = {k: str(extras[k]) for k in _LIBPQ_EXTRAS if k in extras}
        params.setdefault("connect_timeout", "10")
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

        try:
            conn = adbc.connect(self.adbc_uri())
        except adbc.Error as exc:
            from headwater.redact import redact

            failure = self.connect_failure(redact(self._reason(exc)))
            if redact(str(exc)) != str(exc):  # libpq quoted the URI, password included: not in tracebacks
                raise failure from None
            raise failure from exc
        try:
            yield conn
        finally:
            try:
                conn.rollback()  # read-only: nothing to commit
            finally:
                conn.close()

    # -- dialect ----------------------------------------------------------------------------------
    def quote_identifier(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def bind(self, value: object) -> tuple[str, list]:
        from psycopg import sql

        return sql.Literal(value).as_string(), []

    def _scalar_rows(self, conn, query: str) -> list[tuple]:
        cur = conn.cursor()
        try:
            cur.execute(query)
            return cur.fetchall()
        finally:
            cur.close()

    def table_exists(self, conn, table: str) -> bool:
        literal, _ = self.bind(self.quote_table(table))
        return self._scalar_rows(conn, f"SELECT to_regclass({literal}) IS NOT NULL")[0][0]

    def list_tables(self, conn, schema: str | None) -> list[str]:
        where = (
            f"table_schema = {self.bind(schema)[0]}"
            if schema
            else "table_schema = ANY(current_schemas(false))"
        )
        rows = self._scalar_rows(conn, f"SELECT table_name FROM information_schema.tables WHERE {where}")
        return sorted(r[0] for r in rows)

    def database_name(self, conn) -> str:
        return self._scalar_rows(conn, "SELECT current_database()")[0][0]

    def stream(self, conn, sql: str, params: list) -> Iterator[Chunk]:
        cur = conn.cursor()
        try:
            cur.execute(sql, params or None)
            # Record batches come typed from the declared column types, so every chunk shares a schema.
            for batch in cur.fetch_record_batch():
                yield Chunk(plain_types(batch))
        finally:
            cur.close()


def plain_types(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Replace ADBC's opaque extension columns (PostgreSQL NUMERIC, ...) with ordinary Arrow types.

    NUMERIC(p, s) becomes decimal128(p, s) (typmod = (p << 16 | s) + 4); unbounded NUMERIC and other
    opaque types keep their text form, which the mapping casts like any text column.
    """
    import pyarrow as pa

    if not any(isinstance(f.type, pa.OpaqueType) for f in batch.schema):
        return batch
    columns, fields = [], []
    for field, column in zip(batch.schema, batch.columns, strict=True):
        if isinstance(field.type, pa.OpaqueType):
            column = column.storage
            typmod = int((field.metadata or {}).get(b"POSTGRESQL:typmod", b"-1"))
            if field.type.type_name == "numeric" and typmod >= 4 and ((typmod - 4) >> 16) <= 38:
                precision, scale = (typmod - 4) >> 16, (typmod - 4) & 0xFFFF
                column = column.cast(pa.decimal128(precision, scale))
            field = pa.field(field.name, column.type, field.nullable, field.metadata)
        columns.append(column)
        fields.append(field)
    return pa.RecordBatch.from_arrays(columns, schema=pa.schema(fields))
