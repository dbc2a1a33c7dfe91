"""SQL Server / Azure SQL source hook on the provider's MsSqlHook (pymssql), read with `fetchmany`.

pymssql substitutes parameters on the client, so the SQL Server dialect inlines the watermark with
pymssql's own quoting, except dates and times, written as exact `CONVERT`s (pymssql's text keeps
milliseconds only, and a watermark cut short would read rows at the watermark twice).
Column types come from `sys.dm_exec_describe_first_result_set` (`mssql_values`), since pymssql's
cursor description says only "number" or "string". Reads take no locks that outlive a chunk: the
session reads under SNAPSHOT isolation where the database allows it (row versions, no shared
locks), otherwise READ COMMITTED (lock-free too under READ_COMMITTED_SNAPSHOT), in autocommit
mode, never with a lock hint.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

from airflow.providers.microsoft.mssql.hooks.mssql import MsSqlHook

from .base import Chunk
from .models import MsSqlConnector
from .sql import REFUSED, TIMEOUT, UNKNOWN_HOST, SqlSource, auth_failed, first_line, unknown_database

# Connection extras passed on to pymssql (allowlist: the provider hook spreads every extra).
_PYMSSQL_EXTRAS = ("tds_version", "appname", "charset", "encryption", "read_only")
DEFAULT_LOGIN_TIMEOUT = 10
# Seconds one statement (and so one wait for the next rows) may take (extra `read_timeout`).
DEFAULT_READ_TIMEOUT = 600


def render_literal(value: object) -> str:
    """A watermark as T-SQL text, exact for every cursor type."""
    from datetime import date, datetime

    if isinstance(value, datetime):
        if value.tzinfo is not None:  # datetimeoffset: ISO 8601 with offset (style 127)
            return f"CONVERT(datetimeoffset(7), '{value.isoformat()}', 127)"
        return f"CONVERT(datetime2(7), '{value.isoformat()}', 126)"
    if isinstance(value, date):
        return f"CONVERT(date, '{value.isoformat()}', 23)"
    if isinstance(value, bool):
        return "1" if value else "0"
    from pymssql import _mssql

    quoted = _mssql.quote_simple_value(value)
    return quoted.decode() if isinstance(quoted, bytes) else str(quoted)


class MsSqlSourceHook(SqlSource, MsSqlHook):
    """
    Read a SQL Server table or read-only query in chunks, optionally incrementally.

    :param config: the source's `connector:` section (`type: mssql`); `config.conn_id` names the
        Airflow `mssql` connection (host, port, login, password, schema = database).
    """

    hook_name = "SQL Server source (Headwater)"
    source_label = "SQL Server"

    def __init__(self, config: MsSqlConnector, **kwargs) -> None:
        super().__init__(mssql_conn_id=config.conn_id, **kwargs)
        self.config = config
        self.notes = []

    # -- connection -----------------------------------------------------------------------------
    def get_conn(self):
        import pymssql

        conn = self.connection
        extras = conn.extra_dejson
        return pymssql.connect(
            server=conn.host or "localhost",
            user=conn.login,
            password=conn.password,
            database=self.schema or conn.schema or "",
            port=str(conn.port or 1433),
            login_timeout=int(extras.get("connect_timeout", DEFAULT_LOGIN_TIMEOUT)),
            timeout=int(extras.get("read_timeout", DEFAULT_READ_TIMEOUT)),
            autocommit=True,  # no transaction (and no lock) spans the chunks of a read
            **{k: extras[k] for k in _PYMSSQL_EXTRAS if k in extras},
        )

    def location(self) -> str:
        conn = self.connection
        return f"at {conn.host or 'localhost'}:{int(conn.port or 1433)}{self.connection_note()}"

    def _reason(self, exc: Exception) -> str:
        text = str(exc)
        lower = text.lower()
        number = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        if number == 18456 or "login failed" in lower:
            return auth_failed(self.connection.login)
        if number == 4060 or "cannot open database" in lower:
            return unknown_database(self.schema or self.connection.schema)
        if "connection refused" in lower:
            return REFUSED
        if "unknown host" in lower or "name or service not known" in lower:
            return UNKNOWN_HOST
        if "timed out" in lower or "timeout" in lower:
            return TIMEOUT
        if "unable to connect" in lower:  # FreeTDS says no more than this for a closed port
            return REFUSED
        return first_line(exc)

    def is_missing_grant(self, exc: Exception) -> bool:
        # 229: "The SELECT permission was denied on the object ..."; 230: the same on a column
        return bool(exc.args) and exc.args[0] in (229, 230)

    @contextmanager
    def reader_connection(self):
        import pymssql

        try:
            conn = self.get_conn()
        except pymssql.Error as exc:
            raise self.connect_failure(self._reason(exc)) from exc
        try:
            self._set_isolation(conn)
            yield conn
        finally:
            with suppress(Exception):
                conn.close()

    def _set_isolation(self, conn) -> None:
        """SNAPSHOT where the database allows it: a consistent read that takes no shared locks."""
        cur = conn.cursor()
        try:
            try:
                cur.execute("SELECT snapshot_isolation_state FROM sys.databases WHERE name = DB_NAME()")
                row = cur.fetchone()
            except Exception:  # noqa: BLE001  (a server without sys.databases: keep the default)
                row = None
            level = "SNAPSHOT" if row and row[0] == 1 else "READ COMMITTED"
            with suppress(Exception):
                cur.execute(f"SET TRANSACTION ISOLATION LEVEL {level}")
        finally:
            cur.close()

    # -- dialect ----------------------------------------------------------------------------------
    def make_dialect(self):
        from sqlalchemy.dialects import mssql

        from .sql_query import inline_dialect

        return inline_dialect(mssql.dialect, render_literal)

    def catalog_tables(self, schema: str | None):
        import sqlalchemy as sa

        tables = sa.table("TABLES", sa.column("TABLE_NAME"), sa.column("TABLE_SCHEMA"), schema="INFORMATION_SCHEMA")
        where = sa.func.schema_name() if schema is None else sa.bindparam("hw_schema", schema, type_=sa.String())
        return sa.select(tables.c.TABLE_NAME.label("name")).where(tables.c.TABLE_SCHEMA == where)

    def catalog_schemas(self):
        from .sql_query import information_schema_schemata

        return information_schema_schemata(upper=True)

    def database_expression(self):
        import sqlalchemy as sa

        return sa.func.db_name()

    def describe(self, conn, sql: str) -> dict[str, str]:
        """Column name -> declared type (`decimal(19,4)`, `datetimeoffset(7)`...) of a statement's result."""
        cur = conn.cursor()
        try:
            cur.execute(
                "SELECT name, system_type_name FROM sys.dm_exec_describe_first_result_set(%s, NULL, 0)",
                (sql,),
            )
            return {name: type_name for name, type_name in cur.fetchall() if name is not None}
        except Exception:  # noqa: BLE001  (no describe on this server: types follow the values)
            return {}
        finally:
            with suppress(Exception):
                cur.close()

    def stream(self, conn, stmt) -> Iterator[Chunk]:
        from . import mssql_values
        from .arrow_util import TypedColumns

        declared = self.describe(conn, self.compile(stmt)[0])
        stmt = mssql_values.exact_statement(stmt, declared, self.config.cursor.column if self.config.cursor else None)
        sql, _ = self.compile(stmt)
        typed = TypedColumns({name: mssql_values.arrow_type(t) for name, t in declared.items()})
        cur = conn.cursor()
        try:
            cur.execute(sql)
            names = [d[0] for d in cur.description]
            offset = 0
            while rows := cur.fetchmany(self.config.chunk_size):
                yield self.rows_chunk(typed, names, [mssql_values.plain_row(r) for r in rows], offset)
                offset += len(rows)
        finally:
            with suppress(Exception):
                cur.close()
