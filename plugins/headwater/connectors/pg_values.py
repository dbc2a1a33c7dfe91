"""PostgreSQL values into exact Arrow values: what to cast in SQL, and what to check per batch.

ADBC decodes PostgreSQL's binary COPY format. Some types it cannot decode (inet, enums, ranges,
geometric types...: opaque bytes), some it decodes into a different value (money as its integer
cents, `infinity` and timestamps after 294247-01-10 wrapped around to year -28134, time `24:00` as
midnight, `date 'infinity'` as a day no calendar has, multi-dimensional arrays flattened). So:

- before the read the result's column types are probed, and the select list casts every type
  without an exact Arrow form to PostgreSQL's own text output (`::text`, `::text[]`; intervals in
  ISO 8601), money to numeric, oid to bigint; list columns get a companion "shape" column;
- each batch is then checked: a value that still has no exact Arrow form (infinity, 24:00, NaN in
  a bounded numeric, a multi-dimensional array) is reported as a `Problem` and its row left out
  (the hook quarantines it with the row); everything else goes through unchanged.

Imported only inside tasks (pyarrow at module level).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from headwater.civil_dates import civil

# Days and microseconds since 1970 of PostgreSQL's first day (4714-11-24 BC): anything ADBC
# delivers below that is a wrapped-around value (infinity, -infinity, or a year past 294246).
PG_MIN_DAY = -2_440_588
PG_MIN_US = PG_MIN_DAY * 86_400_000_000
_US_EPOCH_SHIFT = 946_684_800_000_000  # 1970 -> 2000, added by ADBC to PostgreSQL's timestamps
_INT64, _INT32 = 2**63, 2**31
_TS_SPECIAL = {(_INT64 - 1 + _US_EPOCH_SHIFT) - 2**64: "infinity", -_INT64 + _US_EPOCH_SHIFT: "-infinity"}
_DATE_SPECIAL = {(_INT32 - 1 + 10_957) - 2**32: "infinity", -_INT32 + 10_957: "-infinity"}
DAY_US = 86_400_000_000

SHAPE_PREFIX = "hw_shape__"  # companion column: the array's text when it is not one-dimensional from 1

_NATIVE = (
    pa.types.is_integer,
    pa.types.is_floating,
    pa.types.is_boolean,
    pa.types.is_string,
    pa.types.is_large_string,
    pa.types.is_binary,
    pa.types.is_large_binary,
    pa.types.is_date32,
    pa.types.is_time64,
    pa.types.is_timestamp,
)


@dataclass(frozen=True)
class Problem:
    """A value with no exact Arrow form: its row is left out and quarantined."""

    index: int  # row in the batch
    column: str
    value: str  # the value as PostgreSQL writes it
    code: str  # VALUE_OUT_OF_RANGE | UNSUPPORTED_VALUE
    reason: str


def _pg_type(field: pa.Field) -> str:
    return (field.metadata or {}).get(b"POSTGRESQL:type", b"").decode()


def _is_native(type_: pa.DataType) -> bool:
    return not isinstance(type_, pa.BaseExtensionType) and any(test(type_) for test in _NATIVE)


def _as_text(column: str) -> str:
    # The type's own output function (what psql shows), also inside arrays: `::text` is not always
    # that (inet's text cast adds the netmask: '::1' would become '::1/128').
    return f"CASE WHEN {column} IS NULL THEN NULL ELSE format('%s', {column}) END"


def _expression(field: pa.Field, column: str, money_scale: int) -> str | None:
    """SQL that makes this column exact in Arrow, or None when it already is."""
    pg_type, type_ = _pg_type(field), field.type
    if pg_type == "money":  # ADBC delivers the integer cents; the locale says how many decimals
        return f"{column}::numeric(38, {money_scale})"
    if pg_type in ("oid", "xid", "cid"):  # unsigned 32-bit: values past 2^31 wrap in int32
        return f"{column}::text::bigint"
    if pg_type == "_money":  # the numbers, not the locale's currency text ($12.34)
        return f"{column}::numeric[]::text[]"
    if pa.types.is_list(type_):
        if _is_native(type_.value_type) and pg_type not in ("_oid", "_xid", "_cid"):
            return None
        return f"({_as_text(column)})::text[]"
    if isinstance(type_, pa.OpaqueType) and type_.type_name == "numeric":
        return None  # decoded from its text in `plain_batch`
    if pg_type.startswith("reg") or not _is_native(type_):  # regclass...: their names
        return _as_text(column)
    return None


def needs_rewrite(schema: pa.Schema) -> bool:
    return any(_expression(f, "c", 2) is not None or pa.types.is_list(f.type) for f in schema)


def uses_money(schema: pa.Schema) -> bool:
    return any(_pg_type(f) == "money" for f in schema)


def uses_interval(schema: pa.Schema) -> bool:
    return any(_pg_type(f).lstrip("_") == "interval" for f in schema)


def select_items(schema: pa.Schema, quote, money_scale: int = 2) -> list[str]:
    """The select list over the probed result (aliased `hw_rows`): casts and shape columns."""
    parts = []
    for field in schema:
        column = f"hw_rows.{quote(field.name)}"
        expression = _expression(field, column, money_scale)
        parts.append(f"{expression} AS {quote(field.name)}" if expression else column)
        if pa.types.is_list(field.type):  # the array's own text when its shape does not fit a list
            parts.append(
                f"CASE WHEN array_ndims({column}) > 1 OR array_lower({column}, 1) <> 1 "
                f"THEN {_as_text(column)} END AS {quote(SHAPE_PREFIX + field.name)}"
            )
    return parts


# -- decoding opaque numerics ------------------------------------------------------------------
_NUMERIC_SPELLING = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _numeric(name: str, field: pa.Field, storage: pa.Array, problems: list[Problem]) -> pa.Array:
    """NUMERIC(p, s) as decimal128/256(p, s); unbounded NUMERIC (and p > 76) as PostgreSQL's text."""
    typmod = int((field.metadata or {}).get(b"POSTGRESQL:typmod", b"-1"))
    special = pc.is_in(storage, pa.array(list(_NUMERIC_SPELLING)))
    if typmod < 4 or ((typmod - 4) >> 16) > 76:
        if not pc.any(special).as_py():
            return storage
        spelled = [_NUMERIC_SPELLING.get(v, v) if v is not None else None for v in storage.to_pylist()]
        return pa.array(spelled, pa.string())
    precision, scale = (typmod - 4) >> 16, (typmod - 4) & 0xFFFF
    target = pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)
    if pc.any(special).as_py():
        for i in pc.indices_nonzero(special).to_pylist():
            text = _NUMERIC_SPELLING[storage[i].as_py()]
            problems.append(
                Problem(i, name, text, "UNSUPPORTED_VALUE", f"is {text}, which a decimal column cannot hold")
            )
        storage = pc.if_else(special, pa.scalar(None, pa.string()), storage)
    return storage.cast(target)


def plain_batch(batch: pa.RecordBatch, problems: list[Problem]) -> pa.RecordBatch:
    """Replace ADBC's extension columns with ordinary Arrow types (NUMERIC(p, s) as decimal)."""
    columns, fields = [], []
    for field, column in zip(batch.schema, batch.columns, strict=True):
        if isinstance(field.type, pa.OpaqueType) and field.type.type_name == "numeric":
            column = _numeric(field.name, field, column.storage, problems)
        elif isinstance(field.type, pa.BaseExtensionType):
            column = column.storage
        if column.type != field.type:
            field = pa.field(field.name, column.type, field.nullable, field.metadata)
        columns.append(column)
        fields.append(field)
    return pa.RecordBatch.from_arrays(columns, schema=pa.schema(fields))


# -- checks ------------------------------------------------------------------------------------


def date_text(days: int) -> str:
    """PostgreSQL's way of writing a date, including years before 1 and after 9999."""
    year, month, day = civil(days)
    return f"{year:04d}-{month:02d}-{day:02d}" if year > 0 else f"{1 - year:04d}-{month:02d}-{day:02d} BC"


def timestamp_text(micros: int, tz: str | None = None) -> str:
    days, rest = divmod(micros, DAY_US)
    seconds, fraction = divmod(rest, 1_000_000)
    clock = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    if fraction:
        clock += f".{fraction:06d}"
    text = date_text(days)
    date, bc = (text[:-3], " BC") if text.endswith(" BC") else (text, "")
    return f"{date}T{clock}{'+00:00' if tz else ''}{bc}"


def _raw(array: pa.Array) -> pa.Array:
    width = array.type.bit_width
    return array.view(pa.int64() if width == 64 else pa.int32())


def _temporal_problems(array: pa.Array) -> list[tuple[int, str]]:
    """(position, text) of temporal values ADBC could not deliver exactly."""
    type_ = array.type
    if pa.types.is_timestamp(type_):
        raw = _raw(array)
        bad = pc.less(raw, PG_MIN_US)
        render = lambda v: _TS_SPECIAL.get(v) or timestamp_text(v + 2**64, type_.tz)  # noqa: E731
    elif pa.types.is_date32(type_):
        raw = _raw(array)
        bad = pc.less(raw, PG_MIN_DAY)
        render = lambda v: _DATE_SPECIAL.get(v, str(v))  # noqa: E731
    elif pa.types.is_time64(type_):
        raw = array.cast(pa.int64()) if type_.unit == "us" else None
        if raw is None:
            return []
        bad = pc.greater_equal(raw, DAY_US)
        render = lambda v: "24:00:00"  # noqa: E731
    else:
        return []
    if not pc.any(bad).as_py():
        return []
    return [(i, render(raw[i].as_py())) for i in pc.indices_nonzero(bad).to_pylist()]


_OUT_OF_RANGE = {
    "infinity": "is infinity, which Arrow timestamps and dates cannot hold",
    "-infinity": "is -infinity, which Arrow timestamps and dates cannot hold",
    "24:00:00": "is 24:00:00, which an Arrow time of day cannot hold",
}


def _reason(text: str) -> str:
    return _OUT_OF_RANGE.get(text, "is after 294247-01-10, beyond what an Arrow timestamp can hold")


def check_batch(batch: pa.RecordBatch, problems: list[Problem]) -> pa.RecordBatch:
    """Add the problems of `batch` (after `plain_batch`) and return it without the shape columns."""
    keep = []
    for i, (field, column) in enumerate(zip(batch.schema, batch.columns, strict=True)):
        if field.name.startswith(SHAPE_PREFIX):
            if column.null_count < len(column):
                name = field.name[len(SHAPE_PREFIX) :]
                for row in pc.indices_nonzero(pc.is_valid(column)).to_pylist():
                    problems.append(
                        Problem(
                            row,
                            name,
                            column[row].as_py(),
                            "UNSUPPORTED_VALUE",
                            "is a multi-dimensional array or does not start at index 1, which an Arrow "
                            f"list cannot hold exactly; select it as to_json({name})::text in a query",
                        )
                    )
            continue
        keep.append(i)
        if pa.types.is_list(field.type):
            parents = pc.list_parent_indices(column)
            for child_index, text in _temporal_problems(pc.list_flatten(column)):
                problems.append(
                    Problem(
                        parents[child_index].as_py(), field.name, text, "VALUE_OUT_OF_RANGE", _reason(text)
                    )
                )
        else:
            for row, text in _temporal_problems(column):
                problems.append(Problem(row, field.name, text, "VALUE_OUT_OF_RANGE", _reason(text)))
    if len(keep) == batch.num_columns:
        return batch
    return batch.select(keep)


def record_value(scalar: pa.Scalar) -> object:
    """A value for a quarantine record (JSON-ready), also for years Python's datetime cannot hold."""
    from .sql import json_value

    if pa.types.is_list(scalar.type):
        return None if not scalar.is_valid else [record_value(item) for item in scalar.values]
    try:
        return json_value(scalar.as_py())
    except (ValueError, OverflowError):
        type_ = scalar.type
        raw = _raw(pa.array([scalar], type_))[0].as_py()
        if pa.types.is_timestamp(type_):
            return timestamp_text(raw, type_.tz)
        if pa.types.is_date32(type_):
            return date_text(raw)
        return str(scalar)
