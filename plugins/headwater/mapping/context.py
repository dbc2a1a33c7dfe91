"""State shared by the functions evaluating one mapped field: input columns and rejected rows.

A value that cannot be converted does not stop the batch: the function records a `Failure` (which
rows, their raw values, why) and carries on with nulls; the engine turns failures into RowErrors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from headwater.errors import HeadwaterError

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True)
class Failure:
    mask: pa.BooleanArray  # rows that failed here (and had not failed before in this field)
    raw: pa.Array  # the values that failed to convert, aligned with the rows
    message: str


class EvalContext:
    """Evaluation state for one target field over one table."""

    def __init__(
        self,
        columns: Mapping[str, pa.Array],
        num_rows: int,
        now: datetime,
        *,
        run_date: date | None = None,
        cache: dict | None = None,
        memo: dict | None = None,
    ):
        self.columns = columns
        self.num_rows = num_rows
        self.now = now
        self.run_date = run_date or now.date()
        # Lives as long as the compiled mapping (one task): secrets and lookup tables are read once.
        self.cache = cache if cache is not None else {}
        # Subexpression results shared by every field of one batch: `to_int(points)` used by three
        # fields is computed once. Keyed by node (positions are not part of node equality).
        self.memo = memo
        self.failures: list[Failure] = []
        self.failed: pa.BooleanArray | None = None

    def column(self, name: str) -> pa.Array:
        return self.columns[name]

    def broadcast(self, value: Any) -> pa.Array:
        """An array of `num_rows` values: scalars are repeated, chunked arrays combined."""
        import pyarrow as pa

        if isinstance(value, pa.Scalar):
            return pa.repeat(value, self.num_rows)
        if isinstance(value, pa.ChunkedArray):
            return value.combine_chunks()
        return value

    def fail(self, mask: Any, raw: Any, message: str) -> None:
        """Record that the rows in `mask` could not be converted (each row fails once per field)."""
        import pyarrow.compute as pc

        mask = pc.fill_null(self.broadcast(mask), False)
        if self.failed is not None:
            mask = pc.and_(mask, pc.invert(self.failed))
        if not pc.any(mask).as_py():
            return
        self.failed = mask if self.failed is None else pc.or_(self.failed, mask)
        self.failures.append(Failure(mask, self.broadcast(raw), message))


class MappingError(HeadwaterError):
    """A mapping that cannot run on this data (e.g. arithmetic on dates); names the target field."""
