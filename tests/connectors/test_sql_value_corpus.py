"""Type corpus: every common type of each SQL database, with its edge values, read into Arrow.

Each value either arrives exactly (same value, the documented Arrow type) or its row is left out
and quarantined with a code, the value as the database writes it, the whole row as `record` and
the primary key as `location` — never a different value. One table per type; the tables run
against the real databases (PostgreSQL and MariaDB integration, SQLite a file).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest

from headwater.connectors.registry import make_hook
from tests.services import unique

from .sql_backends import BACKENDS


@dataclass(frozen=True)
class Q:
    """Expected: the row is quarantined with this code; `value` is the value as reported."""

    code: str
    value: str
    record: object = None  # the value in the quarantine record, when not `value` (raw JSON type)


@dataclass(frozen=True)
class Raw:
    """Expected: an exact Arrow value Python's datetime cannot hold (stored integer of the type)."""

    value: int


NAN, INF, NEG0 = float("nan"), float("inf"), -0.0
BIG = 1 << 20  # 1 MiB of bytes in one value
PG_MIN_DAY = -2_440_588  # 4714-11-24 BC, PostgreSQL's first day, in days since 1970
PG_MIN_US = PG_MIN_DAY * 86_400_000_000

POSTGRES = [
    ("smallint", "int16", [("-32768", -32768), ("32767", 32767), ("0", 0)]),
    ("integer", "int32", [("-2147483648", -(2**31)), ("2147483647", 2**31 - 1)]),
    ("bigint", "int64", [("-9223372036854775808", -(2**63)), ("9223372036854775807", 2**63 - 1)]),
    (
        "real",
        "float",
        [("'NaN'", NAN), ("'Infinity'", INF), ("'-Infinity'", -INF), ("'-0'", NEG0), ("0.5", 0.5)],
    ),
    (
        "double precision",
        "double",
        [
            ("'NaN'", NAN),
            ("'Infinity'", INF),
            ("'-Infinity'", -INF),
            ("'-0'", NEG0),
            ("1.7976931348623157e308", 1.7976931348623157e308),
            ("5e-324", 5e-324),
            ("0.1", 0.1),
        ],
    ),
    (
        "numeric(10,2)",
        "decimal128(10, 2)",
        [
            ("12.34", Decimal("12.34")),
            ("-99999999.99", Decimal("-99999999.99")),
            ("'NaN'", Q("UNSUPPORTED_VALUE", "NaN")),
        ],
    ),
    (
        "numeric(38,0)",
        "decimal128(38, 0)",
        [("-" + "9" * 38, Decimal("-" + "9" * 38)), ("9" * 38, Decimal("9" * 38))],
    ),
    (
        "numeric(50,10)",
        "decimal256(50, 10)",
        [
            (
                "1234567890123456789012345678901234567890.0123456789",
                Decimal("1234567890123456789012345678901234567890.0123456789"),
            )
        ],
    ),
    (
        "numeric",
        "string",
        [
            ("123.456", "123.456"),
            ("'NaN'", "NaN"),
            ("'Infinity'", "Infinity"),
            ("'-Infinity'", "-Infinity"),
            ("1" + "0" * 60, "1" + "0" * 60),
            ("0.000000000000000000000000000000000000000001", "0.000000000000000000000000000000000000000001"),
        ],
    ),
    (
        "money",
        "decimal128(38, 2)",
        [
            ("12.34", Decimal("12.34")),
            ("-92233720368547758.08", Decimal("-92233720368547758.08")),
            ("92233720368547758.07", Decimal("92233720368547758.07")),
        ],
    ),
    ("boolean", "bool", [("true", True), ("false", False)]),
    ("text", "string", [("''", ""), ("'héllo ✓ 😀'", "héllo ✓ 😀"), ("E'a\\x01b\\nc'", "a\x01b\nc")]),
    ("varchar(5)", "string", [("'abcde'", "abcde")]),
    ("char(3)", "string", [("'a'", "a  ")]),
    (
        "bytea",
        "binary",
        [("'\\x00ff'", b"\x00\xff"), ("''", b""), (f"decode(repeat('ab', {BIG}), 'hex')", b"\xab" * BIG)],
    ),
    (
        "date",
        "date32[day]",
        [
            ("'2024-02-29'", date(2024, 2, 29)),
            ("'0001-01-01'", date(1, 1, 1)),
            ("'9999-12-31'", date(9999, 12, 31)),
            ("'4714-11-24 BC'", Raw(PG_MIN_DAY)),
            ("'5874897-12-31'", Raw(2_145_042_905)),
            ("'infinity'", Q("VALUE_OUT_OF_RANGE", "infinity")),
            ("'-infinity'", Q("VALUE_OUT_OF_RANGE", "-infinity")),
        ],
    ),
    (
        "timestamp",
        "timestamp[us]",
        [
            ("'2024-02-29 23:59:59.999999'", datetime(2024, 2, 29, 23, 59, 59, 999999)),
            ("'1970-01-01 00:00:00'", datetime(1970, 1, 1)),
            ("'0001-01-01 00:00:00'", datetime(1, 1, 1)),
            ("'20000-01-01 00:00:00'", Raw(568_971_820_800_000_000)),
            ("'4714-11-24 00:00:00 BC'", Raw(PG_MIN_US)),
            ("'294247-01-10 04:00:54.775807'", Raw(2**63 - 1)),
            ("'294247-01-10 04:00:54.775808'", Q("VALUE_OUT_OF_RANGE", "294247-01-10T04:00:54.775808")),
            ("'294276-12-31 23:59:59.999999'", Q("VALUE_OUT_OF_RANGE", "294276-12-31T23:59:59.999999")),
            ("'infinity'", Q("VALUE_OUT_OF_RANGE", "infinity")),
            ("'-infinity'", Q("VALUE_OUT_OF_RANGE", "-infinity")),
        ],
    ),
    (
        "timestamptz",
        "timestamp[us, tz=UTC]",
        [
            ("'2024-03-31 01:30:00+01'", datetime(2024, 3, 31, 0, 30, tzinfo=UTC)),
            ("'2024-01-01 00:00:00-12:00'", datetime(2024, 1, 1, 12, tzinfo=UTC)),
            ("'infinity'", Q("VALUE_OUT_OF_RANGE", "infinity")),
        ],
    ),
    (
        "time",
        "time64[us]",
        [
            ("'00:00'", time(0)),
            ("'23:59:59.999999'", time(23, 59, 59, 999999)),
            ("'24:00'", Q("VALUE_OUT_OF_RANGE", "24:00:00")),
        ],
    ),
    (
        "timetz",
        "string",
        [("'10:00:00+02'", "10:00:00+02"), ("'23:59:59.999999-14:59'", "23:59:59.999999-14:59")],
    ),
    (
        "interval",
        "string",
        [
            ("'1 year 2 months 3 days 04:05:06.5'", "P1Y2M3DT4H5M6.5S"),
            ("'-1 day'", "P-1D"),
            ("'0'", "PT0S"),
            ("'1 month'", "P1M"),
            ("'178000000 years'", "P178000000Y"),
        ],
    ),
    ("uuid", "string", [("'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")]),
    ("inet", "string", [("'10.0.0.1/8'", "10.0.0.1/8"), ("'::1'", "::1"), ("'192.168.0.1'", "192.168.0.1")]),
    ("cidr", "string", [("'10.0.0.0/8'", "10.0.0.0/8")]),
    ("macaddr", "string", [("'08:00:2b:01:02:03'", "08:00:2b:01:02:03")]),
    ("macaddr8", "string", [("'08:00:2b:01:02:03:04:05'", "08:00:2b:01:02:03:04:05")]),
    ("json", "string", [('\'{"b": 1,  "a": [1, 2]}\'', '{"b": 1,  "a": [1, 2]}')]),
    ("jsonb", "string", [('\'{"b": 1, "a": 2}\'', '{"a": 2, "b": 1}')]),
    (
        "integer[]",
        "list<item: int32>",
        [
            ("'{1,2,NULL}'", [1, 2, None]),
            ("'{}'", []),
            ("'{{1,2},{3,4}}'", Q("UNSUPPORTED_VALUE", "{{1,2},{3,4}}")),
            ("'[0:1]={1,2}'", Q("UNSUPPORTED_VALUE", "[0:1]={1,2}")),
        ],
    ),
    ("text[]", "list<item: string>", [("'{a,\"b,c\",NULL}'", ["a", "b,c", None])]),
    (
        "timestamp[]",
        "list<item: timestamp[us]>",
        [
            ("'{\"2024-01-01 00:00:00\"}'", [datetime(2024, 1, 1)]),
            ("'{infinity}'", Q("VALUE_OUT_OF_RANGE", "infinity")),
        ],
    ),
    ("inet[]", "list<item: string>", [("'{10.0.0.1,::1}'", ["10.0.0.1", "::1"])]),
    ("numeric[]", "list<item: string>", [("'{1.5,NaN}'", ["1.5", "NaN"])]),
    ("interval[]", "list<item: string>", [("'{\"1 day\"}'", ["P1D"])]),
    ("money[]", "list<item: string>", [("'{12.34,-1}'", ["12.34", "-1.00"])]),
    ("hw_mood", "string", [("'ok'", "ok")]),
    ("hw_mood[]", "list<item: string>", [("'{ok,sad}'", ["ok", "sad"])]),
    ("point", "string", [("'(1,2)'", "(1,2)")]),
    ("box", "string", [("'(1,1),(0,0)'", "(1,1),(0,0)")]),
    ("circle", "string", [("'<(1,2),3>'", "<(1,2),3>")]),
    ("polygon", "string", [("'((0,0),(1,1),(1,0))'", "((0,0),(1,1),(1,0))")]),
    ("bit(3)", "string", [("B'101'", "101")]),
    ("varbit", "string", [("B'1'", "1")]),
    ("xml", "string", [("'<a>x</a>'", "<a>x</a>")]),
    ("tsvector", "string", [("'a b'", "'a' 'b'")]),
    ("int4range", "string", [("'[1,5)'", "[1,5)"), ("'empty'", "empty")]),
    ("oid", "int64", [("4294967295", 4_294_967_295), ("0", 0)]),
]

MYSQL = [
    ("TINYINT", "int64", [("-128", -128), ("127", 127)]),
    ("TINYINT UNSIGNED", "uint64", [("0", 0), ("255", 255)]),
    ("SMALLINT", "int64", [("-32768", -32768), ("32767", 32767)]),
    ("MEDIUMINT", "int64", [("-8388608", -8388608), ("8388607", 8388607)]),
    ("INT", "int64", [("-2147483648", -(2**31)), ("2147483647", 2**31 - 1)]),
    ("BIGINT", "int64", [("-9223372036854775808", -(2**63)), ("9223372036854775807", 2**63 - 1)]),
    ("BIGINT UNSIGNED", "uint64", [("18446744073709551615", 2**64 - 1)]),
    ("FLOAT", "double", [("0.5", 0.5), ("-1.25", -1.25)]),
    (
        "DOUBLE",
        "double",
        [
            ("1.7976931348623157e308", 1.7976931348623157e308),
            ("2.2250738585072014e-308", 2.2250738585072014e-308),
            ("-1e-320", -1e-320),
            ("0.1", 0.1),
        ],
    ),
    (
        "DECIMAL(10,2)",
        "decimal128(38, 2)",
        [("12.34", Decimal("12.34")), ("-99999999.99", Decimal("-99999999.99"))],
    ),
    (
        "DECIMAL(65,30)",
        "decimal256(76, 30)",
        [("-" + "9" * 35 + "." + "9" * 30, Decimal("-" + "9" * 35 + "." + "9" * 30))],
    ),
    (
        "DATE",
        "date32[day]",
        [
            ("'2024-02-29'", date(2024, 2, 29)),
            ("'1000-01-01'", date(1000, 1, 1)),
            ("'9999-12-31'", date(9999, 12, 31)),
            ("'0000-00-00'", Q("VALUE_OUT_OF_RANGE", "0000-00-00")),
            ("'2024-00-10'", Q("VALUE_OUT_OF_RANGE", "2024-00-10")),
            ("'2024-02-00'", Q("VALUE_OUT_OF_RANGE", "2024-02-00")),
        ],
    ),
    (
        "DATETIME(6)",
        "timestamp[us]",
        [
            ("'2024-02-29 23:59:59.999999'", datetime(2024, 2, 29, 23, 59, 59, 999999)),
            ("'1000-01-01 00:00:00'", datetime(1000, 1, 1)),
            ("'9999-12-31 23:59:59.999999'", datetime(9999, 12, 31, 23, 59, 59, 999999)),
            ("'0000-00-00 00:00:00'", Q("VALUE_OUT_OF_RANGE", "0000-00-00 00:00:00.000000")),
            ("'2024-00-01 10:00:00'", Q("VALUE_OUT_OF_RANGE", "2024-00-01 10:00:00.000000")),
        ],
    ),
    (
        "TIMESTAMP(6) NULL",
        "timestamp[us, tz=UTC]",
        [
            ("'1970-01-01 00:00:01'", datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)),
            ("'2038-01-19 03:14:07.999999'", datetime(2038, 1, 19, 3, 14, 7, 999999, tzinfo=UTC)),
            ("'0000-00-00 00:00:00'", Q("VALUE_OUT_OF_RANGE", "0000-00-00 00:00:00.000000")),
        ],
    ),
    (
        "TIME(6)",
        "duration[us]",
        [
            ("'-838:59:59'", -timedelta(hours=838, minutes=59, seconds=59)),
            ("'838:59:59.000000'", timedelta(hours=838, minutes=59, seconds=59)),
            ("'24:00:00'", timedelta(days=1)),
            ("'-00:00:00.000001'", timedelta(microseconds=-1)),
        ],
    ),
    ("YEAR", "uint64", [("2024", 2024), ("1901", 1901), ("0", 0)]),
    ("BIT(1)", "uint64", [("b'1'", 1), ("b'0'", 0)]),
    ("BIT(64)", "uint64", [("b'" + "1" * 64 + "'", 2**64 - 1)]),
    ("CHAR(3)", "string", [("'a'", "a")]),
    ("VARCHAR(20)", "string", [("'héllo ✓ 😀'", "héllo ✓ 😀"), ("''", "")]),
    ("TEXT", "string", [("'a\\nb'", "a\nb")]),
    ("BINARY(4)", "binary", [("x'00ff'", b"\x00\xff\x00\x00")]),
    ("VARBINARY(10)", "binary", [("x''", b""), ("x'ff'", b"\xff")]),
    ("LONGBLOB", "binary", [(f"REPEAT(x'ab', {BIG})", b"\xab" * BIG)]),
    ("ENUM('x','y')", "string", [("'y'", "y")]),
    ("SET('a','b','c')", "string", [("'a,c'", "a,c"), ("''", ""), ("'c,a,b'", "a,b,c")]),
    ("JSON", "string", [("'{\"a\": [1, 2]}'", '{"a": [1, 2]}')]),
    ("UUID", "string", [("'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")]),
    ("INET6", "string", [("'::1'", "::1"), ("'::ffff:10.0.0.1'", "::ffff:10.0.0.1")]),
]

SQLITE = [
    (
        "INTEGER",
        "int64",
        [
            ("9223372036854775807", 2**63 - 1),
            ("-9223372036854775808", -(2**63)),
            ("'12'", 12),  # INTEGER affinity stores the text '12' as 12
            ("'abc'", Q("TYPE_MISMATCH", "abc")),
            ("1.5", Q("TYPE_MISMATCH", "1.5", 1.5)),
            ("X'00'", Q("TYPE_MISMATCH", "b'\\x00'", "00")),  # bytes in a record: hex
            # past int64 SQLite stores a REAL: not an integer any more, so quarantined, never rounded
            ("18446744073709551615", Q("TYPE_MISMATCH", "1.8446744073709552e+19", 1.8446744073709552e19)),
        ],
    ),
    (
        "REAL",
        "double",
        [
            ("1.5", 1.5),
            ("-0.0", 0.0),  # SQLite itself stores -0.0 as 0.0 (not the reader)
            ("1e308", 1e308),
            ("9e999", INF),
            ("'abc'", Q("TYPE_MISMATCH", "abc")),
        ],
    ),
    ("TEXT", "string", [("'héllo'", "héllo"), ("12", "12"), ("X'ff'", Q("TYPE_MISMATCH", "b'\\xff'", "ff"))]),
    ("BLOB", "binary", [("X'00ff'", b"\x00\xff"), ("X''", b""), (f"zeroblob({BIG})", b"\x00" * BIG)]),
    # no declared type to follow: mixed values in the first chunk make the column text
    ("NUMERIC", "string", [("1", "1"), ("'x'", "x")]),
]

CORPUS = {"postgres": POSTGRES, "mysql": MYSQL, "sqlite": SQLITE}


def _same(actual, expected) -> bool:
    if isinstance(expected, float):
        if math.isnan(expected):
            return isinstance(actual, float) and math.isnan(actual)
        return actual == expected and math.copysign(1, actual) == math.copysign(1, expected)
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(map(_same, actual, expected))
    return type(actual) is type(expected) and actual == expected


def _setup(db) -> None:
    if db.name == "postgres":
        db.execute(
            "DO $$ BEGIN CREATE TYPE hw_mood AS ENUM ('sad', 'ok'); EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        )
    if db.name == "mysql":
        db.execute("SET SESSION sql_mode = ''")  # let the zero dates in
        db.execute("SET SESSION time_zone = '+00:00'")


def _cases():
    for backend, types in CORPUS.items():
        for sql_type, arrow_type, values in types:
            marks = [pytest.mark.integration] if backend != "sqlite" else []
            yield pytest.param(backend, sql_type, arrow_type, values, id=f"{backend}-{sql_type}", marks=marks)


@pytest.mark.parametrize(("backend", "sql_type", "arrow_type", "values"), list(_cases()))
def test_value_is_exact_or_quarantined(backend, sql_type, arrow_type, values, include_dir, set_conn):
    db = BACKENDS[backend](include_dir, set_conn)
    try:
        _setup(db)
        table = unique("hw_v")
        charset = " CHARACTER SET utf8mb4" if backend == "mysql" else ""
        db.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, v {sql_type}){charset}")
        db.tables.append(table)
        rows = ", ".join(f"({i}, {literal})" for i, (literal, _) in enumerate(values, start=1))
        db.execute(f"INSERT INTO {table} (id, v) VALUES {rows}")

        chunks = list(make_hook(db.config(table=table, primary_key="id", chunk_size=3)).read(None))
        data = pa.concat_tables([c.table for c in chunks])
        errors = {json.loads(e.record)["id"]: e for c in chunks for e in c.errors}
        assert str(data.schema.field("v").type) == arrow_type
        ids = data.column("id").to_pylist()
        for i, (literal, expected) in enumerate(values, start=1):
            if isinstance(expected, Q):
                error = errors.pop(i, None)
                assert error is not None and i not in ids, f"{literal}: not quarantined"
                assert (error.code, error.column, error.value) == (expected.code, "v", expected.value), (
                    literal
                )
                assert error.location == f"table '{table}', id={i}" and error.stage == "select" and error.row is None
                record = expected.value if expected.record is None else expected.record
                assert json.loads(error.record) == {"id": i, "v": record}
                continue
            assert i in ids, f"{literal}: row missing ({errors.get(i)})"
            column = data.column("v").combine_chunks()
            if isinstance(expected, Raw):
                raw = column.view(pa.int32() if column.type.bit_width == 32 else pa.int64())
                assert raw[ids.index(i)].as_py() == expected.value, literal
            else:
                actual = column[ids.index(i)].as_py()
                assert _same(actual, expected), f"{literal}: read {actual!r}, expected {expected!r}"
        assert errors == {}, f"unexpected errors: {list(errors.values())}"
    finally:
        db.close()
