"""SQLite specifics: dynamic typing, failing queries."""

from __future__ import annotations

import json
import sqlite3

import pytest

from headwater.connectors.models import SqliteConnector
from headwater.connectors.sqlite import SqliteSourceHook
from headwater.errors import SelectionError


@pytest.fixture
def database(include_dir):
    path = include_dir / "crm.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE contacts (id INTEGER, age INTEGER, extra)")
        conn.executemany(
            "INSERT INTO contacts VALUES (?, ?, ?)", [(1, 30, None), (2, "thirty", 1.5), (3, 40, "x")]
        )
    return path


def test_values_that_do_not_fit_the_declared_type_are_type_mismatch_errors(database):
    hook = SqliteSourceHook(config=SqliteConnector(type="sqlite", database="crm.db", table="contacts"))
    chunks = list(hook.read(None))
    assert [r for c in chunks for r in c.table.to_pylist()] == [
        {"id": 1, "age": 30, "extra": None},
        {"id": 3, "age": 40, "extra": "x"},
    ]
    (error,) = [e for c in chunks for e in c.errors]
    assert (error.code, error.stage, error.column, error.value) == (
        "TYPE_MISMATCH",
        "select",
        "age",
        "thirty",
    )
    assert error.message.startswith(
        "table 'contacts', row 2 of this read: value of column 'age' does not fit type int64"
    )
    assert json.loads(error.record) == {"id": 2, "age": "thirty", "extra": 1.5}


def test_failing_query_is_a_selection_error(database):
    hook = SqliteSourceHook(
        config=SqliteConnector(type="sqlite", database="crm.db", query="SELECT * FROM contactz")
    )
    with pytest.raises(SelectionError) as info:
        hook.check()
    assert str(info.value) == f"the query failed on SQLite database '{database}': no such table: contactz"
