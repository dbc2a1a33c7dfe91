"""SQL Server source (`type: mssql`) without a SQL Server.

No SQL Server can run on these machines, so the hook is tested in three real parts:
- the SQL it sends, compiled by SQLAlchemy's mssql dialect exactly as the hook compiles it;
- the type mapping, on the Python values pymssql returns for each SQL Server type;
- a TDS round trip (login, catalog, check, incremental read) through pymssql against
  `pysqlbridge`, a read-only TDS server over CSV tables, started here on a free loopback port.
  It is a partial stand-in: it has no `sys.dm_exec_describe_first_result_set`, so types there
  follow the values, and its CSV columns hold no datetimeoffset or money.
A real-server test runs when `MSSQL_URL` (mssql://user:password@host:port/database) is set;
it is the one test allowed to skip (see README).
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from decimal import Decimal

import pyarrow as pa
import pytest

from headwater.connectors.arrow_util import TypedColumns
from headwater.connectors.models import MsSqlConnector
from headwater.errors import ConnectionCheckError, SelectionError
from tests.pysqlbridge_server import connection, running_bridge


def _hook(**fields):
    from headwater.connectors.mssql import MsSqlSourceHook

    return MsSqlSourceHook(config=MsSqlConnector(type="mssql", conn_id=fields.pop("conn_id", "hw_ms"), **fields))


# -- SQL, compiled with the mssql dialect ------------------------------------------------------------


@pytest.mark.parametrize(
    ("watermark", "where"),
    [
        (dt.datetime(2026, 1, 2, 3, 4, 5, 123456), "CONVERT(datetime2(7), '2026-01-02T03:04:05.123456', 126)"),
        (
            dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "CONVERT(datetimeoffset(7), '2026-01-02T03:04:05+02:00', 127)",
        ),
        (dt.date(2026, 1, 2), "CONVERT(date, '2026-01-02', 23)"),
        (123456789, "123456789"),  # a rowversion watermark (read as bigint)
        (Decimal("12.3400"), "12.3400"),
        ("O'Brien ☃", "N'O''Brien ☃'"),
    ],
    ids=["datetime2", "datetimeoffset", "date", "rowversion", "money", "nvarchar"],
)
def test_incremental_select_on_a_schema_qualified_table(watermark, where) -> None:
    hook = _hook(table="sales.Order Lines", columns=["id", "changed"], cursor={"column": "changed"}, primary_key="id")
    sql, params = hook.compile(hook.select_statement(watermark))
    assert sql == (
        f"SELECT [id], [changed] \nFROM [sales].[Order Lines] \nWHERE [changed] >= {where} ORDER BY [changed]"
    )
    assert params == {}  # pymssql substitutes on the client anyway: the text is what it would send


def test_query_source_keeps_its_text_and_takes_no_lock_hint() -> None:
    hook = _hook(query="SELECT id, note FROM dbo.t WHERE note LIKE '50%' -- a comment", cursor={"column": "id"})
    sql, _ = hook.compile(hook.select_statement(5))
    assert sql == (
        "SELECT * \nFROM (\nSELECT id, note FROM dbo.t WHERE note LIKE '50%' -- a comment\n) AS hw_src \n"
        "WHERE [id] >= 5 ORDER BY [id]"
    )
    assert "NOLOCK" not in sql.upper() and "TABLOCK" not in sql.upper() and "HOLDLOCK" not in sql.upper()


def test_conversions_wrap_the_select_and_order_outside() -> None:
    from headwater.connectors import mssql_values

    hook = _hook(table="dbo.items", cursor={"column": "rv"})
    stmt = mssql_values.exact_statement(
        hook.select_statement(7),
        {"id": "uniqueidentifier", "rv": "timestamp", "at": "datetimeoffset(7)", "path": "hierarchyid", "price": "money"},
        "rv",
    )
    assert hook.compile(stmt)[0] == (
        "SELECT [id], CAST([rv] AS BIGINT) AS [rv], convert(datetime2(7), switchoffset([at], N'+00:00')) AS [at], "
        "convert(nvarchar(max), [path]) AS [path], [price] \nFROM (SELECT * \nFROM [dbo].[items] \nWHERE [rv] >= 7) "
        "AS hw_rows ORDER BY hw_rows.[rv]"
    )


def test_catalog_lookups() -> None:
    hook = _hook(table="x")
    assert hook.compile(hook.catalog_tables("sales"))[0].endswith("WHERE [INFORMATION_SCHEMA].[TABLES].[TABLE_SCHEMA] = N'sales'")
    assert hook.compile(hook.catalog_tables(None))[0].endswith("= schema_name()")


# -- types, on the values pymssql returns ------------------------------------------------------------


@pytest.mark.parametrize(
    ("declared", "value", "arrow", "expected"),
    [
        ("money", Decimal("922337203685477.5807"), pa.decimal128(19, 4), Decimal("922337203685477.5807")),
        ("smallmoney", Decimal("-214748.3648"), pa.decimal128(10, 4), Decimal("-214748.3648")),
        ("decimal(38,10)", Decimal("1234567890123456789012345678.0123456789"), pa.decimal128(38, 10), None),
        ("uniqueidentifier", uuid.UUID("6f9619ff-8b86-d011-b42d-00c04fc964ff"), pa.string(), "6F9619FF-8B86-D011-B42D-00C04FC964FF"),
        ("nvarchar(max)", "ü" * 70_000, pa.string(), None),
        ("datetime2(7)", dt.datetime(2026, 1, 2, 3, 4, 5, 999999), pa.timestamp("us"), None),
        ("datetimeoffset(7)", dt.datetime(2026, 1, 2, 1, 4, 5), pa.timestamp("us", tz="UTC"), dt.datetime(2026, 1, 2, 1, 4, 5, tzinfo=dt.UTC)),
        ("timestamp", 2**62 + 5, pa.int64(), None),  # rowversion, cast to bigint in SQL
        ("bit", True, pa.bool_(), None),
        ("varbinary(max)", b"\x00\xff", pa.binary(), None),
        ("date", dt.date(1, 1, 1), pa.date32(), None),
        ("time(7)", dt.time(23, 59, 59, 999999), pa.time64("us"), None),
    ],
)
def test_declared_types_map_exactly(declared, value, arrow, expected) -> None:
    from headwater.connectors import mssql_values

    assert mssql_values.arrow_type(declared) == arrow
    typed = TypedColumns({"c": mssql_values.arrow_type(declared)})
    table, mismatches = typed.table(["c"], [[mssql_values.plain_value(value)]])
    assert mismatches == []
    assert table.schema.field("c").type == arrow
    assert table.column("c")[0].as_py() == (value if expected is None else expected)


# -- TDS round trip against pysqlbridge ------------------------------------------------------------------


@pytest.fixture
def bridge(tmp_path, set_conn):
    (tmp_path / "orders.csv").write_text(
        "id,customer,amount,ref\n"
        "1,Ann,12.5,6F9619FF-8B86-D011-B42D-00C04FC964FF\n"
        "2,Bob,7.25,7F9619FF-8B86-D011-B42D-00C04FC964FF\n"
        "3,Cy,3,8F9619FF-8B86-D011-B42D-00C04FC964FF\n"
    )
    with running_bridge(tmp_path, {"orders": "orders.csv"}) as port:
        set_conn("hw_ms", **connection(port))
        set_conn("hw_ms_bad", **connection(port, password="wrong"))
        yield port


def test_round_trip_check_and_incremental_read(bridge) -> None:
    hook = _hook(table="dbo.orders", cursor={"column": "id"}, primary_key="id")
    assert hook.check() == (
        "SQL Server database 'pysqlbridge' (connection 'hw_ms'): table 'dbo.orders', 4 columns selected; incremental on id"
    )
    rows = [r for c in hook.read(None) for r in c.table.to_pylist()]
    assert [(r["id"], r["customer"], r["ref"]) for r in rows] == [
        (1, "Ann", "6F9619FF-8B86-D011-B42D-00C04FC964FF"),
        (2, "Bob", "7F9619FF-8B86-D011-B42D-00C04FC964FF"),
        (3, "Cy", "8F9619FF-8B86-D011-B42D-00C04FC964FF"),
    ]
    state = hook.next_state()
    assert state == {"cursor": {"column": "id", "type": "int", "value": 3}, "keys_at_cursor": [[3]]}
    again = _hook(table="dbo.orders", cursor={"column": "id"}, primary_key="id")
    assert sum(c.table.num_rows for c in again.read(state)) == 0  # the row at the watermark is not read twice
    assert again.next_state() == state


def test_missing_table_and_column_name_the_closest(bridge) -> None:
    with pytest.raises(ConnectionCheckError, match=r"table 'dbo.order' not found in database 'pysqlbridge' \(connection 'hw_ms'\); tables with a similar name: orders"):
        _hook(table="dbo.order").check()
    with pytest.raises(ConnectionCheckError, match=r"table 'dbx.orders' not found .*; schema 'dbx' does not exist; schemas with a similar name: dbo"):
        _hook(table="dbx.orders").check()
    with pytest.raises(SelectionError, match=r"column 'custmer' not found in table 'dbo.orders' \(connection 'hw_ms'\); did you mean customer\?"):
        _hook(table="dbo.orders", columns=["id", "custmer"]).check()


def test_bad_credentials(bridge) -> None:
    with pytest.raises(ConnectionCheckError) as caught:
        _hook(table="dbo.orders", conn_id="hw_ms_bad").check()
    assert str(caught.value) == (
        f"cannot connect to SQL Server at 127.0.0.1:{bridge} (connection 'hw_ms_bad'): authentication failed for "
        "user 'reader' — check the connection's login and password"
    )
    assert not caught.value.transient


# -- a real SQL Server, when one is given ---------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.skipif(not os.environ.get("MSSQL_URL"), reason="MSSQL_URL not set: no SQL Server to test against (see README)")
def test_real_server_types_and_incremental_read(set_conn) -> None:
    from urllib.parse import urlsplit

    import pymssql

    url = urlsplit(os.environ["MSSQL_URL"])
    database = url.path.lstrip("/") or "master"
    set_conn("hw_ms_real", conn_type="mssql", host=url.hostname, port=url.port or 1433, login=url.username, password=url.password, schema=database)
    table = f"hw_ms_{uuid.uuid4().hex[:8]}"
    admin = pymssql.connect(server=url.hostname, port=str(url.port or 1433), user=url.username, password=url.password, database=database, autocommit=True)
    cur = admin.cursor()
    cur.execute(
        f"CREATE TABLE dbo.{table} (id int PRIMARY KEY, ref uniqueidentifier, price money, note nvarchar(max), "
        "at datetime2(7), at_tz datetimeoffset(7), rv rowversion)"
    )
    try:
        cur.execute(
            f"INSERT INTO dbo.{table} (id, ref, price, note, at, at_tz) VALUES "
            "(1, '6F9619FF-8B86-D011-B42D-00C04FC964FF', 12.3456, N'ü', '2026-01-01T10:00:00.1234567', '2026-01-01T10:00:00+02:00'),"
            "(2, NEWID(), 0.0001, NULL, '2026-01-02T10:00:00', '2026-01-02T10:00:00-05:00')"
        )
        hook = _hook(conn_id="hw_ms_real", table=f"dbo.{table}", cursor={"column": "rv"}, primary_key="id")
        hook.check()
        table_read = pa.concat_tables([c.table for c in hook.read(None)])
        assert table_read.schema.field("price").type == pa.decimal128(19, 4)
        assert table_read.schema.field("at_tz").type == pa.timestamp("us", tz="UTC")
        assert table_read.column("at_tz")[0].as_py() == dt.datetime(2026, 1, 1, 8, 0, tzinfo=dt.UTC)
        assert table_read.column("ref")[0].as_py() == "6F9619FF-8B86-D011-B42D-00C04FC964FF"
        cur.execute(f"UPDATE dbo.{table} SET note = N'changed' WHERE id = 1")
        second = _hook(conn_id="hw_ms_real", table=f"dbo.{table}", cursor={"column": "rv"}, primary_key="id")
        rows = [r for c in second.read(hook.next_state()) for r in c.table.to_pylist()]
        assert [(r["id"], r["note"]) for r in rows] == [(1, "changed")]
    finally:
        cur.execute(f"DROP TABLE dbo.{table}")
        admin.close()
