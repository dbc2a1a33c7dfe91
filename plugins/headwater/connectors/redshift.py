"""Amazon Redshift source hook on the provider's RedshiftSQLHook: PostgreSQL wire protocol reads,
and `UNLOAD ... FORMAT PARQUET` to S3 for big tables.

Over the wire the read is a server-side cursor (psycopg2, libpq: what Redshift documents for
PostgreSQL clients) fetched `chunk_size` rows at a time in a READ ONLY transaction. Credentials
are the connection's login and password, or, with the extra `iam: true`, a temporary password from
the provider's `get_iam_token` (cluster or serverless, AWS credentials from `aws_conn_id`).
`SUPER` values arrive as their JSON text (`JSON_SERIALIZE`), `json`/`jsonb` as text too.

A table whose size (`svv_table_info.size`, MB) is at least `unload.above_mb` is read by
`UNLOAD ('<select>') TO '<staging>/<run>/' IAM_ROLE '<extra unload_iam_role>' FORMAT PARQUET`
(`PARALLEL OFF` with a cursor, so files come ordered by it), then its files are read with the S3
source code and deleted.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from airflow.providers.amazon.aws.hooks.redshift_sql import RedshiftSQLHook

from headwater.errors import ConnectionCheckError

from .base import Chunk
from .models import RedshiftConnector
from .sql import REFUSED, TIMEOUT, UNKNOWN_HOST, SqlSource, auth_failed, first_line, unknown_database

# Connection extras passed on to libpq (allowlist).
_LIBPQ_EXTRAS = ("sslmode", "sslrootcert", "application_name", "connect_timeout", "keepalives", "keepalives_idle")
_SUPER_OID = 4000  # Redshift's SUPER (semi-structured) type
_JSON_OIDS = {114, 3802}


def _arrow_type(description):
    """Arrow type of a psycopg2 column description (type OID, precision, scale); None to infer."""
    import pyarrow as pa

    oid = description.type_code
    if oid == 16:
        return pa.bool_()
    if oid in (20, 21, 23):
        return pa.int64()
    if oid in (700, 701):
        return pa.float64()
    if oid == 1700 and description.precision and description.precision <= 38:
        return pa.decimal128(description.precision, description.scale or 0)
    if oid == 1082:
        return pa.date32()
    if oid == 1114:
        return pa.timestamp("us")
    if oid == 1184:
        return pa.timestamp("us", tz="UTC")
    if oid == 17:
        return pa.binary()
    if oid in (25, 1042, 1043, _SUPER_OID, *_JSON_OIDS):
        return pa.string()
    return None


def quote_text(text: str) -> str:
    """A Redshift string literal (standard_conforming_strings: only the quote is doubled)."""
    return "'" + text.replace("'", "''") + "'"


class RedshiftSourceHook(SqlSource, RedshiftSQLHook):
    """
    Read a Redshift table or read-only query in chunks, optionally incrementally; big tables
    through UNLOAD to S3.

    :param config: the source's `connector:` section (`type: redshift`); `config.conn_id` names the
        Airflow `redshift` connection (host, port, login, password or extra `iam: true`, schema =
        database; extra `unload_iam_role` for UNLOAD).
    """

    hook_name = "Amazon Redshift source (Headwater)"
    source_label = "Redshift"

    def __init__(self, config: RedshiftConnector, **kwargs) -> None:
        super().__init__(redshift_conn_id=config.conn_id, **kwargs)
        self.config = config
        self.notes = []

    # -- connection -----------------------------------------------------------------------------
    def _credentials(self) -> tuple[str, str | None, int]:
        conn = self.connection
        if conn.extra_dejson.get("iam", False):
            login, token, port = self.get_iam_token(conn)
            return login, token, int(port or 5439)
        return conn.login or "", conn.password, int(conn.port or 5439)

    def get_conn(self):
        import psycopg2

        conn = self.connection
        extras = conn.extra_dejson
        login, password, port = self._credentials()
        params = {k: str(extras[k]) for k in _LIBPQ_EXTRAS if k in extras}
        params.setdefault("connect_timeout", "10")
        return psycopg2.connect(
            host=conn.host or "localhost", port=port, user=login, password=password, dbname=conn.schema or "dev", **params
        )

    def location(self) -> str:
        conn = self.connection
        return f"at {conn.host or 'localhost'}:{int(conn.port or 5439)}{self.connection_note()}"

    def _reason(self, exc: Exception) -> str:
        lower = str(exc).lower()
        if "connection refused" in lower:
            return REFUSED
        if "could not translate host name" in lower or "name or service not known" in lower:
            return UNKNOWN_HOST
        if "timeout expired" in lower or "timed out" in lower:
            return TIMEOUT
        if "password authentication failed" in lower or ("user" in lower and "does not exist" in lower):
            return auth_failed(self.connection.login)
        if "database" in lower and "does not exist" in lower:
            return unknown_database(self.connection.schema)
        return first_line(exc)

    @contextmanager
    def reader_connection(self):
        import psycopg2

        try:
            conn = self.get_conn()
        except psycopg2.Error as exc:
            raise self.connect_failure(self._reason(exc)) from exc
        except Exception as exc:  # IAM: the provider's boto3 errors (no credentials, no such cluster)
            raise self.connect_failure(f"IAM authentication failed: {first_line(exc)}") from exc
        try:
            conn.set_session(readonly=True)
            with conn.cursor() as cur:
                cur.execute("SET timezone TO 'UTC'")  # timestamptz arrives as UTC instants
            yield conn
        finally:
            with suppress(Exception):
                conn.rollback()
            with suppress(Exception):
                conn.close()

    # -- dialect ----------------------------------------------------------------------------------
    def make_dialect(self):
        from sqlalchemy.dialects.postgresql import psycopg2

        # psycopg2 substitutes the values (untyped literals, as a string initial_value must be);
        # with parameters it reads SQLAlchemy's `%%` as `%`
        return psycopg2.dialect(paramstyle="pyformat")

    def catalog_tables(self, schema: str | None):
        # pg_catalog, not information_schema: that one hides tables the user may not read, and a
        # missing grant would be reported as a missing table
        from .sql_query import pg_catalog_tables

        return pg_catalog_tables(schema)

    def catalog_schemas(self):
        from .sql_query import pg_catalog_schemas

        return pg_catalog_schemas()

    def database_expression(self):
        import sqlalchemy as sa

        return sa.func.current_database()

    # -- reading ----------------------------------------------------------------------------------
    def _describe(self, conn, stmt) -> list:
        import sqlalchemy as sa

        probe = sa.select(sa.literal_column("*")).select_from(stmt.order_by(None).subquery("hw_rows")).limit(0)
        sql, params = self.compile(probe)
        with conn.cursor() as cur:
            cur.execute(sql, params or None)
            return list(cur.description)

    def exact_statement(self, stmt, description: list):
        """SUPER columns as their JSON text; otherwise `stmt` unchanged."""
        import sqlalchemy as sa

        from .sql_query import ident

        if not any(d.type_code == _SUPER_OID for d in description):
            return stmt
        items = [
            sa.func.json_serialize(sa.column(ident(d.name))).label(ident(d.name))
            if d.type_code == _SUPER_OID
            else sa.column(ident(d.name))
            for d in description
        ]
        wrapped = sa.select(*items).select_from(stmt.order_by(None).subquery("hw_rows"))
        if self.config.cursor:
            wrapped = wrapped.order_by(sa.literal_column(f"hw_rows.{self.quote_identifier(self.config.cursor.column)}"))
        return wrapped

    def stream(self, conn, stmt) -> Iterator[Chunk]:
        prefix = self._unload_prefix(conn)
        if prefix:
            yield from self._unload_and_read(conn, stmt, prefix)
            return
        from psycopg2.extensions import new_type, register_type

        from .arrow_util import TypedColumns

        description = self._describe(conn, stmt)
        sql, params = self.compile(self.exact_statement(stmt, description))
        as_text = new_type(tuple(_JSON_OIDS), "HW_JSON_TEXT", lambda value, cur: value)
        register_type(as_text, conn)  # json/jsonb as the text the server wrote, not parsed
        typed = TypedColumns({d.name: _arrow_type(d) for d in description})
        with conn.cursor(name=f"hw_read_{uuid.uuid4().hex[:8]}") as cur:  # server-side: bounded memory
            cur.itersize = self.config.chunk_size
            cur.execute(sql, params or None)
            offset = 0
            while rows := cur.fetchmany(self.config.chunk_size):
                names = [d.name for d in cur.description]
                yield self.rows_chunk(typed, names, rows, offset)
                offset += len(rows)

    # -- UNLOAD -----------------------------------------------------------------------------------
    def table_size_mb(self, conn) -> float | None:
        import sqlalchemy as sa

        from .sql_query import split_table

        schema, name = split_table(self.config.table or "")
        info = sa.table("svv_table_info", sa.column("size"), sa.column("schema"), sa.column("table"))
        stmt = sa.select(info.c.size).where(info.c.table == name)
        stmt = stmt.where(info.c.schema == (schema if schema else sa.func.current_schema()))
        rows = self.fetch_all(conn, stmt)
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    def _unload_prefix(self, conn) -> str | None:
        """The S3 prefix this read unloads to, or None to read over the wire."""
        unload = self.config.unload
        if unload is None or not self.config.table:
            return None
        if unload.above_mb > 0:
            size = self.table_size_mb(conn)
            if size is None or size < unload.above_mb:
                return None
        return unload.staging.rstrip("/") + f"/hw-{uuid.uuid4().hex}/"

    def unload_sql(self, stmt, prefix: str) -> str:
        """The UNLOAD statement: the select with its values inlined, quoted as a string literal."""
        from psycopg import sql as pgsql
        from sqlalchemy.dialects import postgresql

        from .sql_query import inline_dialect

        inner = str(stmt.compile(dialect=inline_dialect(postgresql.dialect, lambda v: pgsql.Literal(v).as_string())))
        role = self.connection.extra_dejson.get("unload_iam_role")
        if not role:
            raise ConnectionCheckError(
                f"connection '{self.config.conn_id}' has no extra `unload_iam_role`: UNLOAD needs the ARN of an "
                "IAM role the cluster may use to write to the staging bucket"
            )
        parallel = " PARALLEL OFF" if self.config.cursor else ""  # ordered files: the cursor needs order
        return f"UNLOAD ({quote_text(inner)}) TO {quote_text(prefix)} IAM_ROLE {quote_text(role)} FORMAT AS PARQUET{parallel}"

    def run_unload(self, conn, statement: str, prefix: str) -> None:
        """Send UNLOAD to the cluster; it writes the Parquet files under `prefix`."""
        with conn.cursor() as cur:
            cur.execute(statement)

    def _unload_and_read(self, conn, stmt, prefix: str) -> Iterator[Chunk]:
        from .models import S3Connector
        from .s3 import S3SourceHook

        self.log.info("Unloading %s to %s", self._what(), prefix)
        self.run_unload(conn, self.unload_sql(stmt, prefix), prefix)
        bucket, _, key = prefix.removeprefix("s3://").partition("/")
        files = S3SourceHook(
            config=S3Connector(
                type="s3", conn_id=self.config.unload.aws_conn_id, bucket=bucket, path=key, format="parquet",
                incremental=False, chunk_size=self.config.chunk_size,
            )
        )
        try:
            for chunk in files.read(None):
                # files are named in the order UNLOAD wrote them (0000_part_00, 0001_part_00...)
                yield Chunk(chunk.table, chunk.errors, chunk.notes)
        finally:
            with suppress(Exception):
                keys = [e.key for e in files.list_entries(key)]
                if keys:
                    files.delete_objects(bucket, keys)
