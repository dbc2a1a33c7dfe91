"""SQL connectors against real databases: chunked reads, incremental state, checks and messages.

The same scenarios run on SQLite (a file), PostgreSQL and MySQL/MariaDB (integration).
"""

from __future__ import annotations

import json

import pytest

from headwater.connectors.registry import make_hook
from headwater.errors import ConnectionCheckError, SelectionError

from .sql_backends import BACKENDS

COLUMNS = ["id", "name", "updated_at", "note", "score"]


@pytest.fixture(
    params=[
        pytest.param("sqlite"),
        pytest.param("postgres", marks=pytest.mark.integration),
        pytest.param("mysql", marks=pytest.mark.integration),
        pytest.param("redshift", marks=pytest.mark.integration),
    ]
)
def db(request, include_dir, set_conn):
    backend = BACKENDS[request.param](include_dir, set_conn)
    yield backend
    backend.close()


def read(hook, state=None):
    chunks = list(hook.read(state))
    return chunks, [row for c in chunks for row in c.table.to_pylist()]


def ids(rows) -> list[int]:
    return [r["id"] for r in rows]


def test_full_read_is_chunked_with_one_schema(db):
    table = db.create()
    rows = [
        (
            i,
            f"name {i}",
            f"2024-01-{i % 28 + 1:02d} 00:00:00",
            None if i <= 1_500 else "x",
            None if i <= 1_500 else i,
        )
        for i in range(1, 12_346)
    ]
    db.insert(table, COLUMNS, rows)
    hook = make_hook(db.config(table=db.qualified(table), chunk_size=1_000))
    chunks, read_rows = read(hook)
    assert len(read_rows) == 12_345
    assert max(c.table.num_rows for c in chunks) <= 1_000
    assert len(chunks) == 13
    assert sorted(ids(read_rows)) == list(range(1, 12_346))
    # Columns entirely NULL in the first chunks keep the type they have in later chunks.
    assert len({c.table.schema.remove_metadata() for c in chunks}) == 1
    assert str(chunks[0].table.schema.field("score").type).startswith("int")
    assert str(chunks[0].table.schema.field("note").type) == "string"
    assert "_hw_row" not in chunks[0].table.column_names
    assert all(c.errors == [] for c in chunks)
    assert hook.next_state() is None and hook.watermark_description() is None


def test_incremental_picks_up_new_and_updated_rows(db):
    table = db.create()
    ts = {
        1: "2024-01-01 10:00:00",
        2: "2024-01-02 10:00:00",
        3: "2024-01-03 10:00:00",
        4: "2024-01-04 10:00:00",
    }
    db.insert(
        table,
        ["id", "name", "updated_at"],
        [(1, "a", ts[1]), (2, "b", ts[2]), (3, "c", ts[3]), (4, "d", ts[3]), (5, "e", ts[3])],
    )
    config = db.config(
        table=db.qualified(table), cursor={"column": "updated_at"}, primary_key="id", chunk_size=2
    )

    hook = make_hook(config)
    _, rows = read(hook)
    assert sorted(ids(rows)) == [1, 2, 3, 4, 5]
    state = hook.next_state()
    cursor = {"column": "updated_at", "type": db.timestamp_state_type, "value": db.ts_state(ts[3])}
    assert state["cursor"] == cursor
    assert sorted(state["keys_at_cursor"]) == [[3], [4], [5]]
    assert json.loads(json.dumps(state)) == state
    assert hook.watermark_description() == f"updated_at = {db.ts_state(ts[3])} (3 rows at that value)"

    # A new row, and a row updated to exactly the watermark: both read, nothing loaded twice.
    db.execute(f"INSERT INTO {table} (id, name, updated_at) VALUES (6, 'f', {db.ph})", (ts[4],))
    db.execute(f"UPDATE {table} SET name = 'a2', updated_at = {db.ph} WHERE id = 1", (ts[3],))
    hook = make_hook(config)
    _, rows = read(hook, state)
    assert sorted(ids(rows)) == [1, 6]
    assert [r["name"] for r in rows if r["id"] == 1] == ["a2"]
    state = hook.next_state()
    assert state["cursor"]["value"] == db.ts_state(ts[4]) and state["keys_at_cursor"] == [[6]]

    # Updated to exactly the new watermark: read, and the keys at that value accumulate.
    db.execute(f"UPDATE {table} SET updated_at = {db.ph} WHERE id = 2", (ts[4],))
    hook = make_hook(config)
    _, rows = read(hook, state)
    assert ids(rows) == [2]
    state = hook.next_state()
    assert state["cursor"]["value"] == db.ts_state(ts[4])
    assert sorted(state["keys_at_cursor"]) == [[2], [6]]

    # Nothing changed: nothing read, state kept.
    hook = make_hook(config)
    _, rows = read(hook, state)
    assert rows == [] and hook.next_state() == state


def test_cursor_initial_value(db):
    table = db.create()
    db.insert(
        table,
        ["id", "name", "updated_at"],
        [(i, f"n{i}", f"2024-01-0{i % 5 + 1} 00:00:00") for i in range(1, 151)],
    )

    hook = make_hook(
        db.config(
            table=db.qualified(table),
            cursor={"column": "id", "initial_value": 100},
            primary_key="id",
            chunk_size=20,
        )
    )
    chunks, rows = read(hook)
    assert ids(rows) == list(range(100, 151))
    assert max(c.table.num_rows for c in chunks) <= 20
    assert hook.next_state() == {
        "cursor": {"column": "id", "type": "int", "value": 150},
        "keys_at_cursor": [[150]],
    }

    hook = make_hook(
        db.config(table=db.qualified(table), cursor={"column": "updated_at", "initial_value": "2024-01-05"})
    )
    _, rows = read(hook)
    assert sorted(ids(rows)) == [i for i in range(1, 151) if i % 5 == 4]


def test_state_for_another_cursor_column_is_ignored(db):
    table = db.create()
    db.insert(table, ["id", "name"], [(1, "a"), (2, "b")])
    hook = make_hook(db.config(table=db.qualified(table), cursor={"column": "id"}, primary_key="id"))
    stale = {"cursor": {"column": "updated_at", "type": "string", "value": "2099"}, "keys_at_cursor": []}
    _, rows = read(hook, stale)
    assert ids(rows) == [1, 2]
    assert hook.notes == ["stored state is not for cursor column 'id'; reading from the initial value"]


def test_without_primary_key_the_whole_row_is_the_key(db):
    table = db.create()
    db.insert(table, ["id", "name", "score"], [(1, "a", 5), (2, "b", 5)])
    config = db.config(table=db.qualified(table), columns=["name", "score"], cursor={"column": "score"})
    hook = make_hook(config)
    read(hook)
    state = hook.next_state()
    assert sorted(state["keys_at_cursor"]) == [["a", 5], ["b", 5]]
    db.execute(f"UPDATE {table} SET name = 'a2' WHERE id = 1")
    hook = make_hook(config)
    _, rows = read(hook, state)
    assert rows == [{"name": "a2", "score": 5}]


def test_read_only_query_with_cursor_and_column_subset(db):
    table = db.create()
    db.insert(table, ["id", "name", "score"], [(i, f"n{i}", i * 10) for i in range(1, 6)])
    query = f"SELECT id, name, score FROM {table} WHERE score >= 20 -- trailing comment"
    hook = make_hook(
        db.config(query=query, columns=["id", "score"], cursor={"column": "score"}, primary_key="id")
    )
    assert hook.check().endswith("the query, 2 columns selected; incremental on score")
    _, rows = read(hook)
    assert rows == [{"id": i, "score": i * 10} for i in range(2, 6)]
    assert hook.next_state()["cursor"] == {"column": "score", "type": "int", "value": 50}


def test_check_describes_the_selection(db):
    table = db.create()
    hook = make_hook(db.config(table=db.qualified(table), cursor={"column": "updated_at"}))
    where = f"'{db.path}'" if db.name == "sqlite" else f"'test' (connection '{db.conn_id}')"
    assert hook.check() == (
        f"{db.label} database {where}: table '{db.qualified(table)}', 5 columns selected; incremental on updated_at"
    )


def test_table_not_found_suggests_similar_names(db):
    table = db.create("contacts")
    missing = table.replace("contacts", "contactz")
    hook = make_hook(db.config(table=db.qualified(missing)))
    with pytest.raises(ConnectionCheckError) as info:
        hook.check()
    where = f"'{db.path}'" if db.name == "sqlite" else f"'test' (connection '{db.conn_id}')"
    assert str(info.value) == (
        f"table '{db.qualified(missing)}' not found in database {where}; tables with a similar name: {table}"
    )


def test_missing_column_is_a_selection_error(db):
    table = db.create()
    hook = make_hook(db.config(table=db.qualified(table), columns=["id", "emial"]))
    with pytest.raises(SelectionError) as info:
        hook.check()
    note = "" if db.name == "sqlite" else f" (connection '{db.conn_id}')"
    assert str(info.value) == (
        f"column 'emial' not found in table '{db.qualified(table)}'{note}; "
        "available columns: id, name, updated_at, note, score"
    )


def test_extract_runs_read_only(db):
    table = db.create()
    hook = make_hook(db.config(table=db.qualified(table)))
    with hook.reader_connection() as conn:
        cur = conn.cursor()
        with pytest.raises(Exception, match=r"(?i)read.?only|readonly"):
            cur.execute(f"INSERT INTO {table} (id) VALUES (1)")


def test_abandoned_read_releases_the_connection(db):
    table = db.create()
    db.insert(table, ["id"], [(i,) for i in range(1, 5_001)])
    hook = make_hook(db.config(table=db.qualified(table), chunk_size=100))
    reading = hook.read(None)
    assert next(reading).table.num_rows == 100
    reading.close()
    assert len(read(hook)[1]) == 5_000


@pytest.mark.parametrize(
    ("fields", "location"),
    [
        pytest.param({"primary_key": "id"}, "id=2", id="primary-key"),
        pytest.param({"cursor": {"column": "updated_at"}}, "updated_at=2024-01-02 00:00:00", id="cursor"),
        pytest.param({}, "row 2 of this read", id="row-number"),
        # every location names the table (or `the query`) first
    ],
)
def test_rejected_row_carries_its_location_and_raw_record(fields, location, include_dir, set_conn):
    db = BACKENDS["sqlite"](include_dir, set_conn)
    try:
        table = db.create()
        db.insert(
            table,
            COLUMNS,
            [
                (1, "a", "2024-01-01 00:00:00", None, 5),
                (2, "b", "2024-01-02 00:00:00", "n", "five"),
                (3, "c", None, None, 7),
            ],
        )
        chunks, rows = read(make_hook(db.config(table=table, **fields)))
        assert sorted(ids(rows)) == [1, 3]
        [error] = [e for c in chunks for e in c.errors]
        assert (error.code, error.column, error.value, error.location) == (
            "TYPE_MISMATCH",
            "score",
            "five",
            f"table '{table}', {location}",
        )
        assert json.loads(error.record) == {
            "id": 2,
            "name": "b",
            "updated_at": "2024-01-02 00:00:00",
            "note": "n",
            "score": "five",
        }
    finally:
        db.close()


@pytest.mark.integration
def test_postgres_value_error_is_located_by_cursor_without_primary_key(include_dir, set_conn):
    db = BACKENDS["postgres"](include_dir, set_conn)
    try:
        table = db.create()
        db.execute(f"ALTER TABLE {table} ADD COLUMN due date")
        db.execute(
            f"INSERT INTO {table} (id, updated_at, due) VALUES (1, '2024-01-01', '2024-02-29'), "
            "(2, '2024-01-02 10:00', 'infinity')"
        )
        hook = make_hook(db.config(table=db.qualified(table), cursor={"column": "updated_at"}))
        chunks, rows = read(hook)
        assert ids(rows) == [1]
        [error] = [e for c in chunks for e in c.errors]
        assert (error.code, error.column, error.value) == ("VALUE_OUT_OF_RANGE", "due", "infinity")
        assert error.location == f"table '{db.qualified(table)}', updated_at=2024-01-02T10:00:00"
        assert json.loads(error.record)["id"] == 2
        # The quarantined row is accounted for: the watermark moves over it, it is not read again.
        state = hook.next_state()
        assert state["cursor"]["value"] == "2024-01-02T10:00:00"
        again = make_hook(db.config(table=db.qualified(table), cursor={"column": "updated_at"}))
        chunks, rows = read(again, state)
        assert rows == [] and [e for c in chunks for e in c.errors] == []
    finally:
        db.close()


# Redshift has no value without an exact Arrow form to plant (no infinity dates, no zero dates).
@pytest.mark.parametrize(
    "db",
    ["sqlite", pytest.param("postgres", marks=pytest.mark.integration), pytest.param("mysql", marks=pytest.mark.integration)],
    indirect=True,
)
def test_quarantined_rows_are_accounted_for_by_the_watermark(db):
    """A row left out as an error moves the watermark like a loaded row: quarantined once, not again
    by every later run (at the watermark or after the last loaded row)."""
    table = db.create()
    if db.name == "sqlite":  # text in an INTEGER column
        column, bad = "score", "'five'"
    else:  # a value with no exact Arrow form: PostgreSQL's infinity, MariaDB's zero date
        column, bad = "due", "'infinity'" if db.name == "postgres" else "'0000-00-00'"
        db.execute(f"ALTER TABLE {table} ADD COLUMN due DATE")
        if db.name == "mysql":
            db.execute("SET SESSION sql_mode = ''")
    db.execute(
        f"INSERT INTO {table} (id, updated_at, {column}) VALUES (1, '2024-01-01 00:00:00', NULL), "
        f"(2, '2024-01-01 00:00:00', {bad}), (3, '2024-01-02 00:00:00', {bad})"
    )
    config = db.config(table=db.qualified(table), cursor={"column": "updated_at"}, primary_key="id")
    hook = make_hook(config)
    chunks, rows = read(hook)
    assert ids(rows) == [1]
    where = f"table '{db.qualified(table)}'"
    assert sorted(e.location for c in chunks for e in c.errors) == [f"{where}, id=2", f"{where}, id=3"]
    state = hook.next_state()
    assert state["cursor"]["value"] == db.ts_state("2024-01-02 00:00:00") and state["keys_at_cursor"] == [[3]]

    db.execute(f"INSERT INTO {table} (id, updated_at) VALUES (4, '2024-01-02 00:00:00')")
    hook = make_hook(config)
    chunks, rows = read(hook, state)
    assert ids(rows) == [4] and [e for c in chunks for e in c.errors] == []
    assert sorted(hook.next_state()["keys_at_cursor"]) == [[3], [4]]
