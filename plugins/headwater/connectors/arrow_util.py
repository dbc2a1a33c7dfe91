"""Arrow helpers shared by connector hooks: re-chunking, and typing rows from Python values.

Imported only inside tasks (pyarrow at module level).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

import pyarrow as pa

from .base import Chunk
from .positions import slice_runs

_CONVERSION_ERRORS = (
    pa.ArrowInvalid,
    pa.ArrowTypeError,
    pa.ArrowNotImplementedError,
    OverflowError,
    ValueError,
    TypeError,
)


def rechunk(chunks: Iterable[Chunk], size: int) -> Iterator[Chunk]:
    """Re-cut a stream of chunks (any sizes, one schema) into chunks of exactly `size` rows (last: fewer).

    Errors (and notes) travel with the next chunk emitted; a trailing chunk with no rows carries the rest.
    Runs (where the rows are) are cut with their rows.
    """
    pending: list[pa.Table] = []
    count = 0
    errors: list = []
    notes: list[str] = []
    runs: list = []
    empty: pa.Table | None = None
    for chunk in chunks:
        errors.extend(chunk.errors)
        notes.extend(chunk.notes)
        table = chunk.table
        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        empty = table.slice(0, 0)
        offset = 0
        while offset < table.num_rows:
            take = min(size - count, table.num_rows - offset)
            pending.append(table.slice(offset, take))
            runs.extend(chunk.runs if take == table.num_rows else slice_runs(chunk.runs, offset, take))
            count += take
            offset += take
            if count == size:
                yield Chunk(_concat(pending), errors, notes, runs=runs)
                pending, count, errors, notes, runs = [], 0, [], [], []
    if pending or errors or notes:
        table = _concat(pending) if pending else (empty if empty is not None else pa.table({}))
        yield Chunk(table, errors, notes, runs=runs)


def _concat(tables: list[pa.Table]) -> pa.Table:
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables)


@dataclass(frozen=True)
class BadValue:
    """A value a driver read but that has no exact Arrow form (MariaDB's `0000-00-00`, ...).

    Drivers that would otherwise turn such a value into NULL or a different value return this
    marker instead; `TypedColumns` reports it as a `Mismatch` with its own code and reason.
    """

    text: str  # the value as the database wrote it
    code: str  # VALUE_OUT_OF_RANGE | UNSUPPORTED_VALUE
    reason: str


@dataclass(frozen=True)
class Mismatch:
    """A value that does not fit the type its column was given earlier in the same read."""

    index: int  # row position in the batch passed to `TypedColumns.table`
    column: str
    value: object
    expected: str
    code: str = "TYPE_MISMATCH"
    reason: str | None = None  # why, when it is not simply another type (a `BadValue`)


def _to_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, BadValue):
        raise ValueError(value.reason)  # never its text in place of the value
    if isinstance(value, bytes):
        return value.decode("utf-8")  # UnicodeDecodeError: a mismatch, reported per value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _prepare(value: object, type_: pa.DataType) -> object:
    """Lossless conversions pyarrow will not do by itself (int -> float, 2.0 -> 2, anything -> text)."""
    if value is None:
        return None
    if pa.types.is_string(type_) or pa.types.is_large_string(type_):
        return _to_text(value)
    if pa.types.is_floating(type_) and isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return float(value)
    if pa.types.is_integer(type_) and isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{value} is not a whole number")
        return int(value)
    return value


def infer_type(values: list) -> pa.DataType | None:
    """Arrow type of the non-null values (None if all are null); mixed or nested values become text."""
    present = [v for v in values if v is not None and not isinstance(v, BadValue)]
    if not present:
        return None
    if any(isinstance(v, (dict, list, tuple)) for v in present):
        return pa.string()
    try:
        type_ = pa.array(present).type
    except _CONVERSION_ERRORS:
        return pa.string()
    if pa.types.is_decimal(type_):
        # Later rows may need more digits than the first ones: widen to the largest precision.
        return pa.decimal128(38, type_.scale) if type_.precision <= 38 else pa.decimal256(76, type_.scale)
    if pa.types.is_null(type_):
        return None
    return type_


class TypedColumns:
    """Gives every column one Arrow type for a whole read, so all chunks share a schema.

    The type comes from `hints` (the database's declared types) or else from the first non-null
    values seen; a column that is entirely null until then is typed as text. Values that do not
    fit later are reported as `Mismatch`es and their rows left out of the table.
    """

    def __init__(self, hints: Mapping[str, pa.DataType | None] | None = None):
        self.hints = dict(hints or {})
        self.types: dict[str, pa.DataType] = {}

    def table(self, names: list[str], columns: list[list]) -> tuple[pa.Table, list[Mismatch]]:
        arrays = []
        mismatches: list[Mismatch] = []
        for name, values in zip(names, columns, strict=True):
            type_ = self.types.get(name) or self.hints.get(name) or infer_type(values) or pa.string()
            self.types[name] = type_
            array, bad = self._array(name, values, type_)
            arrays.append(array)
            mismatches.extend(bad)
        table = pa.Table.from_arrays(arrays, names=names) if names else pa.table({})
        if mismatches:
            drop = {m.index for m in mismatches}
            keep = [i for i in range(table.num_rows) if i not in drop]
            table = table.take(pa.array(keep, type=pa.int64()))
        return table, mismatches

    @staticmethod
    def _array(name: str, values: list, type_: pa.DataType) -> tuple[pa.Array, list[Mismatch]]:
        # pyarrow silently truncates floats into integer columns (1.5 -> 1): never let it.
        floats_into_ints = pa.types.is_integer(type_) and any(isinstance(v, float) for v in values)
        if not floats_into_ints:
            try:  # usual case: the driver's values already fit
                return pa.array(values, type=type_), []
            except _CONVERSION_ERRORS:
                pass
        try:
            return pa.array([_prepare(v, type_) for v in values], type=type_), []
        except _CONVERSION_ERRORS:
            pass
        # Slow path, only when something does not fit: find the offending values one by one.
        good: list = []
        bad: list[Mismatch] = []
        for i, value in enumerate(values):
            if isinstance(value, BadValue):
                good.append(None)
                bad.append(Mismatch(i, name, value.text, str(type_), value.code, value.reason))
                continue
            try:
                prepared = _prepare(value, type_)
                pa.array([prepared], type=type_)
                good.append(prepared)
            except (*_CONVERSION_ERRORS, UnicodeDecodeError):
                good.append(None)
                bad.append(Mismatch(i, name, value, str(type_)))
        return pa.array(good, type=type_), bad
