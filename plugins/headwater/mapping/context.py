"""State shared by the functions evaluating one mapped field: input columns and rejected rows.

A value that cannot be converted does not stop the batch: the function records a `Failure` (which
rows, their raw values, why) and carries on with nulls; the engine turns failures into RowErrors.
A context may cover a subset of the batch's rows (a branch of `case` sees only its own rows) and
may be quiet (the `try_` functions: failures become nulls without an error).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from headwater.errors import HeadwaterError

if TYPE_CHECKING:
    import pyarrow as pa

CAST_FAILED = "CAST_FAILED"
OUT_OF_RANGE = "OUT_OF_RANGE"


@dataclass(frozen=True)
class Failure:
    mask: pa.BooleanArray  # rows that failed here (and had not failed before in this field)
    raw: pa.Array  # the values that failed to convert, aligned with the rows
    message: str
    code: str = CAST_FAILED
    # Source columns read by the expression that failed: the quarantine shows their values as the
    # source had them, not the intermediate value (`raw`) met inside the expression.
    columns: tuple[str, ...] = ()


class EvalContext:
    """Evaluation state for one target field over one table (or some of its rows)."""

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
        # Every failure reported, before the once-per-field filter: what a memoised subexpression
        # replays in another field.
        self.log: list[Failure] = []
        self.reading: tuple[str, ...] = ()  # source columns of the expression being evaluated
        self.silent = False
        # For a context over some rows: the context they were taken from and their positions there.
        self.parent: EvalContext | None = None
        self.positions: pa.Array | None = None

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

    def fail(self, mask: Any, raw: Any, message: str, code: str = CAST_FAILED) -> None:
        """Record that the rows in `mask` could not be converted (each row fails once per field)."""
        import pyarrow.compute as pc

        if self.silent:
            return
        mask = pc.fill_null(self.broadcast(mask), False)
        if not pc.any(mask).as_py():
            return
        self.report(Failure(mask, self.broadcast(raw), message, code, self.reading))

    def report(self, failure: Failure) -> None:
        """Record a failure as it is (its mask aligned with this context's rows)."""
        import pyarrow.compute as pc

        if self.silent:
            return
        self.log.append(failure)
        mask = failure.mask
        if self.failed is not None:
            mask = pc.and_(mask, pc.invert(self.failed))
            if not pc.any(mask).as_py():
                return
        self.failed = mask if self.failed is None else pc.or_(self.failed, mask)
        self.failures.append(Failure(mask, failure.raw, failure.message, failure.code, failure.columns))

    def quiet(self) -> EvalContext:
        """The same context with failures dropped: what fails becomes null (the `try_` functions)."""
        view = copy.copy(self)
        view.silent = True
        return view

    def scratch(self) -> EvalContext:
        """The same rows and memo, with failures kept apart (to look at before reporting them)."""
        view = copy.copy(self)
        view.failures, view.log, view.failed = [], [], None
        return view

    def subset(self, positions: pa.Array, names: set[str]) -> EvalContext:
        """A context over the rows at `positions`, with the columns `names` (what a branch reads)."""
        sub = EvalContext(
            _TakenColumns(self.columns, positions, names),
            len(positions),
            self.now,
            run_date=self.run_date,
            cache=self.cache,
            memo={},
        )
        sub.parent, sub.positions, sub.silent = self, positions, self.silent
        return sub

    def recall(self, node: Any) -> tuple[Any, list[Failure]] | None:
        """A memoised (value, failures) of `node` for these rows, also from the context they came from."""
        if self.memo is not None and node in self.memo:
            return self.memo[node]
        if self.parent is None:
            return None
        found = self.parent.recall(node)
        if found is None:
            return None
        import pyarrow as pa

        value, failures = found
        at = self.positions
        if not isinstance(value, pa.Scalar):
            value = value.take(at)
        taken = [Failure(f.mask.take(at), f.raw.take(at), f.message, f.code, f.columns) for f in failures]
        self.memo[node] = (value, taken)
        return value, taken


class _TakenColumns(dict):
    """Columns of a subset, taken on first use: a branch whose work the batch already did (its
    memo) never pays for taking the text it would have read."""

    def __init__(self, columns: Mapping[str, pa.Array], positions: pa.Array, names: set[str]):
        super().__init__()
        self.source, self.positions, self.names = columns, positions, names

    def __missing__(self, name: str) -> pa.Array:
        if name not in self.names:
            raise KeyError(name)
        taken = self[name] = self.source[name].take(self.positions)
        return taken


class MappingError(HeadwaterError):
    """A mapping that cannot run on this data (e.g. arithmetic on dates); names the target field."""
