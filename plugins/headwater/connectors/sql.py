"""Dialect-neutral half of the SQL source hooks: checks, incremental state, the read loop.

A database's hook mixes `SqlSource` into its provider hook and supplies only its specifics: the
SQLAlchemy dialect that compiles the statements (`sql_query` builds them), a read-only connection,
streaming, its catalog query, and error translation. No database is named in this module.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from headwater.errors import ConnectionCheckError, SelectionError
from headwater.records import RowError, render_value

from .arrow_util import BadValue, TypedColumns, rechunk
from .base import Chunk, SourceReader
from .models import SqlConnectorBase
from .positions import KEY, READ, Run, key_location, render, without_rows

# Reasons for `connect_failure`, worded the same for every database.
REFUSED = "connection refused — is the server running and the port right?"
UNKNOWN_HOST = "host name not found — check the connection's host"
TIMEOUT = "timed out — is the host reachable from the worker (firewall, VPN)?"
RESTARTING = "the server is starting up, shutting down or recovering — the task is retried"
# Reasons a later attempt can get past (a server restarting); every other one fails the task at once.
TRANSIENT_REASONS = (REFUSED, TIMEOUT, RESTARTING)


def auth_failed(user: str | None) -> str:
    return f"authentication failed for user '{user or ''}' — check the connection's login and password"


def unknown_database(name: str | None) -> str:
    return f"database '{name or ''}' does not exist — check the database name in the connection"


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def check_columns_exist(cfg, names: list[str], where: str) -> None:
    """Every selected, cursor and key column of `cfg` is among `names`, or a `SelectionError`
    naming the closest ones (shared by every table-or-query source)."""
    wanted = [*(cfg.columns or []), *([cfg.cursor.column] if cfg.cursor else []), *cfg.primary_key]
    for column in dict.fromkeys(wanted):
        if column not in names:
            close = difflib.get_close_matches(column, names, n=3, cutoff=0.6)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise SelectionError(
                f"column '{column}' not found in {where}; {hint}available columns: {', '.join(names)}"
            )


def json_value(value: object) -> object:
    """A value as it is stored in state (JSON): timestamps and dates as ISO text, decimals as text."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


# Watermark types stored in state. Numbers compare with each other across a type change; every
# other change (naive <-> aware timestamps, date <-> timestamp, number <-> text) cannot be compared
# without risking rows loaded twice or missed, and stops the read.
_NUMERIC_KINDS = {"int", "float", "decimal"}
_KIND_WORDS = {
    "int": "an integer",
    "float": "a floating-point number",
    "decimal": "a decimal",
    "timestamp": "a timestamp without time zone",
    "timestamptz": "a timestamp with time zone",
    "date": "a date",
    "string": "text",
}


def cursor_type(type_: pa.DataType) -> str:
    """The watermark type stored for a cursor column of this Arrow type."""
    if pa.types.is_integer(type_):
        return "int"
    if pa.types.is_floating(type_):
        return "float"
    if pa.types.is_decimal(type_):
        return "decimal"
    if pa.types.is_timestamp(type_):
        return "timestamptz" if type_.tz else "timestamp"
    if pa.types.is_date(type_):
        return "date"
    return "string"


def stored_kind(cursor: dict) -> str:
    """The type of a stored watermark. For dates and timestamps the value's form decides: states
    written before `timestamptz` existed say `timestamp` for both kinds, and `headwater state reset
    --cursor` keeps the old type next to a value of the new one."""
    kind = cursor.get("type", "string")
    value = cursor.get("value")
    if kind in ("timestamp", "timestamptz", "date") and isinstance(value, str):
        if len(value) == 10:  # YYYY-MM-DD: timestamps are always stored with a time
            return "date"
        return "timestamptz" if datetime.fromisoformat(value).tzinfo else "timestamp"
    return kind


def decode_cursor(cursor: dict) -> object:
    """The stored watermark as the Python value the driver binds (timestamps as datetime)."""
    value, kind = cursor["value"], stored_kind(cursor)
    if value is None:
        return None
    return {
        "int": int,
        "float": float,
        "decimal": Decimal,
        "timestamp": datetime.fromisoformat,
        "timestamptz": datetime.fromisoformat,
        "date": date.fromisoformat,
    }.get(kind, str)(value)


def check_cursor_type(column: str, cursor: dict, type_: pa.DataType) -> None:
    """Stop when the cursor column's type changed in a way the stored watermark cannot follow."""
    old, new = stored_kind(cursor), cursor_type(type_)
    if old == new or (old in _NUMERIC_KINDS and new in _NUMERIC_KINDS):
        return
    if old == "string" and new == "decimal":  # decimals were stored as text before `decimal` existed
        return
    raise SelectionError(
        f"cursor column '{column}' changed type since the last run: the stored watermark "
        f"{cursor.get('value')!r} is {_KIND_WORDS.get(old, old)}, the column now holds "
        f"{_KIND_WORDS.get(new, new)} ({type_}). Comparing the two could load rows twice or miss "
        "rows, so nothing was read. Move the watermark to a value of the new type with "
        "`headwater state reset <source> --cursor <value>` (rows at or after it are read again)."
    )


class CursorTracker:
    """Drops rows already loaded at the watermark and finds the next watermark and its keys.

    The watermark is compared as a typed value (decoded with its stored type), never as text, so
    `2024-01-03T10:00:00+00:00` equals `2024-01-03T12:00:00+02:00` and `3` equals `3.00`.
    """

    def __init__(self, column: str, key_columns: list[str], previous: dict | None):
        self.column = column
        self.key_columns = key_columns  # empty: the whole row is the key
        self.previous = previous
        self.prev_cursor = (previous or {}).get("cursor") or {}
        self.watermark = decode_cursor(self.prev_cursor) if self.prev_cursor else None
        self.seen = {tuple(k) for k in (previous or {}).get("keys_at_cursor", [])}
        self._past_watermark = not self.seen
        self._type_checked = not self.prev_cursor or self.watermark is None
        self.max_value: object = None
        self.max_type: str | None = None
        self.max_keys: dict[tuple, None] = {}

    def _key(self, table: pa.Table, i: int) -> tuple:
        names = self.key_columns or table.column_names
        return tuple(json_value(table.column(n)[i].as_py()) for n in names)

    def filter(self, table: pa.Table) -> pa.Table:
        if not self._type_checked and table.num_rows:
            type_ = table.schema.field(self.column).type
            check_cursor_type(self.column, self.prev_cursor, type_)
            kind = cursor_type(type_)
            if kind == "decimal" and isinstance(self.watermark, (str, float)):
                # a decimal stored as text, or a float column that became decimal: 0.1, not 0.1000000000000000055
                self.watermark = Decimal(str(self.watermark))
            elif kind == "float" and isinstance(self.watermark, Decimal):
                self.watermark = float(self.watermark)
            self._type_checked = True
        # Rows come ordered by the cursor, so rows at the watermark are a prefix of the read.
        if self._past_watermark or table.num_rows == 0:
            return table
        values = table.column(self.column)
        drop = []
        for i in range(table.num_rows):
            if values[i].as_py() != self.watermark:
                self._past_watermark = True
                break
            if self._key(table, i) in self.seen:
                drop.append(i)
        if not drop:
            return table
        keep = pa.array(sorted(set(range(table.num_rows)) - set(drop)), type=pa.int64())
        return table.take(keep)

    def observe(self, table: pa.Table) -> None:
        values = table.column(self.column)
        if table.num_rows == 0 or values.null_count == len(values):
            return
        top = pc.max(values)
        top_value = top.as_py()
        if self.max_value is None or top_value > self.max_value:
            self.max_value, self.max_type, self.max_keys = top_value, cursor_type(values.type), {}
        if top_value == self.max_value:
            at_max = table.filter(pc.equal(values, top))
            names = self.key_columns or table.column_names
            # one conversion for all rows at the maximum (many rows can share a coarse cursor value)
            for row in at_max.select(names).to_pylist():
                self.max_keys[tuple(json_value(row[n]) for n in names)] = None

    # Rows left out as errors (quarantined) are accounted for as much as loaded rows: the watermark
    # moves over them too, so a bad row is quarantined once, not again by every later run.
    def _rejected(
        self, errors: list[RowError], schema: pa.Schema
    ) -> Iterator[tuple[RowError, object, tuple]]:
        """(error, cursor value, key) of each error whose record holds a usable cursor value."""
        if self.column not in schema.names:
            return
        kind = cursor_type(schema.field(self.column).type)
        for error in errors:
            try:
                row = json.loads(error.record or "")
                value = decode_cursor({"type": kind, "value": row.get(self.column)})
            except (ValueError, TypeError, ArithmeticError, AttributeError):
                continue  # no record, or the cursor value is itself the bad value: read again next run
            if value is None:
                continue
            if kind == "timestamptz" and value.tzinfo is None:
                value = value.replace(tzinfo=UTC)  # drivers give TIMESTAMP read in a UTC session naive
            names = self.key_columns or schema.names
            yield error, value, tuple(row.get(n) for n in names)

    def filter_rejected(self, errors: list[RowError], schema: pa.Schema) -> list[RowError]:
        """Drop errors of rows at the watermark that were already accounted for (quarantined)."""
        if not errors or not self.seen:
            return errors
        again = {
            id(e)
            for e, value, key in self._rejected(errors, schema)
            if value == self.watermark and key in self.seen
        }
        return [e for e in errors if id(e) not in again] if again else errors

    def observe_rejected(self, errors: list[RowError], schema: pa.Schema) -> None:
        for _, value, key in self._rejected(errors, schema):
            if self.max_value is None or value > self.max_value:
                kind = cursor_type(schema.field(self.column).type)
                self.max_value, self.max_type, self.max_keys = value, kind, {}
            if value == self.max_value:
                self.max_keys[key] = None

    def state(self) -> dict | None:
        if self.max_value is None:  # nothing new: keep what was committed
            return self.previous
        keys = dict(self.max_keys)
        if self.max_value == self.watermark:
            keys = {**dict.fromkeys(self.seen), **keys}
        return {
            "cursor": {"column": self.column, "type": self.max_type, "value": json_value(self.max_value)},
            "keys_at_cursor": [list(k) for k in keys],
        }


def _record_value(value: object) -> object:
    """A value for a quarantine record: JSON-ready, marked values as the database wrote them."""
    return value.text if isinstance(value, BadValue) else json_value(value)


class SqlSource(SourceReader):
    """Reads a table or query in chunks; mixed into each database's provider hook.

    Statements are SQLAlchemy Core (`sql_query`), compiled by the hook's `sql_dialect()`; the hook
    connects, streams and translates errors, and names its catalog query.
    """

    source_label = "SQL database"  # the database's name, set by each dialect hook
    config: SqlConnectorBase

    # -- dialect specifics --------------------------------------------------------------------
    def make_dialect(self):
        """The SQLAlchemy dialect that compiles this database's statements for its driver."""
        raise NotImplementedError

    def reader_connection(self) -> AbstractContextManager:
        """A connection in a read-only transaction; connect failures raise `connect_failure(...)`."""
        raise NotImplementedError

    def stream(self, conn, stmt) -> Iterator[Chunk]:
        """Chunks of any size, all with one schema, using bounded memory (`stmt`: a Core select)."""
        raise NotImplementedError

    def catalog_tables(self, schema: str | None):
        """A Core select of one column `name`: the tables and views of `schema` (None: the default)."""
        raise NotImplementedError

    def database_expression(self):
        """A Core expression for the name of the database the session is in."""
        raise NotImplementedError

    def catalog_schemas(self):
        """A Core select of one column `name`: the schemas of the database (None: no schemas)."""
        return None

    def location(self) -> str:
        """Where the database is, for messages: `at host:port (connection 'x')`."""
        raise NotImplementedError

    def watermark_value(self, value: object) -> object:
        """The watermark as this driver binds it (a hook may convert it, e.g. to the session's zone)."""
        return value

    def connection_note(self) -> str:
        return f" (connection '{self.config.conn_id}')" if self.config.conn_id else ""

    def is_missing_grant(self, exc: Exception) -> bool:
        """Whether a failed statement failed for want of a privilege (SQLSTATE 42501 by default)."""
        return "42501" in (str(getattr(exc, "sqlstate", "") or ""), str(getattr(exc, "pgcode", "") or ""))

    def login_name(self) -> str:
        return getattr(getattr(self, "connection", None), "login", None) or ""

    # -- compiling and running statements -----------------------------------------------------------
    def sql_dialect(self):
        dialect = getattr(self, "_sql_dialect", None)
        if dialect is None:
            dialect = self._sql_dialect = self.make_dialect()
        return dialect

    def compile(self, stmt) -> tuple[str, list | dict]:
        from .sql_query import compile_sql

        return compile_sql(stmt, self.sql_dialect())

    def quote_identifier(self, name: str) -> str:
        return self.sql_dialect().identifier_preparer.quote_identifier(name)

    def fetch_all(self, conn, stmt) -> list[tuple]:
        """All rows of a small statement (catalog lookups, probes)."""
        sql, params = self.compile(stmt)
        cur = conn.cursor()
        try:
            cur.execute(sql, params) if params else cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()]
        finally:
            cur.close()

    def table_exists(self, conn, table: str) -> bool:
        from .sql_query import named, split_table

        schema, name = split_table(table)
        return bool(self.fetch_all(conn, named(self.catalog_tables(schema), name)))

    def list_tables(self, conn, schema: str | None) -> list[str]:
        """Table and view names (without schema) in `schema`, or in the default schema."""
        return sorted(r[0] for r in self.fetch_all(conn, self.catalog_tables(schema)))

    def list_schemas(self, conn) -> list[str]:
        catalog = self.catalog_schemas()
        return sorted(r[0] for r in self.fetch_all(conn, catalog)) if catalog is not None else []

    def database_name(self, conn) -> str:
        import sqlalchemy as sa

        return self.fetch_all(conn, sa.select(self.database_expression()))[0][0] or ""

    # -- shared logic -------------------------------------------------------------------------
    def connect_failure(self, reason: str) -> ConnectionCheckError:
        return ConnectionCheckError(
            f"cannot connect to {self.source_label} {self.location()}: {reason}",
            transient=reason in TRANSIENT_REASONS,
        )

    def source_clause(self):
        from .sql_query import source_clause

        return source_clause(self.config.table, self.config.query)

    def select_statement(self, watermark: object = None):
        from .sql_query import select_statement

        cfg = self.config
        if watermark is not None:
            watermark = self.watermark_value(watermark)
        return select_statement(
            self.source_clause(), cfg.columns, cfg.cursor.column if cfg.cursor else None, watermark
        )

    def column_names(self, conn, stmt) -> list[str]:
        sql, params = self.compile(stmt)
        cur = conn.cursor()
        try:
            cur.execute(sql, params) if params else cur.execute(sql)
            names = [d[0] for d in cur.description]
            cur.fetchall()
        finally:
            cur.close()
        return names

    def rows_chunk(self, typed: TypedColumns, names: list[str], rows: list[tuple], offset: int) -> Chunk:
        """Chunk from DB-API rows; values that do not fit their column's type become row errors.

        A value of another type than its column's is a TYPE_MISMATCH; a value the driver marked as
        having no exact Arrow form (`BadValue`) carries its own code and reason.
        """
        table, mismatches = typed.table(
            names, [list(c) for c in zip(*rows, strict=True)] or [[] for _ in names]
        )
        errors = []
        for m in mismatches:
            row = {n: _record_value(v) for n, v in zip(names, rows[m.index], strict=True)}
            where = f"{self._what()}, row {offset + m.index + 1} of this read"
            if m.reason:
                message = f"{where}: value of column '{m.column}' {m.reason}"
            else:
                message = (
                    f"{where}: value of column '{m.column}' does not fit type {m.expected} (taken from "
                    "the declared type or earlier rows); CAST it in a query to read it"
                )
            errors.append(self.value_error(m.code, m.column, m.value, message, row, offset + m.index + 1))
        return Chunk(table, errors, runs=self.read_runs(offset, len(rows), {m.index for m in mismatches}))

    def read_runs(self, offset: int, rows: int, dropped: set[int]) -> list[Run]:
        """Where a chunk's rows are: rows `offset + 1 ..` of this read, less the `dropped` ones.
        (`read` replaces them by key runs when a primary key or cursor names each row.)"""
        return without_rows([Run(rows, self._what(), READ, None, offset + 1)], dropped) if rows else []

    def row_keys(self) -> tuple[str, ...]:
        """The columns that name a row in locations: the primary key, else the cursor."""
        cfg = self.config
        return tuple(cfg.primary_key) or ((cfg.cursor.column,) if cfg.cursor else ())

    def value_error(
        self, code: str, column: str, value: object, message: str, row: dict, number: int
    ) -> RowError:
        """A select-stage error for one row left out of the chunk: `row` is the whole row with
        JSON-ready values, `number` its 1-based position in this read."""
        return RowError(
            row=None,
            stage="select",
            code=code,
            column=column,
            value=render_value(value),
            message=message,
            record=json.dumps(row, ensure_ascii=False, default=str),
            location=self.row_location(row, number),
        )

    def row_location(self, row: dict, number: int) -> str:
        """Where a row is in the source: the table (or the query), then the row's primary key, else
        its cursor value, else its position. Rows rejected by later stages get the same text from
        the location index (`lake/locations.py`)."""
        names = self.row_keys()
        if names and all(n in row for n in names):
            return key_location(self._what(), names, row)
        return render(self._what(), READ, None, number)

    def _what(self) -> str:
        return f"table '{self.config.table}'" if self.config.table else "the query"

    def _missing_table(self, conn, database: str) -> ConnectionCheckError:
        table = self.config.table or ""
        schema, _, name = table.rpartition(".")
        candidates = self.list_tables(conn, schema or None)
        by_lower = {c.lower(): c for c in candidates}
        similar = [
            by_lower[c] for c in difflib.get_close_matches(name.lower(), list(by_lower), n=5, cutoff=0.6)
        ]
        hint = (
            f"tables with a similar name: {', '.join(similar)}"
            if similar
            else f"no table with a similar name ({len(candidates)} tables visible)"
        )
        if schema and not candidates and (schemas := self.list_schemas(conn)) and schema not in schemas:
            close = difflib.get_close_matches(schema, schemas, n=5, cutoff=0.6)
            hint = f"schema '{schema}' does not exist" + (
                f"; schemas with a similar name: {', '.join(close)}" if close else ""
            )
        return ConnectionCheckError(
            f"table '{table}' not found in database '{database}'{self.connection_note()}; {hint}"
        )

    def check(self) -> str:
        from .sql_query import empty_probe

        cfg = self.config
        with self.reader_connection() as conn:
            database = self.database_name(conn)
            if cfg.table and not self.table_exists(conn, cfg.table):
                raise self._missing_table(conn, database)
            try:
                names = self.column_names(conn, empty_probe(self.source_clause()))
            except Exception as exc:
                if self.is_missing_grant(exc):
                    what = f"table {cfg.table}" if cfg.table else "the tables of the query"
                    raise ConnectionCheckError(
                        f"{self.source_label} user '{self.login_name()}' may not read {self._what()} in database "
                        f"'{database}'{self.connection_note()}: {first_line(exc)} — grant it SELECT on {what}"
                        " (and the use of its schema)"
                    ) from exc
                raise SelectionError(
                    f"{self._what()} failed on {self.source_label} database '{database}'"
                    f"{self.connection_note()}: {first_line(exc)}"
                ) from exc
        check_columns_exist(cfg, names, f"{self._what()}{self.connection_note()}")
        incremental = f"; incremental on {cfg.cursor.column}" if cfg.cursor else "; full read each run"
        return (
            f"{self.source_label} database '{database}'{self.connection_note()}: "
            f"{self._what()}, {len(cfg.columns or names)} columns selected{incremental}"
        )

    def read(self, state: dict | None) -> Iterator[Chunk]:
        cfg = self.config
        self.notes = []
        self._next_state = None
        tracker = None
        watermark = None
        if cfg.cursor:
            previous = (
                state if state and (state.get("cursor") or {}).get("column") == cfg.cursor.column else None
            )
            if state and previous is None:
                self.notes.append(
                    f"stored state is not for cursor column '{cfg.cursor.column}'; reading from the initial value"
                )
            if previous:
                watermark = decode_cursor(previous["cursor"])
            elif cfg.cursor.initial_value is not None:
                watermark = cfg.cursor.initial_value
            tracker = CursorTracker(cfg.cursor.column, list(cfg.primary_key), previous)
        stmt = self.select_statement(watermark)
        keys = self.row_keys()
        self.log.info("Reading with: %s (parameters %s)", *self.compile(stmt))
        with self.reader_connection() as conn:
            for chunk in rechunk(self.stream(conn, stmt), cfg.chunk_size):
                if tracker:
                    chunk.table = tracker.filter(chunk.table)
                    chunk.errors = tracker.filter_rejected(chunk.errors, chunk.table.schema)
                    tracker.observe(chunk.table)
                    tracker.observe_rejected(chunk.errors, chunk.table.schema)
                if keys and all(k in chunk.table.column_names for k in keys):
                    # each row names itself; its values are read from the staged row when needed
                    chunk.runs = [Run(chunk.table.num_rows, self._what(), KEY, keys=keys)] if chunk.table.num_rows else []
                yield chunk
        self._next_state = tracker.state() if tracker else None

    def next_state(self) -> dict | None:
        return getattr(self, "_next_state", None)

    def watermark_description(self) -> str | None:
        state = self.next_state()
        if not state:
            return None
        cursor = state["cursor"]
        count = len(state.get("keys_at_cursor", []))
        return (
            f"{cursor['column']} = {cursor['value']} ({count} row{'s' if count != 1 else ''} at that value)"
        )
