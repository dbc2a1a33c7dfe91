"""Incremental cursors of every state type round-trip through JSON state and back into a query."""

from __future__ import annotations

import json

import pytest

from headwater.connectors.registry import make_hook
from tests.services import unique

from .sql_backends import BACKENDS

# (backend, SQL type, three ascending values as SQL literals, state type, stored value of the max)
CASES = [
    (
        "postgres",
        "TIMESTAMPTZ",
        ["'2024-01-01 10:00+00'", "'2024-01-02 10:00+00'", "'2024-01-03 10:00:00.5+00'"],
        "timestamptz",
        "2024-01-03T10:00:00.500000+00:00",
    ),
    (
        "postgres",
        "TIMESTAMP",
        ["'2024-01-01 10:00'", "'2024-01-02'", "'2024-01-03 10:00'"],
        "timestamp",
        "2024-01-03T10:00:00",
    ),
    ("postgres", "NUMERIC(10,2)", ["1.5", "2.5", "3.25"], "decimal", "3.25"),
    ("postgres", "DATE", ["'2024-01-01'", "'2024-01-02'", "'2024-01-03'"], "date", "2024-01-03"),
    ("postgres", "DOUBLE PRECISION", ["1.5", "2.5", "3.25"], "float", 3.25),
    ("postgres", "BIGINT", ["1", "2", "3"], "int", 3),
    ("postgres", "VARCHAR(10)", ["'a'", "'b'", "'c''s'"], "string", "c's"),
    (
        "mysql",
        "TIMESTAMP(3) NULL",
        ["'2024-01-01 10:00:00'", "'2024-01-02 10:00:00'", "'2024-01-03 10:00:00.25'"],
        "timestamptz",  # TIMESTAMP is an instant: read in a UTC session
        "2024-01-03T10:00:00.250000+00:00",
    ),
    (
        "mysql",
        "DATETIME(3)",
        ["'2024-01-01 10:00:00'", "'2024-01-02 10:00:00'", "'2024-01-03 10:00:00.25'"],
        "timestamp",
        "2024-01-03T10:00:00.250000",
    ),
    ("mysql", "DECIMAL(10,2)", ["1.5", "2.5", "3.25"], "decimal", "3.25"),
    ("mysql", "DATE", ["'2024-01-01'", "'2024-01-02'", "'2024-01-03'"], "date", "2024-01-03"),
    ("mysql", "DOUBLE", ["1.5", "2.5", "3.25"], "float", 3.25),
    ("mysql", "VARCHAR(10)", ["'a'", "'b'", "'c''s'"], "string", "c's"),
    ("sqlite", "REAL", ["1.5", "2.5", "3.25"], "float", 3.25),
    ("sqlite", "INTEGER", ["1", "2", "3"], "int", 3),
]
# Redshift is read over PostgreSQL's wire protocol: the same cases through a `redshift` connection
CASES += [("redshift", *case[1:]) for case in CASES if case[0] == "postgres"]


@pytest.mark.parametrize(
    ("backend", "sql_type", "values", "state_type", "stored"),
    [
        pytest.param(
            *case,
            id=f"{case[0]}-{case[1].split('(')[0].lower()}",
            marks=[pytest.mark.integration] if case[0] != "sqlite" else [],
        )
        for case in CASES
    ],
)
def test_cursor_type_round_trip(backend, sql_type, values, state_type, stored, include_dir, set_conn):
    db = BACKENDS[backend](include_dir, set_conn)
    try:
        table = db.create()
        db.execute(f"DROP TABLE {table}")
        db.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, c {sql_type})")
        db.execute(f"INSERT INTO {table} VALUES (1, {values[0]}), (2, {values[2]}), (3, {values[1]})")
        config = db.config(table=table, cursor={"column": "c"}, primary_key="id")
        hook = make_hook(config)
        assert sorted(r["id"] for c in hook.read(None) for r in c.table.to_pylist()) == [1, 2, 3]
        state = json.loads(json.dumps(hook.next_state()))
        assert state == {
            "cursor": {"column": "c", "type": state_type, "value": stored},
            "keys_at_cursor": [[2]],
        }

        db.execute(f"INSERT INTO {table} VALUES (4, {values[2]}), (5, {values[1]})")
        hook = make_hook(config)
        assert [r["id"] for c in hook.read(state) for r in c.table.to_pylist()] == [4]
        assert sorted(hook.next_state()["keys_at_cursor"]) == [[2], [4]]
    finally:
        db.close()


@pytest.mark.integration
def test_postgres_numeric_becomes_decimal(include_dir, set_conn):
    import decimal

    from headwater.connectors.registry import make_hook

    from .sql_backends import PostgresBackend

    backend = PostgresBackend(include_dir, set_conn)
    try:
        table = unique("hw_numeric")
        backend.execute(f"CREATE TABLE {table} (id int, amount numeric(10,2), ratio numeric)")
        backend.tables.append(table)
        backend.insert(table, ["id", "amount", "ratio"], [(1, "12.50", "0.3333"), (2, None, None)])
        chunks = list(make_hook(backend.config(table=table)).read(None))
        data = chunks[0].table
        assert str(data.schema.field("amount").type) == "decimal128(10, 2)"
        assert str(data.schema.field("ratio").type) == "string"  # unbounded NUMERIC keeps its text
        assert data.column("amount").to_pylist() == [decimal.Decimal("12.50"), None]
    finally:
        backend.close()


# (backend, cursor type before, after, whether the watermark can follow the change)
TYPE_CHANGES = [
    ("postgres", "TIMESTAMP", "TIMESTAMPTZ", False),
    ("postgres", "INTEGER", "NUMERIC(10,2)", True),
    ("postgres", "DATE", "TIMESTAMP", False),
    ("mysql", "DATETIME", "TIMESTAMP NULL", False),
    ("mysql", "INTEGER", "DECIMAL(10,2)", True),
]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("backend", "before", "after", "follows"),
    [pytest.param(*c, id=f"{c[0]}-{c[1].lower()}-to-{c[2].split()[0].lower()}") for c in TYPE_CHANGES],
)
def test_cursor_type_change_never_loads_the_watermark_row_twice(
    backend, before, after, follows, include_dir, set_conn
):
    from headwater.errors import SelectionError

    db = BACKENDS[backend](include_dir, set_conn)
    try:
        table = unique("hw_tc")
        db.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, c {before})")
        db.tables.append(table)
        first, second = ("1", "2") if "INT" in before else ("'2024-01-01'", "'2024-01-02'")
        db.execute(f"INSERT INTO {table} VALUES (1, {first}), (2, {second})")
        config = db.config(table=table, cursor={"column": "c"}, primary_key="id")
        hook = make_hook(config)
        assert sorted(r["id"] for c in hook.read(None) for r in c.table.to_pylist()) == [1, 2]
        state = json.loads(json.dumps(hook.next_state()))

        alter = (
            "ALTER TABLE {t} MODIFY c {a}"
            if backend == "mysql"
            else "ALTER TABLE {t} ALTER COLUMN c TYPE {a}"
        )
        db.execute(alter.format(t=table, a=after))
        third = "3" if "INT" in before else "'2024-01-03'"
        db.execute(f"INSERT INTO {table} VALUES (3, {third})")
        hook = make_hook(config)
        if follows:  # numbers compare across the change: only the new row
            assert [r["id"] for c in hook.read(state) for r in c.table.to_pylist()] == [3]
            assert hook.next_state()["cursor"] == {"column": "c", "type": "decimal", "value": "3.00"}
        else:
            with pytest.raises(SelectionError) as info:
                list(hook.read(state))
            message = str(info.value)
            assert message.startswith(
                "cursor column 'c' changed type since the last run: the stored watermark "
            )
            assert "nothing was read" in message and "headwater state reset" in message
            old_kind = {
                "TIMESTAMP": "a timestamp without time zone",
                "DATE": "a date",
                "DATETIME": "a timestamp without time zone",
            }
            assert f"is {old_kind[before]}, the column now holds " in message
    finally:
        db.close()


def test_stored_timestamp_with_offset_compares_as_an_instant(include_dir, set_conn):
    """A state written before `timestamptz` existed (type `timestamp`, value with an offset) and a
    watermark written at another offset still match the row at the watermark."""
    import pyarrow as pa

    from headwater.connectors.sql import CursorTracker

    previous = {
        "cursor": {"column": "c", "type": "timestamp", "value": "2024-01-03T12:00:00+02:00"},
        "keys_at_cursor": [[1]],
    }
    tracker = CursorTracker("c", ["id"], previous)
    rows = pa.table(
        {
            "id": [1, 2],
            "c": pa.array([1704276000000000, 1704276000000000], pa.timestamp("us", tz="UTC")),  # 10:00 UTC
        }
    )
    assert tracker.filter(rows).column("id").to_pylist() == [2]


def test_watermark_moved_by_state_reset_takes_the_type_of_its_value():
    """`headwater state reset --cursor` keeps the old `type` next to a value of the new type."""
    import pyarrow as pa

    from headwater.connectors.sql import CursorTracker

    previous = {"cursor": {"column": "c", "type": "timestamp", "value": "2024-01-03"}, "keys_at_cursor": []}
    rows = pa.table({"id": [1], "c": pa.array([19725], pa.date32())})  # 2024-01-03
    assert CursorTracker("c", ["id"], previous).filter(rows).num_rows == 1
