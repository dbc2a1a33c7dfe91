"""One helper per SQL database so the same scenarios run against SQLite, PostgreSQL and MySQL.

Each backend creates uniquely named tables (dropped afterwards) and builds connector configs.
"""

from __future__ import annotations

import sqlite3

from headwater.connectors.models import MySqlConnector, PostgresConnector, RedshiftConnector, SqliteConnector

from .conftest import MY, PG, require_service, unique


class Backend:
    name: str
    label: str
    ph = "%s"  # parameter placeholder of the setup driver
    timestamp_sql = "TIMESTAMP"
    timestamp_state_type = "timestamp"
    conn_id: str | None = None

    def __init__(self):
        self.tables: list[str] = []

    def execute(self, sql: str, params: tuple = ()) -> None:
        cur = self.conn.cursor()
        cur.execute(sql, params)
        cur.close()

    def insert(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        marks = ", ".join([self.ph] * len(columns))
        cur = self.conn.cursor()
        cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
        cur.close()

    def create(self, prefix: str = "hw_t") -> str:
        """A new table (id, name, updated_at, note, score); returns its bare name."""
        table = unique(prefix)
        self.execute(
            f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name VARCHAR(50), "
            f"updated_at {self.timestamp_sql}, note VARCHAR(50), score INTEGER)"
        )
        self.tables.append(table)
        return table

    def qualified(self, table: str) -> str:
        return table

    def ts_state(self, text: str) -> str:
        """How a timestamp written as 'YYYY-MM-DD HH:MM:SS' is stored in state."""
        return text.replace(" ", "T")

    def close(self) -> None:
        for table in self.tables:
            self.execute(f"DROP TABLE IF EXISTS {table}")
        self.conn.close()


class SqliteBackend(Backend):
    name, label, ph = "sqlite", "SQLite", "?"
    timestamp_sql = "TEXT"
    timestamp_state_type = "string"

    def __init__(self, include_dir, set_conn):
        super().__init__()
        self.path = include_dir / "db" / "source.db"
        self.path.parent.mkdir(exist_ok=True)
        self.conn = sqlite3.connect(self.path, isolation_level=None)

    def insert(self, table, columns, rows):
        self.execute("BEGIN")  # one transaction: autocommit would sync the file once per row
        super().insert(table, columns, rows)
        self.execute("COMMIT")

    def config(self, **fields) -> SqliteConnector:
        return SqliteConnector(type="sqlite", database="db/source.db", **fields)

    def ts_state(self, text: str) -> str:
        return text  # SQLite keeps timestamps as text


class PostgresBackend(Backend):
    name, label = "postgres", "PostgreSQL"
    conn_id = "hw_test_pg"

    def __init__(self, include_dir, set_conn):
        super().__init__()
        require_service("PostgreSQL", PG["host"], PG["port"])
        import psycopg2

        self.conn = psycopg2.connect(host=PG["host"], port=PG["port"], user=PG["login"], dbname=PG["schema"])
        self.conn.autocommit = True
        set_conn(self.conn_id, conn_type="postgres", **PG)

    def insert(self, table, columns, rows):
        from psycopg2.extras import execute_values

        cur = self.conn.cursor()
        execute_values(cur, f"INSERT INTO {table} ({', '.join(columns)}) VALUES %s", rows, page_size=5_000)
        cur.close()

    def qualified(self, table: str) -> str:
        return f"public.{table}"

    def config(self, **fields) -> PostgresConnector:
        return PostgresConnector(type="postgres", conn_id=self.conn_id, **fields)


class MySqlBackend(Backend):
    name, label = "mysql", "MySQL"
    timestamp_sql = "DATETIME"
    conn_id = "hw_test_my"

    def __init__(self, include_dir, set_conn):
        super().__init__()
        require_service("MySQL/MariaDB", MY["host"], MY["port"])
        import mysql.connector

        self.conn = mysql.connector.connect(
            host=MY["host"],
            port=MY["port"],
            user=MY["login"],
            password="",
            database=MY["schema"],
            autocommit=True,
        )
        # No `client` extra: the hook must default to mysql-connector-python by itself.
        set_conn(self.conn_id, conn_type="mysql", **MY)

    def config(self, **fields) -> MySqlConnector:
        return MySqlConnector(type="mysql", conn_id=self.conn_id, **fields)


class RedshiftBackend(PostgresBackend):
    """The real local PostgreSQL read through a `redshift` connection (Redshift speaks its wire
    protocol); no Redshift runs here."""

    name, label = "redshift", "Redshift"
    conn_id = "hw_test_rs"

    def __init__(self, include_dir, set_conn):
        super().__init__(include_dir, set_conn)
        set_conn(self.conn_id, conn_type="redshift", extra={"sslmode": "disable"}, **PG)

    def config(self, **fields) -> RedshiftConnector:
        return RedshiftConnector(type="redshift", conn_id=self.conn_id, **fields)


BACKENDS = {"sqlite": SqliteBackend, "postgres": PostgresBackend, "mysql": MySqlBackend, "redshift": RedshiftBackend}
