"""SQL Server column types to Arrow, and the casts that make every value arrive exact.

The declared type of each result column (`sys.dm_exec_describe_first_result_set`) gives the
Arrow type: decimals keep precision and scale (`money` is decimal(19,4), `smallmoney`
decimal(10,4)), `datetime2`/`datetime` are timestamps without zone, `datetimeoffset` an instant
(read as UTC), `uniqueidentifier` its text, `nvarchar(max)` text, `rowversion` an integer (so it
can be a cursor). Types pymssql cannot hand over exactly are converted in SQL first.
"""

from __future__ import annotations

import re
import uuid

import pyarrow as pa
import sqlalchemy as sa

_INTEGERS = {"tinyint", "smallint", "int", "bigint"}
_TEXT = {"char", "varchar", "nchar", "nvarchar", "text", "ntext", "sysname", "xml", "uniqueidentifier"}
_BINARY = {"binary", "varbinary", "image"}
_TIMESTAMPS = {"datetime", "datetime2", "smalldatetime"}
_ROWVERSION = {"timestamp", "rowversion"}
# Types with no value pymssql converts (CLR types, sql_variant): read as their text.
_AS_TEXT = {"hierarchyid", "geography", "geometry", "sql_variant", "xml"}
_TYPE = re.compile(r"^\s*([a-z0-9_ ]+?)\s*(?:\(\s*([^)]*)\))?\s*$")


def parse_type(system_type_name: str) -> tuple[str, list[str]]:
    """`decimal(19,4)` -> ("decimal", ["19", "4"]); `nvarchar(max)` -> ("nvarchar", ["max"])."""
    match = _TYPE.match(system_type_name.lower())
    if not match:
        return system_type_name.lower(), []
    args = [a.strip() for a in (match.group(2) or "").split(",") if a.strip()]
    return match.group(1), args


def arrow_type(system_type_name: str) -> pa.DataType | None:
    """The Arrow type of a result column of this declared type (None: follow the values)."""
    name, args = parse_type(system_type_name)
    if name == "bit":
        return pa.bool_()
    if name in _INTEGERS or name in _ROWVERSION:
        return pa.int64()
    if name in ("decimal", "numeric"):
        precision = int(args[0]) if args else 18
        scale = int(args[1]) if len(args) > 1 else 0
        return pa.decimal128(precision, scale)
    if name == "money":
        return pa.decimal128(19, 4)
    if name == "smallmoney":
        return pa.decimal128(10, 4)
    if name in ("float", "real"):
        return pa.float64()
    if name == "date":
        return pa.date32()
    if name in _TIMESTAMPS:
        return pa.timestamp("us")
    if name == "datetimeoffset":
        return pa.timestamp("us", tz="UTC")
    if name == "time":
        return pa.time64("us")
    if name in _TEXT or name in _AS_TEXT:
        return pa.string()
    if name in _BINARY:
        return pa.binary()
    return None


def _conversion(name: str, column: sa.ColumnElement) -> sa.ColumnElement | None:
    """A T-SQL expression giving `column` a value pymssql converts exactly, or None."""
    if name in _ROWVERSION:  # 8 bytes, big-endian: as bigint it orders and compares as a number
        return sa.cast(column, sa.BigInteger)
    if name == "datetimeoffset":  # the instant in UTC, whatever offset it was written with
        return sa.func.convert(sa.literal_column("datetime2(7)"), sa.func.switchoffset(column, "+00:00"))
    if name in _AS_TEXT:
        return sa.func.convert(sa.literal_column("nvarchar(max)"), column)
    return None


def exact_statement(stmt: sa.Select, declared: dict[str, str], cursor: str | None) -> sa.Select:
    """`stmt` wrapped with the conversions its columns need, ordered by the cursor outside.

    SQL Server refuses ORDER BY in a derived table, so the inner select loses its ORDER BY and
    the outer one orders by the source's cursor column (the column, not its converted output).
    """
    from .sql_query import ident

    conversions = {col: _conversion(parse_type(t)[0], sa.column(ident(col))) for col, t in declared.items()}
    if not any(c is not None for c in conversions.values()):
        return stmt
    rows = stmt.order_by(None).subquery("hw_rows")
    items = [
        (conv.label(ident(col)) if conv is not None else sa.column(ident(col)))
        for col, conv in conversions.items()
    ]
    wrapped = sa.select(*items).select_from(rows)
    if cursor:
        wrapped = wrapped.order_by(sa.literal_column(f"hw_rows.[{cursor.replace(']', ']]')}]"))
    return wrapped


def plain_value(value: object) -> object:
    """A pymssql value as Arrow takes it: a uniqueidentifier as its text, others unchanged."""
    if isinstance(value, uuid.UUID):
        return str(value).upper()  # as SQL Server writes it
    return value


def plain_row(row: tuple) -> tuple:
    return tuple(plain_value(v) for v in row)
