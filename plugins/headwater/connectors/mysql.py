"""MySQL / MariaDB source hook: an unbuffered mysql-connector cursor read with `fetchmany`.

The provider's default client (mysqlclient) needs a C library we do not install, so this hook
defaults the connection's `client` extra to `mysql-connector-python`. Extracts run in a
`START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

from airflow.providers.mysql.hooks.mysql import MySqlHook

from .base import Chunk
from .models import MySqlConnector
from .sql import REFUSED, TIMEOUT, UNKNOWN_HOST, SqlSource, auth_failed, first_line, unknown_database

DEFAULT_CLIENT = "mysql-connector-python"
_BINARY_CHARSET = 63
_UNSIGNED_FLAG = 32
_INTEGER_CODES = {1, 2, 3, 8, 9, 13, 16}  # TINY SHORT LONG LONGLONG INT24 YEAR BIT
_TEXT_CODES = {15, 245, 247, 248, 253, 254}  # VARCHAR JSON ENUM SET VAR_STRING STRING
_BLOB_CODES = {249, 250, 251, 252}  # TINY/MEDIUM/LONG/BLOB (TEXT columns report these too)
# Seconds a socket read or write may wait before the connection counts as stalled (extras
# `read_timeout` / `write_timeout` override). Generous, because the server sends nothing while it
# sorts or scans before the first row; without it a server that stops answering hangs forever.
DEFAULT_READ_TIMEOUT = 600
DEFAULT_WRITE_TIMEOUT = 60


def _arrow_type(description: tuple):
    """Arrow type declared by a cursor.description entry, or None to infer from the values."""
    import pyarrow as pa

    code = description[1]
    flags = description[7] if len(description) > 7 else 0
    charset = description[8] if len(description) > 8 else None
    if code in _INTEGER_CODES:
        return pa.uint64() if flags & _UNSIGNED_FLAG else pa.int64()
    if code in (4, 5):  # FLOAT DOUBLE
        return pa.float64()
    if code == 7:  # TIMESTAMP: an instant, read in a UTC session
        return pa.timestamp("us", tz="UTC")
    if code == 12:  # DATETIME: a wall-clock time without zone
        return pa.timestamp("us")
    if code in (10, 14):  # DATE NEWDATE
        return pa.date32()
    if code == 11:  # TIME arrives as timedelta
        return pa.duration("us")
    if code in _TEXT_CODES or code in _BLOB_CODES:
        return pa.binary() if charset == _BINARY_CHARSET and code != 245 else pa.string()
    if code == 255:  # GEOMETRY
        return pa.binary()
    return None  # DECIMAL and anything new: inferred (decimals widened to precision 38)


def _exact_converter():
    """mysql-connector's converter, but never a different value: zero dates (`0000-00-00`,
    `2024-00-10`), which it turns into NULL, become `BadValue`s (quarantined with their row), and a
    SET stays the text MySQL writes (`a,c`) rather than a Python set."""
    from mysql.connector.conversion import MySQLConverter

    from .arrow_util import BadValue

    def strict(convert, what):
        def to_python(self, value, dsc=None):
            result = convert(value, dsc)
            if result is None and value is not None:
                text = bytes(value).decode("ascii", "replace")
                return BadValue(
                    text, "VALUE_OUT_OF_RANGE", f"is {text}, a zero or incomplete {what} with no real value"
                )
            return result

        return to_python

    class ExactConverter(MySQLConverter):
        _date_to_python = strict(MySQLConverter._date_to_python, "date")
        _NEWDATE_to_python = _date_to_python
        _newdate_to_python = _date_to_python
        _datetime_to_python = strict(MySQLConverter._datetime_to_python, "date and time")
        _timestamp_to_python = _datetime_to_python

        def _set_to_python(self, value, dsc=None):
            return value.decode(self.charset)

    return ExactConverter


class MySqlSourceHook(SqlSource, MySqlHook):
    """
    Read a MySQL or MariaDB table or read-only query in chunks, optionally incrementally.

    :param config: the source's `connector:` section (`type: mysql`); `config.conn_id` names the
        Airflow `mysql` connection. Its `client` extra defaults to `mysql-connector-python`.
    """

    hook_name = "MySQL source (Headwater)"
    source_label = "MySQL"

    def __init__(self, config: MySqlConnector, **kwargs) -> None:
        super().__init__(mysql_conn_id=config.conn_id, **kwargs)
        self.config = config
        self.notes = []

    def get_conn(self):
        """Connect with mysql-connector-python unless the connection's `client` extra says otherwise."""
        conn = self.connection
        extras = conn.extra_dejson
        if extras.get("client", DEFAULT_CLIENT) != DEFAULT_CLIENT:
            return super().get_conn()
        import mysql.connector

        config = self._get_conn_config_mysql_connector_python(conn)
        config["connection_timeout"] = int(extras.get("connect_timeout", 10))
        config["read_timeout"] = int(extras.get("read_timeout", DEFAULT_READ_TIMEOUT))
        config["write_timeout"] = int(extras.get("write_timeout", DEFAULT_WRITE_TIMEOUT))
        return mysql.connector.connect(**config)

    # -- connection -----------------------------------------------------------------------------
    def location(self) -> str:
        conn = self.connection
        return f"at {conn.host or 'localhost'}:{int(conn.port or 3306)}{self.connection_note()}"

    def _reason(self, exc: Exception) -> str:
        errno = getattr(exc, "errno", None)
        text = str(exc).lower()
        if errno == 2003 and "refused" in text:
            return REFUSED
        if errno == 2005 or "unknown host" in text or "name or service not known" in text:
            return UNKNOWN_HOST
        if "timed out" in text or "timeout" in text:
            return TIMEOUT
        if errno == 1045:
            return auth_failed(self.connection.login)
        if errno == 1049:
            return unknown_database(self.schema or self.connection.schema)
        if errno == 1044:
            return f"user '{self.connection.login}' may not use this database — check the user's grants"
        return first_line(exc)

    def is_missing_grant(self, exc: Exception) -> bool:
        return getattr(exc, "errno", None) in (1142, 1143)  # SELECT command denied (table, column)

    @contextmanager
    def reader_connection(self):
        import mysql.connector

        try:
            conn = self.get_conn()
        except mysql.connector.Error as exc:
            raise self.connect_failure(self._reason(exc)) from exc
        try:
            # Plain SQL: the driver's start_transaction() refuses READ ONLY on MariaDB's version string.
            cur = conn.cursor()
            cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            cur.close()
            yield conn
        except BaseException:
            # A failed or abandoned read: rollback() would first fetch every unread row, or raise its
            # own error on a lost connection and hide the first one. Closing ends the transaction.
            with suppress(Exception):
                conn.close()
            raise
        try:
            if not getattr(conn, "unread_result", False):
                conn.rollback()
        finally:
            conn.close()

    # -- dialect ----------------------------------------------------------------------------------
    def make_dialect(self):
        # pyformat (`%(name)s`): with a dict of parameters mysql-connector reads SQLAlchemy's `%%` as `%`.
        from sqlalchemy.dialects import mysql

        return mysql.dialect(paramstyle="pyformat")

    def watermark_value(self, value: object) -> object:
        from datetime import UTC, datetime

        if isinstance(value, datetime) and value.tzinfo:  # the read session is in UTC (see stream)
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def catalog_tables(self, schema: str | None):
        import sqlalchemy as sa

        from .sql_query import information_schema_tables

        return information_schema_tables(schema, sa.func.database())

    def catalog_schemas(self):
        from .sql_query import information_schema_schemata

        return information_schema_schemata()

    def database_expression(self):
        import sqlalchemy as sa

        return sa.func.database()

    def fetch_all(self, conn, stmt) -> list[tuple]:
        sql, params = self.compile(stmt)
        cur = conn.cursor(buffered=True)  # other statements may follow on this connection
        try:
            cur.execute(sql, params)
            return cur.fetchall()
        finally:
            cur.close()

    def stream(self, conn, stmt) -> Iterator[Chunk]:
        from .arrow_util import TypedColumns

        sql, params = self.compile(stmt)
        conn.set_converter_class(_exact_converter())
        setup = conn.cursor()
        setup.execute("SET time_zone = '+00:00'")  # TIMESTAMP values as UTC instants, never ambiguous
        setup.close()
        cur = conn.cursor(buffered=False)  # unbuffered: rows stay on the server until fetched
        try:
            cur.execute(sql, params)
            names = [d[0] for d in cur.description]
            typed = TypedColumns({d[0]: _arrow_type(d) for d in cur.description})
            offset = 0
            while rows := cur.fetchmany(self.config.chunk_size):
                yield self.rows_chunk(typed, names, rows, offset)
                offset += len(rows)
        except GeneratorExit:
            # Abandoned early: cur.close() would first fetch every remaining row. Closing the
            # connection (reader_connection does) discards them instead.
            raise
        else:
            cur.close()
