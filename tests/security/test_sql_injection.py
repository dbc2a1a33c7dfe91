"""Names and values from source files never change the SQL they are part of.

An injection corpus goes into every place a source file puts a name (table, selected columns,
cursor column, primary key) or a value (the cursor's initial value) of a PostgreSQL, MariaDB and
SQLite source, and into the Delta predicates of the lake (source and run id values, key column
names). Each case ends in one of two ways, both checked: a clear error (a config error, or a
Headwater error naming the table or column), or the read/write does exactly what the text says
(a table really named `x"; DROP TABLE ...` is read). A canary table must survive every case.
"""

from __future__ import annotations

import json
import sqlite3
import uuid

import pytest
from pydantic import ValidationError

from headwater.errors import HeadwaterError
from tests.services import require_service

CANARY = "hw_canary"

# Each entry is used as a table name, a column name and a cursor value.
CORPUS = {
    "double_quote": 'x"; DROP TABLE hw_canary; --',
    "single_quote": "x'; DROP TABLE hw_canary; --",
    "backtick": "x`; DROP TABLE hw_canary; -- ",
    "semicolon": "x;DROP TABLE hw_canary",
    "block_comment": "x/* c */",
    "line_comment": "x -- c",
    "backslash_quote": "x\\'; DROP TABLE hw_canary; --",
    "trailing_backslash": "x\\",
    "doubled_quotes": "x\"\"''``",
    "newline": "x\nDROP TABLE hw_canary",
    "fullwidth_quote": "ｘ＂；DROP TABLE hw_canary",
    "modifier_apostrophe": "xʼ; DROP TABLE hw_canary; --",
    "right_single_quote": "x’; DROP TABLE hw_canary; --",
    "fullwidth_backtick": "x｀; DROP TABLE hw_canary",
    "nul": "x\x00; DROP TABLE hw_canary",
    "percent_format": "x%s%(a)s{0}",
}


# -- databases -------------------------------------------------------------------------------------


class Sqlite:
    label = "SQLite"

    def __init__(self, tmp_path, monkeypatch) -> None:
        self.path = tmp_path / "db.sqlite"
        self.db = sqlite3.connect(self.path, isolation_level=None)

    def quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def ref(self, name: str) -> str:
        return name

    def run(self, sql: str, params=()) -> None:
        self.db.execute(sql, params)

    def rows(self, sql: str) -> list:
        return self.db.execute(sql).fetchall()

    def ph(self) -> str:
        return "?"

    def connector(self, **fields):
        from headwater.connectors.models import SqliteConnector

        return SqliteConnector(type="sqlite", database=str(self.path), **fields)

    def hook(self, config):
        from headwater.connectors.sqlite import SqliteSourceHook

        return SqliteSourceHook(config=config)

    def rows_where_at_least(self, table: str, value: str) -> list[str]:
        cur = self.db.cursor()
        cur.execute(f"SELECT v FROM {table} WHERE v >= {self.ph()}", (value,))
        found = [r[0] for r in cur.fetchall()]
        cur.close()
        return found

    def tables(self) -> set[str]:
        return {r[0] for r in self.rows("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def close(self) -> None:
        self.db.close()


class Postgres:
    label = "PostgreSQL"

    def __init__(self, tmp_path, monkeypatch) -> None:
        import psycopg

        require_service("PostgreSQL", "127.0.0.1", 5432)
        self.schema = f"hw_inj_{uuid.uuid4().hex[:8]}"
        self.db = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True)
        self.db.execute(f"CREATE SCHEMA {self.schema}")
        self.db.execute(f"SET search_path TO {self.schema}")
        monkeypatch.setenv("AIRFLOW_CONN_HW_INJ_PG", json.dumps(
            {"conn_type": "postgres", "host": "127.0.0.1", "port": 5432, "login": "postgres", "schema": "test"}))

    def ref(self, name: str) -> str:
        return f"{self.schema}.{name}"  # the source names the schema (its session has the default path)

    def quote(self, name: str) -> str:
        from psycopg import sql

        return sql.Identifier(name).as_string(self.db)

    def run(self, sql: str, params=()) -> None:
        self.db.execute(sql.replace("{s}", self.schema), params)

    def rows(self, sql: str) -> list:
        return self.db.execute(sql.replace("{s}", self.schema)).fetchall()

    def ph(self) -> str:
        return "%s"

    def connector(self, **fields):
        from headwater.connectors.models import PostgresConnector

        return PostgresConnector(type="postgres", conn_id="hw_inj_pg", **fields)

    def hook(self, config):
        from headwater.connectors.postgres import PostgresSourceHook

        return PostgresSourceHook(config=config)

    def rows_where_at_least(self, table: str, value: str) -> list[str]:
        cur = self.db.cursor()
        cur.execute(f"SELECT v FROM {table} WHERE v >= {self.ph()}", (value,))
        found = [r[0] for r in cur.fetchall()]
        cur.close()
        return found

    def tables(self) -> set[str]:
        return {r[0] for r in self.rows("SELECT table_name FROM information_schema.tables WHERE table_schema = '{s}'")}

    def close(self) -> None:
        self.db.execute(f"DROP SCHEMA {self.schema} CASCADE")
        self.db.close()


class MariaDb:
    label = "MariaDB"

    def __init__(self, tmp_path, monkeypatch) -> None:
        import mysql.connector

        require_service("MariaDB", "127.0.0.1", 3306)
        self.schema = f"hw_inj_{uuid.uuid4().hex[:8]}"
        self.db = mysql.connector.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
        self.run(f"CREATE DATABASE {self.schema} CHARACTER SET utf8mb4")
        self.run(f"USE {self.schema}")
        monkeypatch.setenv("AIRFLOW_CONN_HW_INJ_MY", json.dumps(
            {"conn_type": "mysql", "host": "127.0.0.1", "port": 3306, "login": "root", "schema": self.schema}))

    def quote(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def ref(self, name: str) -> str:
        return name

    def run(self, sql: str, params=()) -> None:
        cur = self.db.cursor()
        cur.execute(sql, params)
        cur.close()

    def rows(self, sql: str) -> list:
        cur = self.db.cursor()
        cur.execute(sql)
        found = cur.fetchall()
        cur.close()
        return found

    def ph(self) -> str:
        return "%s"

    def connector(self, **fields):
        from headwater.connectors.models import MySqlConnector

        return MySqlConnector(type="mysql", conn_id="hw_inj_my", **fields)

    def hook(self, config):
        from headwater.connectors.mysql import MySqlSourceHook

        return MySqlSourceHook(config=config)

    def rows_where_at_least(self, table: str, value: str) -> list[str]:
        cur = self.db.cursor()
        cur.execute(f"SELECT v FROM {table} WHERE v >= {self.ph()}", (value,))
        found = [r[0] for r in cur.fetchall()]
        cur.close()
        return found

    def tables(self) -> set[str]:
        return {r[0] for r in self.rows(f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{self.schema}'")}

    def close(self) -> None:
        self.run(f"DROP DATABASE {self.schema}")
        self.db.close()


@pytest.fixture(params=[Sqlite, Postgres, MariaDb], ids=["sqlite", "postgres", "mariadb"])
def database(request, tmp_path, monkeypatch):
    db = request.param(tmp_path, monkeypatch)
    db.run(f"CREATE TABLE {CANARY} (id INTEGER)")
    yield db
    db.close()


def _try_create(db, table: str, column: str) -> bool:
    """A table named `table` with text column `column` holding 'a', 'b', 'c', made with the driver's
    own quoting; False when the database does not allow such a name."""
    try:
        db.run(f"CREATE TABLE {db.quote(table)} ({db.quote(column)} VARCHAR(200))")
    except Exception:
        return False
    # constant values, no parameters: a `%s` in the name must not meet a driver's placeholder parsing
    db.run(f"INSERT INTO {db.quote(table)} ({db.quote(column)}) VALUES ('a'), ('b'), ('c')")
    return True


def _read(db, **fields) -> tuple[str, object]:
    """('config', error) | ('error', HeadwaterError) | ('rows', values of the first column)."""
    try:
        config = db.connector(**fields)
    except ValidationError as exc:
        return "config", exc
    hook = db.hook(config)
    try:
        hook.check()
        chunks = list(hook.read(None))
    except HeadwaterError as exc:
        return "error", exc
    rows = [r for c in chunks for r in c.table.to_pylist()]
    return "rows", sorted(next(iter(r.values())) for r in rows)


@pytest.mark.integration
@pytest.mark.parametrize("name", list(CORPUS.values()), ids=list(CORPUS))
def test_names_are_quoted_or_refused(database, name) -> None:
    exists = _try_create(database, name, name)
    outcomes = {
        "table": _read(database, table=database.ref(name)),
        "table+columns": _read(database, table=database.ref(name), columns=[name]),
        "table+cursor": _read(
            database, table=database.ref(name), columns=[name], cursor={"column": name, "initial_value": "b"}
        ),
        "table+primary_key": _read(database, table=database.ref(name), columns=[name], primary_key=[name]),
    }
    assert CANARY in database.tables(), f"{database.label}: canary table gone after {outcomes}"
    for what, (kind, result) in outcomes.items():
        if kind == "rows":
            assert exists, f"{what}: read a table that was never created: {result}"
            expected = ["b", "c"] if what == "table+cursor" else ["a", "b", "c"]
            assert result == expected, f"{what}: {result}"
        elif exists and kind == "error":
            pytest.fail(f"{database.label} {what}: the table exists under that name but reading it failed: {result}")
        elif kind == "error":  # the table could not be created: a clear message naming it
            assert "not found" in str(result) or "failed" in str(result), f"{what}: {result}"


@pytest.mark.integration
@pytest.mark.parametrize("value", list(CORPUS.values()), ids=list(CORPUS))
def test_cursor_values_are_bound_not_formatted(database, value) -> None:
    table = f"hw_vals_{uuid.uuid4().hex[:6]}"
    database.run(f"CREATE TABLE {table} (v VARCHAR(200))")
    stored = []
    for v in (value, "zzz"):
        try:
            database.run(f"INSERT INTO {table} (v) VALUES ({database.ph()})", (v,))
            stored.append(v)
        except Exception:  # e.g. NUL in PostgreSQL text: the value cannot be stored at all
            pass
    kind, result = _read(database, table=database.ref(table), cursor={"column": "v", "initial_value": value})
    assert CANARY in database.tables(), f"{database.label}: canary table gone: {kind} {result}"
    if kind == "rows":
        # exactly what the database itself says is >= the value, asked through a bound parameter
        expected = database.rows_where_at_least(table, value)
        assert result == sorted(expected), result
        assert value in result or value not in stored, result
    else:
        assert kind == "config" or value not in stored, f"{database.label}: {kind}: {result}"


# -- the lake's Delta predicates -------------------------------------------------------------------


def _part(n: int, column: str = "v"):
    import pyarrow as pa

    return pa.table({"_hw_row": pa.array(range(n), pa.int64()), column: pa.array([f"r{i}" for i in range(n)])})


@pytest.mark.parametrize("value", list(CORPUS.values()), ids=list(CORPUS))
def test_delta_replace_predicate_quotes_source_and_run_id(tmp_path, value) -> None:
    """A retried load replaces exactly its own (source, run) rows, whatever the names hold."""
    from headwater.lake import delta

    root = str(tmp_path / "lake")
    delta.write_table("t", [_part(2)], source="canary", run_id="canary", root=root)
    delta.write_table("t", [_part(3)], source=value, run_id=value, root=root)
    delta.write_table("t", [_part(1)], source=value, run_id=value, root=root)  # the retry
    rows = delta.read_table("t", root).to_pylist()
    counts: dict = {}
    for row in rows:
        key = (row[delta.SOURCE_COL], row[delta.RUN_COL])
        counts[key] = counts.get(key, 0) + 1
    assert counts == {("canary", "canary"): 2, (value, value): 1}


@pytest.mark.parametrize("name", list(CORPUS.values()), ids=list(CORPUS))
def test_delta_merge_key_columns_are_quoted_or_refused(tmp_path, name) -> None:
    from headwater.lake import delta

    root = str(tmp_path / "lake")
    if "`" in name or "\x00" in name:  # DataFusion cannot take these in a quoted name: refused, named
        with pytest.raises(HeadwaterError, match="cannot be used in a lake column name"):
            for run in ("r1", "r2"):  # the first write creates the table; the second merges
                delta.write_table("m", [_part(3, name)], source="s", run_id=run, mode="merge", primary_key=[name], root=root)
        return
    delta.write_table("m", [_part(3, name)], source="s", run_id="r1", mode="merge", primary_key=[name], root=root)
    delta.write_table("m", [_part(4, name)], source="s", run_id="r2", mode="merge", primary_key=[name], root=root)
    assert sorted(r[name] for r in delta.read_table("m", root).to_pylist()) == ["r0", "r1", "r2", "r3"]


@pytest.mark.parametrize("name", list(CORPUS.values()), ids=list(CORPUS))
def test_names_from_yaml_that_reach_the_lake_are_validated(name) -> None:
    """Lake column names are target-schema fields and lake table names a `load.table` pattern:
    the corpus is refused at config time, before any predicate is built."""
    from headwater.config.sections import LoadConfig
    from headwater.lake.delta import table_uri
    from headwater.target_schemas import SchemaField

    with pytest.raises(ValidationError):
        SchemaField(name=name, type="string")
    with pytest.raises(ValidationError):
        LoadConfig(table=name)
    with pytest.raises(ValueError, match="lake table name"):
        table_uri(name, "/tmp/lake")


@pytest.mark.parametrize("name", ["../x", "a/../../x", "/abs", "a//b", "s3://bucket/x", "a\\..\\b", "~/x", ".hidden"])
def test_lake_table_names_cannot_leave_the_lake(name) -> None:
    from headwater.lake.delta import table_uri

    with pytest.raises(ValueError, match="lake table name"):
        table_uri(name, "/tmp/lake")
