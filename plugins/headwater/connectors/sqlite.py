"""SQLite source hook: a database file (opened read-only) or an Airflow `sqlite` connection.

SQLite is dynamically typed, so column types come from the declared types of a table (by SQLite's
affinity rules) and otherwise from the first non-null values of the read.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from airflow.providers.sqlite.hooks.sqlite import SqliteHook

from .base import Chunk
from .models import SqliteConnector
from .sql import SqlSource, first_line


def _affinity_type(declared: str):
    """Arrow type for a declared column type, following SQLite's affinity rules; None to infer."""
    import pyarrow as pa

    decl = declared.upper()
    if "INT" in decl:
        return pa.int64()
    if any(word in decl for word in ("CHAR", "CLOB", "TEXT")):
        return pa.string()
    if any(word in decl for word in ("REAL", "FLOA", "DOUB")):
        return pa.float64()
    return None  # BLOB, NUMERIC, DATE, BOOLEAN, untyped: whatever the values are


class SqliteSourceHook(SqlSource, SqliteHook):
    """
    Read a SQLite table or read-only query in chunks, optionally incrementally.

    :param config: the source's `connector:` section (`type: sqlite`): either `conn_id` (an
        Airflow `sqlite` connection) or `database` (a file path, relative to the include folder).
    """

    hook_name = "SQLite source (Headwater)"
    source_label = "SQLite"

    def __init__(self, config: SqliteConnector, **kwargs) -> None:
        if config.conn_id:
            kwargs["sqlite_conn_id"] = config.conn_id
        super().__init__(**kwargs)
        self.config = config
        self.notes = []

    def _path_text(self) -> str:
        path = self.config.database_path()
        return str(path) if path is not None else self.connection.host or ""

    def get_conn(self) -> sqlite3.Connection:
        path = self.config.database_path()
        if path is None:
            return super().get_conn()
        # mode=ro: never create a missing file, never write.
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def location(self) -> str:
        return f"at {self._path_text()}{self.connection_note()}"

    @contextmanager
    def reader_connection(self):
        path = self.config.database_path()
        if path is not None and not path.is_file():
            raise self.connect_failure(
                "the database file does not exist — check `database` in the source file"
            )
        try:
            conn = self.get_conn()
            conn.execute("PRAGMA query_only = ON")
        except sqlite3.Error as exc:
            raise self.connect_failure(first_line(exc)) from exc
        try:
            yield conn
        finally:
            conn.close()

    def make_dialect(self):
        from sqlalchemy.dialects import sqlite

        return sqlite.dialect()  # qmark: values bound by sqlite3

    def catalog_tables(self, schema: str | None):
        import sqlalchemy as sa

        from .sql_query import ident

        master = sa.table("sqlite_master", sa.column("name"), sa.column("type"), schema=ident(schema) if schema else None)
        return sa.select(master.c.name).where(master.c.type.in_(["table", "view"]), master.c.name.not_like("sqlite_%"))

    def fetch_all(self, conn, stmt) -> list[tuple]:
        try:
            return super().fetch_all(conn, stmt)
        except sqlite3.OperationalError:  # an unknown schema (attached database)
            return []

    def database_name(self, conn) -> str:
        return self._path_text()

    def _declared_types(self, conn) -> dict:
        if not self.config.table:
            return {}
        schema, _, name = self.config.table.rpartition(".")
        prefix = f"{self.quote_identifier(schema)}." if schema else ""
        rows = conn.execute(f"PRAGMA {prefix}table_info({self.quote_identifier(name)})").fetchall()
        return {row[1]: _affinity_type(row[2] or "") for row in rows}

    def stream(self, conn, stmt) -> Iterator[Chunk]:
        from .arrow_util import TypedColumns

        sql, params = self.compile(stmt)
        typed = TypedColumns(self._declared_types(conn))
        cur = conn.execute(sql, params)
        names = [d[0] for d in cur.description]
        offset = 0
        while rows := cur.fetchmany(self.config.chunk_size):
            yield self.rows_chunk(typed, names, rows, offset)
            offset += len(rows)
        cur.close()
