"""Engine, shared table metadata and the few places where SQLite and PostgreSQL differ.

The store URL comes from configuration only: `HEADWATER_STORE_CONN_ID` (an Airflow postgres
connection) wins over `HEADWATER_STORE_URL`, which defaults to a SQLite file under `.headwater/`.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import URL, Connection, Engine, MetaData, Table, create_engine, event, func, make_url, select
from sqlalchemy.exc import DBAPIError

from headwater import settings

log = logging.getLogger(__name__)

metadata = MetaData()

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Arbitrary constant naming "the Headwater profile writer" among PostgreSQL advisory locks.
PROFILE_LOCK_KEY = 0x4857_5052  # "HWPR"

# For the profile writer's transaction only (SET LOCAL ends with it). A chunk's statements join
# thousands of array elements: their estimated cost crosses jit_above_cost, and compiling them
# took longer than running them; their sorts and hashes outgrow the default 4MB of work_mem.
_PG_CHUNK_SETTINGS = "SET LOCAL jit = off; SET LOCAL work_mem = '64MB'"

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def store_url() -> URL:
    """The configured store URL (may carry a password: never log it, use `describe`)."""
    conn_id = settings.store_conn_id()
    if conn_id:
        return _url_from_connection(conn_id)
    return make_url(settings.store_url())


def _url_from_connection(conn_id: str) -> URL:
    from airflow.sdk import BaseHook  # lazy: only task code on a PostgreSQL store pays for it

    conn = BaseHook.get_connection(conn_id)
    extra = conn.extra_dejson or {}
    # Allowlist, never passthrough: only extras that are meaningful to libpq and safe to forward.
    query = {k: str(extra[k]) for k in ("sslmode", "sslrootcert", "connect_timeout") if extra.get(k)}
    return URL.create(
        "postgresql+psycopg2",
        username=conn.login or None,
        password=conn.password or None,
        host=conn.host or None,
        port=conn.port or None,
        database=conn.schema or None,
        query=query,
    )


def get_engine(url: str | URL | None = None) -> Engine:
    """Engine for `url` (default: the configured store), created once per URL with tables in place."""
    url = make_url(url) if url is not None else store_url()
    key = url.render_as_string(hide_password=False)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _create_engine(url)
            create_all(engine)
            _engines[key] = engine
            log.info("Headwater store: %s", describe(engine))
    return engine


def reset_engines() -> None:
    """Dispose and forget every cached engine (tests; a process that forked after using the store)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def _create_engine(url: URL) -> Engine:
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        database = Path(url.database).expanduser()
        settings.private_mkdir(database.parent)
        # Created owner-only before SQLite opens it (settings.umask): SQLite gives its -wal and
        # -shm files the database file's permissions.
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT, settings.file_mode()))
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Take transaction control from pysqlite so `_on_begin` decides how a transaction starts.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        # Several Airflow task processes write at once: WAL lets readers run beside a writer,
        # the busy timeout makes a writer wait for the lock instead of failing at once.
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection):
        # A write transaction takes the write lock up front: upgrading a read transaction later
        # can fail with SQLITE_BUSY without waiting, and read-then-write logic needs the lock anyway.
        write = conn.get_execution_options().get("headwater_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def create_all(engine: Engine) -> None:
    """Create the `hw_` tables that are missing (idempotent)."""
    from headwater.activation import members  # noqa: F401  (registers the audience tables)
    from headwater.inlet import keys  # noqa: F401  (registers the inlet's tables)
    from headwater.store import profiles, runs, state  # noqa: F401  (registers their tables)

    try:
        metadata.create_all(engine)
    except DBAPIError:
        # Another process created the same tables between our check and our CREATE: look again.
        metadata.create_all(engine)
    _add_missing_columns(engine)


def _add_missing_columns(engine: Engine) -> None:
    """Add nullable columns introduced after a store was created (e.g. `hw_profiles.lineage`)."""
    from sqlalchemy import inspect

    inspector = inspect(engine)
    for table in metadata.sorted_tables:
        have = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in have and column.nullable:
                kind = column.type.compile(dialect=engine.dialect)
                with engine.begin() as conn:
                    conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}")


def describe(engine: Engine) -> str:
    """The engine's URL with the password masked, safe for logs."""
    return engine.url.render_as_string(hide_password=True)


@contextmanager
def write_transaction(engine: Engine, *, exclusive: bool = False) -> Iterator[Connection]:
    """A transaction meant to write; commits on success, rolls back on error.

    `exclusive=True` serialises it against other exclusive writers, for read-then-write logic
    (identity resolution) that would otherwise let two processes create the same profile twice.
    """
    with engine.connect() as conn:
        conn.execution_options(headwater_write=True)
        with conn.begin():
            # SQLite: BEGIN IMMEDIATE already holds the single write lock.
            if exclusive and conn.dialect.name == "postgresql":
                conn.execute(select(func.pg_advisory_xact_lock(PROFILE_LOCK_KEY)))
                conn.exec_driver_sql(_PG_CHUNK_SETTINGS)
            yield conn


def insert(conn: Connection | Engine, table: Table):
    """INSERT supporting ON CONFLICT for the connection's dialect (the one place that branches)."""
    name = conn.dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        raise NotImplementedError(f"the Headwater store supports sqlite and postgresql, not {name}")
    return dialect_insert(table)


def execute_many(conn: Connection, stmt, rows: list[dict]) -> None:
    """Run an INSERT ... ON CONFLICT for many rows as batched multi-row statements.

    SQLAlchemy 2.1 batches ON CONFLICT inserts into multi-row VALUES ("insertmanyvalues") only
    when they have RETURNING; without it psycopg2 sends one statement per row, 2-3x slower here.
    The returned keys are ignored. Rows must not repeat a conflict key within one call.
    """
    key = next(iter(stmt.table.primary_key.columns))
    conn.execute(stmt.returning(key), rows)
