"""Automatic conversion to target field types, from text (files) and from typed columns (databases)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from headwater.mapping.casting import coerce_constant, convert
from headwater.mapping.context import EvalContext

NOW = datetime(2024, 5, 1, tzinfo=UTC)


def cast(values: pa.Array, field_type: str, fmt: str | None = None) -> tuple[list, list[int], str | None]:
    ctx = EvalContext({}, len(values), NOW)
    out = convert(ctx, values, field_type, fmt)
    assert len(out) == len(values)
    failed = pc.indices_nonzero(ctx.failed).to_pylist() if ctx.failed is not None else []
    message = ctx.failures[0].message if ctx.failures else None
    return out.to_pylist(), failed, message


@pytest.mark.parametrize(
    ("values", "field_type", "fmt", "expected", "failed"),
    [
        pytest.param(
            pa.array(["a", " b ", "", None]),
            "string",
            None,
            ["a", " b ", "", None],
            [],
            id="text_to_string_untouched",
        ),
        pytest.param(
            pa.array(["a", None], pa.large_string()), "string", None, ["a", None], [], id="large_string"
        ),
        pytest.param(
            pa.array(["x", "y", "x"]).dictionary_encode(),
            "string",
            None,
            ["x", "y", "x"],
            [],
            id="dictionary",
        ),
        pytest.param(pa.array([1, None], pa.int32()), "string", None, ["1", None], [], id="int_to_string"),
        pytest.param(pa.array([1, None], pa.int16()), "integer", None, [1, None], [], id="int16"),
        pytest.param(pa.array([True, False]), "integer", None, [1, 0], [], id="bool_to_integer"),
        pytest.param(
            pa.array([Decimal("42.00"), Decimal("4.50"), None]),
            "integer",
            None,
            [42, None, None],
            [1],
            id="decimal_to_integer",
        ),
        pytest.param(pa.array([date(2024, 1, 1)]), "integer", None, [None], [0], id="date_to_integer_fails"),
        pytest.param(
            pa.array([Decimal("1.25"), None]), "float", None, [1.25, None], [], id="decimal_to_float"
        ),
        pytest.param(pa.array([1.5], pa.float32()), "float", None, [1.5], [], id="float32"),
        pytest.param(
            pa.array(["1e308", "1.5e308", None]),
            "float",
            None,
            [1e308, 1.5e308, None],
            [],
            id="float_text_whose_sum_overflows",
        ),
        pytest.param(
            pa.array(["1.5", "nan", "-inf", "1e999", None]),
            "float",
            None,
            [1.5, None, None, None, None],
            [1, 2, 3],
            id="float_text_not_finite",
        ),
        pytest.param(pa.array([True, False, None]), "float", None, [1.0, 0.0, None], [], id="bool_to_float"),
        pytest.param(
            pa.array([1.0, 0.0, 0.5]), "boolean", None, [True, False, None], [2], id="float_to_boolean"
        ),
        pytest.param(
            pa.array([20240301, None]),
            "date",
            "%Y%m%d",
            [date(2024, 3, 1), None],
            [],
            id="int_to_date_with_format",
        ),
        pytest.param(
            pa.array([datetime(2024, 3, 1, 10)], pa.timestamp("s")),
            "date",
            None,
            [date(2024, 3, 1)],
            [],
            id="timestamp_to_date",
        ),
        pytest.param(
            pa.array([date(2024, 3, 1)], pa.date64()), "date", None, [date(2024, 3, 1)], [], id="date64"
        ),
        pytest.param(
            pa.array([date(2024, 3, 1)]),
            "date",
            "%m/%d/%Y",
            [date(2024, 3, 1)],
            [],
            id="typed_date_ignores_format",
        ),
        pytest.param(
            pa.array(["03/01/2024", "3/1/2024", "13/01/2024", "02/30/2024", "03/01/2024 junk", "  "]),
            "date",
            "%m/%d/%Y",
            [date(2024, 3, 1), date(2024, 3, 1), None, None, None, None],
            [2, 3, 4],
            id="us_dates",
        ),
        pytest.param(
            pa.array([1709287200_000_000_001], pa.timestamp("ns", "Europe/Paris")),
            "timestamp",
            None,
            [datetime(2024, 3, 1, 10, tzinfo=UTC)],
            [],
            id="zoned_ns_to_utc_us",
        ),
        pytest.param(pa.array(["1709287200"]), "timestamp", None, [None], [0], id="epoch_text_is_not_iso"),
        pytest.param(
            pa.array([" 2024-03-01T10:00:00Z "]),
            "timestamp",
            None,
            [datetime(2024, 3, 1, 10, tzinfo=UTC)],
            [],
            id="timestamp_text_trimmed",
        ),
        pytest.param(
            pa.array(["01/03/2024 10:00 PM"]),
            "timestamp",
            "%d/%m/%Y %I:%M %p",
            [datetime(2024, 3, 1, 22, tzinfo=UTC)],
            [],
            id="twelve_hour_clock",
        ),
        pytest.param(pa.nulls(2), "timestamp", None, [None, None], [], id="null_column"),
        pytest.param(pa.array([], pa.string()), "integer", None, [], [], id="empty"),
    ],
)
def test_convert(values: pa.Array, field_type: str, fmt: str | None, expected: list, failed: list) -> None:
    got, got_failed, _ = cast(values, field_type, fmt)
    assert got == expected
    assert got_failed == failed


def test_output_types() -> None:
    ctx = EvalContext({}, 1, NOW)
    assert convert(ctx, pa.array(["1"]), "integer").type == pa.int64()
    assert convert(ctx, pa.array(["2024-03-01"]), "timestamp").type == pa.timestamp("us", "UTC")
    assert convert(ctx, pa.scalar("x"), "string").type == pa.string()


@pytest.mark.parametrize(
    ("value", "field_type", "fmt", "expected"),
    [
        pytest.param("US", "string", None, "US", id="string"),
        pytest.param(True, "string", None, "true", id="bool_as_string"),
        pytest.param(date(2024, 3, 1), "string", None, "2024-03-01", id="date_as_string"),
        pytest.param(5, "integer", None, 5, id="int"),
        pytest.param("0042.0", "integer", None, 42, id="int_text"),
        pytest.param(3.0, "integer", None, 3, id="integral_float"),
        pytest.param("  ", "integer", None, None, id="blank_is_null"),
        pytest.param("2.5", "float", None, 2.5, id="float_text"),
        pytest.param("Yes", "boolean", None, True, id="bool_text"),
        pytest.param(0, "boolean", None, False, id="bool_int"),
        pytest.param("2024-03-01", "date", None, date(2024, 3, 1), id="iso_date"),
        pytest.param("03/01/2024", "date", "%m/%d/%Y", date(2024, 3, 1), id="formatted_date"),
        pytest.param(date(2024, 3, 1), "date", None, date(2024, 3, 1), id="yaml_date"),
        pytest.param(
            "2024-03-01T10:00:00+02:00",
            "timestamp",
            None,
            datetime(2024, 3, 1, 8, tzinfo=UTC),
            id="iso_timestamp",
        ),
        pytest.param(
            datetime(2024, 3, 1, 10),
            "timestamp",
            None,
            datetime(2024, 3, 1, 10, tzinfo=UTC),
            id="naive_yaml_timestamp_is_utc",
        ),
        pytest.param(
            date(2024, 3, 1), "timestamp", None, datetime(2024, 3, 1, tzinfo=UTC), id="date_to_timestamp"
        ),
    ],
)
def test_coerce_constant(value: Any, field_type: str, fmt: str | None, expected: Any) -> None:
    assert coerce_constant(value, field_type, fmt) == expected


@pytest.mark.parametrize(
    ("value", "field_type", "fmt", "message"),
    [
        pytest.param("abc", "integer", None, "not a valid integer", id="integer"),
        pytest.param(2.5, "integer", None, "not a valid integer", id="fractional"),
        pytest.param("9223372036854775808", "integer", None, "not a valid integer", id="too_big"),
        pytest.param("x", "float", None, "not a valid number", id="float"),
        pytest.param(
            "maybe",
            "boolean",
            None,
            "not a valid boolean (expected true/false, yes/no, y/n, t/f or 1/0)",
            id="boolean",
        ),
        pytest.param(
            "2024-02-30", "date", None, "not a valid ISO-8601 date (expected YYYY-MM-DD)", id="date"
        ),
        pytest.param(
            "2024-03-01", "date", "%d/%m/%Y", "not a valid date in format '%d/%m/%Y'", id="date_format"
        ),
        pytest.param(
            "soon",
            "timestamp",
            None,
            "not a valid ISO-8601 timestamp (expected e.g. 2024-03-01T10:00:00Z)",
            id="timestamp",
        ),
        pytest.param(date(2024, 1, 1), "integer", None, "not a valid integer", id="date_as_integer"),
    ],
)
def test_coerce_constant_errors(value: Any, field_type: str, fmt: str | None, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        coerce_constant(value, field_type, fmt)
    assert str(caught.value) == message
