"""Helpers shared by the function modules (`fn_*.py`): type families of Arrow values, text forms,
lining values up to one type, and work done once per distinct value where Arrow has no kernel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from headwater.mapping import casting
from headwater.mapping.context import EvalContext

if TYPE_CHECKING:
    import pyarrow as pa


def value_kind(data_type: pa.DataType) -> str:
    """Coarse type family used to line up operands: null, text, integer, float, boolean, date, timestamp."""
    import pyarrow as pa

    t = pa.types
    if t.is_null(data_type):
        return "null"
    if t.is_string(data_type) or t.is_large_string(data_type):
        return "text"
    if t.is_integer(data_type):
        return "integer"
    if t.is_floating(data_type) or t.is_decimal(data_type):
        return "float"
    if t.is_boolean(data_type):
        return "boolean"
    if t.is_date(data_type):
        return "date"
    if t.is_timestamp(data_type):
        return "timestamp"
    return str(data_type)


def as_string(value: Any) -> Any:
    """Any value as `string` (not `large_string`)."""
    import pyarrow as pa

    return casting.as_text(value).cast(pa.string())


def is_scalar(value: Any) -> bool:
    import pyarrow as pa

    return isinstance(value, pa.Scalar)


def unify(ctx: EvalContext, values: list[Any]) -> list[Any]:
    """Bring values to one type for coalesce/iif: numbers widen, dates join timestamps, else text."""
    kinds = {value_kind(v.type) for v in values} - {"null"}
    if not kinds:
        return values
    if kinds <= {"integer", "float"}:
        target = "float" if "float" in kinds else "integer"
    elif kinds <= {"date", "timestamp"}:
        target = "timestamp" if "timestamp" in kinds else "date"
    elif len(kinds) == 1 and kinds <= {"text", "boolean"}:
        target = "string" if kinds == {"text"} else "boolean"
    else:
        return [as_string(v) for v in values]
    return [casting.convert(ctx, v, target) if value_kind(v.type) != target else v for v in values]


def per_distinct(
    values: Any, fn: Callable[[Any], Any], out_type: Any, *, binary: bool = False, memo: dict | None = None
) -> Any:
    """`fn` applied once per distinct non-null value, then gathered back (nulls stay null).

    For work no Arrow kernel does (hashes, phone numbers, URLs, JSON): values repeat a lot in
    customer data, and a Python call per row would be the bottleneck. `fn` may return None.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(values, pa.Scalar):
        if not values.is_valid:
            return pa.scalar(None, out_type)
        value = values.cast(pa.binary()).as_py() if binary else values.as_py()
        return pa.scalar(fn(value), out_type)
    encoded = pc.dictionary_encode(values)
    distinct = encoded.dictionary.cast(pa.binary()) if binary else encoded.dictionary
    if memo is None:
        results = [fn(v) for v in distinct.to_pylist()]
    else:
        # Remembered across the batches of a task, for work as slow as parsing a phone number.
        if len(memo) > 1_000_000:
            memo.clear()
        results = [memo[v] if v in memo else memo.setdefault(v, fn(v)) for v in distinct.to_pylist()]
    return pc.take(pa.array(results, out_type), encoded.indices)


def digest(values: Any, algorithm: Callable[[bytes], Any]) -> Any:
    import pyarrow as pa

    return per_distinct(as_string(values), lambda v: algorithm(v).hexdigest(), pa.string(), binary=True)
