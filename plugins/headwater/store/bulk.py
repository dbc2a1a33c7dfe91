"""Set-based reads and writes for the profile store, one statement per chunk and table.

PostgreSQL: the chunk's keys or rows are COPYed into a temporary table (dropped at commit) on the
transaction's own connection, and one statement joins it: `SELECT ... JOIN`, `UPDATE ... FROM`,
`DELETE ... USING`; inserts are a COPY straight into the table. COPY text is several times cheaper
to build and to parse than the same rows as array parameters of `unnest()`, which psycopg2 quotes
value by value (bench/README.md, profile_merge). SQLite: `IN` lists and executemany, which are
already fast there. Callers hold the exclusive profile transaction, so "insert" is only used for
rows known not to exist.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, DateTime, Table

IN_BATCH = 5000  # bound parameters per IN list: far below SQLite's 32,766 limit
_stage_names = itertools.count()


def _pg(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _batches(values: Sequence, size: int = IN_BATCH) -> Iterator[Sequence]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _pg_type(table: Table, column: str) -> str:
    return "timestamptz" if isinstance(table.c[column].type, DateTime) else "text"


def _stage(conn: Connection, table: Table, columns: Sequence[str], rows: list[tuple]) -> str:
    """COPY `rows` into a new temporary table whose columns c0, c1, ... have the types of `columns`.

    Dropped at commit. The c-names let a key also be a column being set (`SET k = u.c1 ... ON t.k = u.c0`).
    """
    name = f"_hw_stage_{next(_stage_names)}"
    defs = ", ".join(f"c{i} {_pg_type(table, c)}" for i, c in enumerate(columns))
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {name} ({defs}) ON COMMIT DROP")
    _copy(conn, name, [f"c{i}" for i in range(len(columns))], rows)
    return name


def _on(keys: Sequence[str]) -> str:
    return " AND ".join(f"t.{k} = u.c{i}" for i, k in enumerate(keys))


def select_in(
    conn: Connection, table: Table, columns: Sequence[str], keys: Sequence[str], values: Sequence[tuple],
    where: dict[str, object] | None = None,
) -> list[tuple]:
    """Rows of `columns` from `table` whose `keys` columns equal one of `values` (tuples).

    `where` adds equality conditions on constants (e.g. the source).
    """
    values = list(values)
    if not values:
        return []
    where = where or {}
    cols = ", ".join(f"t.{c}" for c in columns)
    if _pg(conn):
        staged = _stage(conn, table, keys, values)
        extra = "".join(f" AND t.{c} = %s" for c in where)
        sql = f"SELECT {cols} FROM {table.name} t JOIN {staged} u ON {_on(keys)}{extra}"
        return [tuple(r) for r in conn.exec_driver_sql(sql, tuple(where.values()))]
    out: list[tuple] = []
    extra = "".join(f" AND t.{c} = ?" for c in where)
    if len(keys) == 1:
        for batch in _batches(values):
            marks = ", ".join("?" * len(batch))
            sql = f"SELECT {cols} FROM {table.name} t WHERE t.{keys[0]} IN ({marks}){extra}"
            out += [tuple(r) for r in conn.exec_driver_sql(sql, tuple(v[0] for v in batch) + tuple(where.values()))]
        return out
    # Composite keys: group by all but the last column so each query is one IN list.
    groups: dict[tuple, list] = {}
    for v in values:
        groups.setdefault(tuple(v[:-1]), []).append(v[-1])
    for head, tails in groups.items():
        cond = " AND ".join(f"t.{k} = ?" for k in keys[:-1])
        for batch in _batches(tails):
            marks = ", ".join("?" * len(batch))
            sql = f"SELECT {cols} FROM {table.name} t WHERE {cond} AND t.{keys[-1]} IN ({marks}){extra}"
            out += [tuple(r) for r in conn.exec_driver_sql(sql, head + tuple(batch) + tuple(where.values()))]
    return out


def _copy_text(value: object) -> str:
    if value is None:
        return "\\N"
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def _copy_lines(rows: list[tuple]) -> Iterator[str]:
    """COPY text lines; each distinct timestamp is formatted once (a chunk shares a few)."""
    stamps: dict[datetime, str] = {}
    for row in rows:
        out = []
        for v in row:
            if v.__class__ is str:
                if "\\" in v or "\t" in v or "\n" in v or "\r" in v:
                    v = _copy_text(v)
                out.append(v)
            elif isinstance(v, datetime):
                # Equal datetimes are the same instant, whatever their offset: one text serves.
                text = stamps.get(v)
                if text is None:
                    text = stamps[v] = v.isoformat()
                out.append(text)
            else:
                out.append(_copy_text(v))
        yield "\t".join(out) + "\n"


def _lite(row: Iterable) -> tuple:
    # The format SQLAlchemy's SQLite DateTime writes (naive UTC), so both paths read back alike.
    return tuple(
        v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v for v in row
    )


def _copy(conn: Connection, table_name: str, columns: Sequence[str], rows: list[tuple]) -> None:
    """COPY FROM STDIN on the transaction's own DBAPI connection (psycopg2 or psycopg 3)."""
    buf = io.StringIO("".join(_copy_lines(rows)))
    cur = conn.connection.dbapi_connection.cursor()
    sql = f"COPY {table_name} ({', '.join(columns)}) FROM STDIN"
    try:
        if hasattr(cur, "copy_expert"):  # psycopg2
            cur.copy_expert(sql, buf)
        else:  # psycopg 3
            with cur.copy(sql) as copy:
                copy.write(buf.getvalue())
    finally:
        cur.close()


def insert_rows(conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[tuple]) -> None:
    """Insert rows known to be new (COPY on PostgreSQL)."""
    rows = list(rows)
    if not rows:
        return
    if _pg(conn):
        _copy(conn, table.name, columns, rows)
        return
    marks = ", ".join("?" * len(columns))
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})", [_lite(r) for r in rows])


def update_rows(
    conn: Connection, table: Table, keys: Sequence[str], columns: Sequence[str], rows: Iterable[tuple]
) -> None:
    """Set `columns` of the rows matching `keys`; each row is (*keys, *columns)."""
    rows = list(rows)
    if not rows:
        return
    if _pg(conn):
        staged = _stage(conn, table, [*keys, *columns], rows)
        sets = ", ".join(f"{c} = u.c{len(keys) + i}" for i, c in enumerate(columns))
        conn.exec_driver_sql(f"UPDATE {table.name} t SET {sets} FROM {staged} u WHERE {_on(keys)}")
        return
    sets = ", ".join(f"{c} = ?" for c in columns)
    cond = " AND ".join(f"{k} = ?" for k in keys)
    n = len(keys)
    conn.exec_driver_sql(
        f"UPDATE {table.name} SET {sets} WHERE {cond}", [_lite(tuple(r[n:]) + tuple(r[:n])) for r in rows]
    )


def delete_rows(conn: Connection, table: Table, keys: Sequence[str], rows: Iterable[tuple]) -> None:
    """Delete the rows whose `keys` columns equal one of `rows` (tuples)."""
    rows = list(rows)
    if not rows:
        return
    if _pg(conn):
        staged = _stage(conn, table, keys, rows)
        conn.exec_driver_sql(f"DELETE FROM {table.name} t USING {staged} u WHERE {_on(keys)}")
        return
    cond = " AND ".join(f"{k} = ?" for k in keys)
    conn.exec_driver_sql(f"DELETE FROM {table.name} WHERE {cond}", [_lite(r) for r in rows])
