"""Conversion of any Arrow column (text from files, typed values from databases) to a field type.

`convert` is what both the automatic cast to the target field and the to_* functions use: values
that do not convert are reported to the EvalContext and become null, never silently coerced.
Text is trimmed first and an empty string is null. `coerce_constant` is the pure-Python twin for
constants in YAML (`value`, `default`), used at DAG parse time without pyarrow.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from headwater.civil_dates import civil_text
from headwater.mapping import fastpath
from headwater.target_schemas import arrow_type

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.mapping.context import EvalContext

TRUE_TEXT = ("true", "t", "yes", "y", "1")
FALSE_TEXT = ("false", "f", "no", "n", "0")
INT64_MAX = 2**63 - 1

_INT_TEXT = r"^(?:\+|(-))?0*(\d+)(?:\.0*)?$"  # "+0042.00" -> "42": Excel-style integers are fine
_FLOAT_TEXT = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
_ISO_TIMESTAMP = (
    r"^\d{4}-\d{2}-\d{2}"
    r"(?:[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?"
    r"(?:Z|[+-](?:[01]\d|2[0-3])(?::?[0-5]\d)?)?)?$"
)
_PY_INT = re.compile(_INT_TEXT)
_PY_FLOAT = re.compile(_FLOAT_TEXT)
_PY_ISO_DATE = re.compile(_ISO_DATE)
_PY_ISO_TIMESTAMP = re.compile(_ISO_TIMESTAMP)


def expected(field_type: str, fmt: Formats = None) -> str:
    """The CAST_FAILED message for a field type (and parse format)."""
    if field_type == "integer":
        return "not a valid integer"
    if field_type == "float":
        return "not a valid number"
    if field_type == "boolean":
        return "not a valid boolean (expected true/false, yes/no, y/n, t/f or 1/0)"
    if field_type in ("date", "timestamp") and isinstance(fmt, tuple):
        return f"not a valid {field_type} in any of the formats " + ", ".join(f"'{f}'" for f in fmt)
    if field_type == "date":
        return (
            f"not a valid date in format '{fmt}'"
            if fmt
            else "not a valid ISO-8601 date (expected YYYY-MM-DD)"
        )
    if field_type == "timestamp":
        if fmt:
            return f"not a valid timestamp in format '{fmt}'"
        return "not a valid ISO-8601 timestamp (expected e.g. 2024-03-01T10:00:00Z)"
    return f"not a valid {field_type}"


# --- Arrow -----------------------------------------------------------------------------------------


def convert(ctx: EvalContext, values: Any, field_type: str, fmt: Formats = None) -> pa.Array:
    """`values` as an array of `arrow_type(field_type)`; unconvertible rows are reported and null.

    `fmt`: a strptime format, or several tried in order (the first that reads a value wins).
    Dates and timestamps outside 0001-01-01..9999-12-31 are reported as OUT_OF_RANGE.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    values = ctx.broadcast(values)
    if pa.types.is_dictionary(values.type):
        values = pc.cast(values, values.type.value_type)
    target = arrow_type(field_type)
    temporal = field_type in ("date", "timestamp")
    if temporal and _range_bounds(values.type) is not None:
        # Before any change of unit: a value beyond the target's range would wrap around.
        values = in_range(ctx, values)
        temporal = False
    if values.type == target:
        return values
    if pa.types.is_null(values.type):
        return pa.nulls(len(values), target)
    converted = _CONVERTERS[field_type](ctx, values, fmt)
    return in_range(ctx, converted) if temporal else converted


Formats = str | tuple[str, ...] | None

# What Python's datetime (and so deltalake's and Headwater's readers) can hold: 0001-01-01 to
# 9999-12-31. Arrow holds more (year 0, year 294276), and a lake table with such a value cannot be read.
_MIN_SECONDS = -62_135_596_800  # 0001-01-01T00:00:00Z
_MAX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z
_UNIT_SCALE = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def _range_bounds(kind: pa.DataType) -> tuple[int, int] | None:
    """(lowest, highest) readable value of a date or timestamp type in its own integer unit."""
    import pyarrow as pa

    if pa.types.is_date32(kind):
        return _MIN_SECONDS // 86_400, _MAX_SECONDS // 86_400
    if pa.types.is_date64(kind):
        return _MIN_SECONDS * 1_000, _MAX_SECONDS * 1_000 + 999
    if pa.types.is_timestamp(kind):
        scale = _UNIT_SCALE[kind.unit]
        return max(_MIN_SECONDS * scale, -(2**63)), min(_MAX_SECONDS * scale + scale - 1, 2**63 - 1)
    return None


def in_range(ctx: EvalContext, values: pa.Array) -> pa.Array:
    """`values` (dates or timestamps) with those outside 0001-01-01..9999-12-31 reported
    (OUT_OF_RANGE, one message per distinct value) and nulled."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from headwater.mapping.context import OUT_OF_RANGE

    low, high = _range_bounds(values.type)
    numbers = values.view(pa.int32() if pa.types.is_date32(values.type) else pa.int64())
    extremes = pc.min_max(numbers)
    if extremes["min"].as_py() is None or (
        low <= extremes["min"].as_py() and extremes["max"].as_py() <= high
    ):
        return values
    outside = pc.fill_null(pc.or_(pc.less(numbers, low), pc.greater(numbers, high)), False)
    kind = "date" if pa.types.is_date(values.type) else "timestamp"
    bad = pc.filter(values, outside)
    for shown in _rendered(pc.unique(bad))[:20]:
        rows = pc.and_(outside, pc.equal(values, shown[0]))
        ctx.fail(
            rows,
            values,
            f"{kind} {shown[1]} is outside the range the lake can read (0001-01-01 to 9999-12-31)",
            OUT_OF_RANGE,
        )
    ctx.fail(
        outside,
        values,
        f"{kind} outside the range the lake can read (0001-01-01 to 9999-12-31)",
        OUT_OF_RANGE,
    )
    return pc.if_else(outside, pa.scalar(None, values.type), values)


def _rendered(values: pa.Array) -> list[tuple[pa.Scalar, str]]:
    return [(values[i], text) for i, text in enumerate(render_temporal(values))]


def render_temporal(values: pa.Array) -> list[str | None]:
    """Dates and timestamps as ISO text, also those Python cannot hold (year 0, year 294276).

    Arrow's own text cast wraps or refuses far-away values, so the calendar comes from whole days
    (a rare path: it renders values already found bad).
    """
    import pyarrow as pa

    if pa.types.is_date32(values.type):
        per_day, per_second = 1, None
    elif pa.types.is_date64(values.type):
        per_day, per_second = 86_400_000, None
    else:
        per_second = _UNIT_SCALE[values.type.unit]
        per_day = 86_400 * per_second
    width = pa.int32() if pa.types.is_date32(values.type) else pa.int64()
    out: list[str | None] = []
    for number in values.view(width).to_pylist():
        if number is None:
            out.append(None)
            continue
        days, left = divmod(number, per_day)
        text = civil_text(days)
        if per_second is not None:
            seconds, fraction = divmod(left, per_second)
            text += f"T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
            if fraction:
                text += f".{fraction:0{len(str(per_second)) - 1}d}"
            text += "Z" if values.type.tz else ""
        out.append(text)
    return out




def as_text(values: Any) -> Any:
    """Any array or scalar as string (text types pass through)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        return values
    if pa.types.is_dictionary(values.type):
        values = pc.cast(values, values.type.value_type)
    if pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
        return _lists_as_json(values)
    return pc.cast(values, pa.string())


def _lists_as_json(values: Any) -> Any:
    """Lists (SQL arrays) as JSON text: `[1, 2, null]`; dates as ISO text, bytes as hex."""
    import json

    import pyarrow as pa

    def plain(value: Any) -> Any:
        if isinstance(value, bytes):
            return value.hex()
        return value.isoformat() if hasattr(value, "isoformat") else str(value)

    if isinstance(values, pa.Scalar):
        return pa.scalar(
            None if not values.is_valid else json.dumps(values.as_py(), default=plain), pa.string()
        )
    return pa.array(
        [None if v is None else json.dumps(v, ensure_ascii=False, default=plain) for v in values.to_pylist()],
        pa.string(),
    )


def _clean_text(values: pa.Array) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    text = fastpath.trim(as_text(values))
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, text.type), text)


def _reject(ctx: EvalContext, present: Any, ok: Any, out: pa.Array, raw: pa.Array, message: str) -> pa.Array:
    """Report rows that hold a value (`present`) that is not `ok`; `out` with those rows nulled."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ok = pc.fill_null(ok, False)
    ctx.fail(pc.and_(present, pc.invert(ok)), raw, message)
    return pc.if_else(ok, out, pa.scalar(None, out.type))


def _to_string(ctx: EvalContext, values: pa.Array, fmt: str | None) -> pa.Array:
    import pyarrow as pa

    if pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type):
        try:
            return values.cast(pa.string())
        except pa.ArrowInvalid:  # bytes that are not UTF-8 text (bytea, BLOB): those rows fail
            text = [_utf8(v) for v in values.to_pylist()]
            bad = pa.array(
                [v is not None and t is None for v, t in zip(values.to_pylist(), text, strict=True)]
            )
            raw = pa.array([v.hex() if v is not None else None for v in values.to_pylist()], pa.string())
            ctx.fail(bad, raw, "not UTF-8 text (binary data, shown as hex)")
            return pa.array(text, pa.string())
    return as_text(values).cast(pa.string())


def _utf8(value: bytes | None) -> str | None:
    try:
        return None if value is None else value.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _to_integer(ctx: EvalContext, values: pa.Array, fmt: str | None) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    message = expected("integer")
    kind = values.type
    fast = fastpath.cast_clean(values, pa.int64(), forbid=b"xX")
    if fast is not None:
        return fast
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind):
        if kind == pa.uint64():
            values = _reject(
                ctx,
                pc.is_valid(values),
                pc.less_equal(values, pa.scalar(INT64_MAX, kind)),
                values,
                values,
                message,
            )
        return pc.cast(values, pa.int64(), safe=False)
    if pa.types.is_floating(kind):
        ok = pc.and_(pc.is_finite(values), pc.equal(pc.floor(values), values))
        ok = pc.and_(ok, pc.less(pc.abs(values), 2.0**63))
        return pc.cast(_reject(ctx, pc.is_valid(values), ok, values, values, message), pa.int64(), safe=False)
    text = pc.replace_substring_regex(_clean_text(values), pattern=_INT_TEXT, replacement=r"\1\2")
    # Up to 18 digits always fits; 19 digits fits when not above the int64 bound, which for
    # strings of equal length is a plain text comparison.
    ok = pc.match_substring_regex(text, r"^-?\d{1,18}$")
    ok = pc.or_(ok, pc.and_(pc.match_substring_regex(text, r"^\d{19}$"), pc.less_equal(text, str(INT64_MAX))))
    ok = pc.or_(ok, pc.and_(pc.match_substring_regex(text, r"^-\d{19}$"), pc.less_equal(text, str(-(2**63)))))
    return pc.cast(_reject(ctx, pc.is_valid(text), ok, text, values, message), pa.int64())


def _to_float(ctx: EvalContext, values: pa.Array, fmt: str | None) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = values.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return pc.cast(values, pa.float64(), safe=False)
    if pa.types.is_boolean(kind):
        return pc.cast(pc.cast(values, pa.int8()), pa.float64())
    message = expected("float")
    fast = fastpath.cast_clean(values, pa.float64(), forbid=b"xX")
    if fast is not None and _all_finite(fast):
        return fast
    text = _clean_text(values)
    shaped = pc.fill_null(pc.match_substring_regex(text, _FLOAT_TEXT), False)
    number = pc.cast(pc.if_else(shaped, text, pa.scalar(None, text.type)), pa.float64())
    # "1e999" has the right shape but no finite value.
    return _reject(ctx, pc.is_valid(text), pc.is_finite(number), number, values, message)


def _all_finite(values: pa.Array) -> bool:
    """No inf or nan among the values (nulls ignored)."""
    import math

    import pyarrow.compute as pc

    # One pass without an output array: a sum is finite only if every value is (an inf or nan
    # anywhere makes it inf or nan). A sum that overflows is checked value by value.
    total = pc.sum(values).as_py()
    if total is None or math.isfinite(total):
        return True
    return pc.all(pc.is_finite(values)).as_py() is not False


def _to_boolean(ctx: EvalContext, values: pa.Array, fmt: str | None) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    message = expected("boolean")
    kind = values.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        numeric = pc.cast(values, pa.float64(), safe=False)
        ok = pc.is_in(numeric, value_set=pa.array([0.0, 1.0]))
        flags = pc.not_equal(numeric, 0.0)
        return _reject(ctx, pc.is_valid(values), ok, flags, values, message)
    # Few distinct texts in practice: classify the distinct values, then gather.
    encoded = pc.dictionary_encode(as_text(values))
    text = pc.utf8_lower(_clean_text(encoded.dictionary))
    truthy = pc.take(pc.is_in(text, value_set=pa.array(TRUE_TEXT)), encoded.indices)
    ok = pc.or_(truthy, pc.take(pc.is_in(text, value_set=pa.array(FALSE_TEXT)), encoded.indices))
    present = pc.take(pc.is_valid(text), encoded.indices)
    return _reject(ctx, pc.fill_null(present, False), ok, truthy, values, message)


def _normalise_rendering(text: pa.Array) -> pa.Array:
    """Lower case, no leading zeros in digit runs, single spaces: '03/01/2024' ~ '3/1/2024'."""
    import pyarrow.compute as pc

    text = pc.replace_substring_regex(pc.utf8_lower(text), pattern=r"(^|\D)0+(\d)", replacement=r"\1\2")
    return pc.replace_substring_regex(text, pattern=r"\s+", replacement=" ")


def _parse_with_format(text: pa.Array, fmt: str) -> tuple[pa.Array, pa.Array]:
    """(timestamps, ok) for text in a strptime format.

    Arrow's strptime rolls impossible dates over (02/30 becomes 03/01), so each parsed value is
    printed back with the same format and compared with the input; zone formats cannot be
    printed back the same way and skip that check. Printing is slow, and dates repeat a lot, so
    the work is done once per distinct text.
    """
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(text)
    parsed, ok = _parse_distinct(encoded.dictionary, fmt)
    return pc.take(parsed, encoded.indices), pc.fill_null(pc.take(ok, encoded.indices), False)


def _parse_distinct(distinct: pa.Array, fmt: str) -> tuple[pa.Array, pa.Array]:
    import pyarrow as pa
    import pyarrow.compute as pc

    parsed = pc.strptime(distinct, format=fmt, unit="s", error_is_null=True)
    ok = pc.is_valid(parsed)
    if "%z" not in fmt and "%Z" not in fmt:
        printed = pc.strftime(parsed, format=fmt)
        ok = pc.and_(ok, pc.equal(_normalise_rendering(printed), _normalise_rendering(distinct)))
    return pc.cast(parsed, pa.timestamp("us", tz=parsed.type.tz)), ok


def _parse_with_formats(text: pa.Array, formats: tuple[str, ...]) -> tuple[pa.Array, pa.Array]:
    """(UTC timestamps, ok) for text in the first of `formats` that reads it (zone-less as UTC)."""
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(text)
    parsed = ok = None
    for fmt in formats:
        these, good = _parse_distinct(encoded.dictionary, fmt)
        these, good = _utc(these), pc.fill_null(good, False)
        if parsed is None:
            parsed, ok = these, good
        else:  # an earlier format that read the value wins
            parsed, ok = pc.if_else(ok, parsed, these), pc.or_(ok, good)
    return pc.take(parsed, encoded.indices), pc.fill_null(pc.take(ok, encoded.indices), False)


def _parse(text: pa.Array, fmt: str | tuple[str, ...]) -> tuple[pa.Array, pa.Array]:
    return _parse_with_formats(text, fmt) if isinstance(fmt, tuple) else _parse_with_format(text, fmt)


def _utc(values: pa.Array) -> pa.Array:
    """Timestamps as timestamp[us, UTC]; zone-less values are taken to be UTC already."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.cast(values, pa.timestamp("us", tz="UTC"), safe=False)


def _to_date(ctx: EvalContext, values: pa.Array, fmt: str | None) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = values.type
    if pa.types.is_date(kind):
        return pc.cast(values, pa.date32())
    if pa.types.is_timestamp(kind):
        # A zoned instant becomes its UTC calendar date.
        return pc.cast(pc.cast(values, pa.timestamp(kind.unit), safe=False), pa.date32(), safe=False)
    if not fmt:
        fast = fastpath.cast_clean(values, pa.date32(), min_length=10)
        if fast is not None:
            return fast
    text = _clean_text(values)
    parsed, ok = _parse(text, fmt or "%Y-%m-%d")
    if not fmt:
        ok = pc.and_(ok, pc.fill_null(pc.match_substring_regex(text, _ISO_DATE), False))
    parsed = _reject(ctx, pc.is_valid(text), ok, parsed, values, expected("date", fmt))
    return pc.cast(pc.cast(parsed, pa.timestamp("us"), safe=False), pa.date32(), safe=False)


def _to_timestamp(ctx: EvalContext, values: pa.Array, fmt: str | None) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = values.type
    if pa.types.is_timestamp(kind):
        return _utc(values)
    if pa.types.is_date(kind):
        return _utc(pc.cast(values, pa.timestamp("us")))
    if not fmt:
        # Zoned text first, then zone-less text (UTC); mixed or unusual text takes the strict path.
        for target in (pa.timestamp("us", tz="UTC"), pa.timestamp("us")):
            fast = fastpath.cast_clean(values, target, min_length=16, colon_at=13)
            if fast is not None:
                return _utc(fast)
    text = _clean_text(values)
    message = expected("timestamp", fmt)
    if fmt:
        parsed, ok = _parse(text, fmt)
        return _utc(_reject(ctx, pc.is_valid(text), ok, parsed, values, message))
    return _utc(_parse_iso_timestamps(ctx, text, values, message))


def _parse_iso_timestamps(ctx: EvalContext, text: pa.Array, raw: pa.Array, message: str) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    utc = pa.timestamp("us", tz="UTC")
    # The shape regex bounds hours/minutes/seconds; the calendar check catches 2024-02-30.
    _, real_day = _parse_with_format(pc.utf8_slice_codeunits(text, 0, 10), "%Y-%m-%d")
    ok = pc.fill_null(pc.and_(pc.match_substring_regex(text, _ISO_TIMESTAMP), real_day), False)
    # Arrow parses a zoned string only as a zoned type and a plain one only as naive, and at most
    # microseconds: normalise everything to '<date>T<time>[.ffffff]<zone>' and cast once.
    iso = pc.if_else(ok, text, pa.scalar(None, text.type))
    iso = pc.replace_substring_regex(iso, pattern=r"(\.\d{6})\d+", replacement=r"\1")
    iso = pc.replace_substring_regex(iso, pattern=r"^(\d{4}-\d{2}-\d{2})$", replacement=r"\1T00:00:00")
    zoned = pc.match_substring_regex(iso, r"(?:Z|[+-]\d{2}(?::?\d{2})?)$")
    iso = pc.if_else(zoned, iso, pc.binary_join_element_wise(iso, "Z", ""))
    try:
        parsed = pc.cast(iso, utc)
    except pa.ArrowInvalid:
        # Something the shape checks let through: find the culprits one by one (rare path).
        good = [v is not None and _iso_casts(v, utc) for v in iso.to_pylist()]
        ok = pc.and_(ok, pa.array(good))
        parsed = pc.cast(pc.if_else(ok, iso, pa.scalar(None, iso.type)), utc)
    return _reject(ctx, pc.is_valid(text), ok, parsed, raw, message)


def _iso_casts(value: str, utc: pa.DataType) -> bool:
    import pyarrow as pa

    try:
        pa.array([value]).cast(utc)
    except pa.ArrowInvalid:
        return False
    return True


_CONVERTERS = {
    "string": _to_string,
    "integer": _to_integer,
    "float": _to_float,
    "boolean": _to_boolean,
    "date": _to_date,
    "timestamp": _to_timestamp,
}


# --- pure Python (parse time) ----------------------------------------------------------------------


def coerce_constant(value: Any, field_type: str, fmt: Formats = None) -> Any:
    """A YAML constant as a Python value of `field_type`; ValueError (with `expected`) if impossible."""
    if value is None or (isinstance(value, str) and not value.strip() and field_type != "string"):
        return None
    fail = ValueError(expected(field_type, fmt))
    if field_type == "string":
        if isinstance(value, bool):
            return "true" if value else "false"
        return value.isoformat() if isinstance(value, date) else str(value)
    if isinstance(value, datetime | date) and field_type not in ("date", "timestamp"):
        raise fail
    if field_type == "integer":
        if isinstance(value, bool | int):
            return int(value)
        if isinstance(value, float):
            if value.is_integer():
                return int(value)
            raise fail
        match = _PY_INT.match(value.strip())
        number = int((match.group(1) or "") + match.group(2)) if match else None
        if number is None or not -INT64_MAX - 1 <= number <= INT64_MAX:
            raise fail
        return number
    if field_type == "float":
        if isinstance(value, bool | int | float):
            return float(value)
        if not _PY_FLOAT.match(value.strip()):
            raise fail
        return float(value.strip())
    if field_type == "boolean":
        text = str(value).strip().lower() if not isinstance(value, bool) else value
        if isinstance(text, bool):
            return text
        if text in TRUE_TEXT:
            return True
        if text in FALSE_TEXT:
            return False
        raise fail
    if field_type == "date":
        if isinstance(value, datetime):
            return value.astimezone(UTC).date() if value.tzinfo else value.date()
        if isinstance(value, date):
            return value
        return _py_datetime(str(value).strip(), fmt, date_only=True, fail=fail).date()
    if field_type == "timestamp":
        if isinstance(value, datetime):
            return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        parsed = _py_datetime(str(value).strip(), fmt, date_only=False, fail=fail)
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError(f"unknown field type '{field_type}'")


def _py_datetime(text: str, fmt: Formats, *, date_only: bool, fail: ValueError) -> datetime:
    if isinstance(fmt, tuple):
        for one in fmt:
            try:
                return datetime.strptime(text, one)
            except ValueError:
                continue
        raise fail
    try:
        if fmt:
            return datetime.strptime(text, fmt)
        if not (_PY_ISO_DATE if date_only else _PY_ISO_TIMESTAMP).match(text):
            raise fail
        return datetime.fromisoformat(text)
    except ValueError:
        raise fail from None
