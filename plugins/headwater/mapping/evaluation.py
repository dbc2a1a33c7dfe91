"""Evaluation of an expression tree over the columns of an `EvalContext`, whole columns at once.

Functions get their arguments evaluated, except the lazy ones (case, iif, coalesce, decode): they get
`Branch`es and evaluate each on the rows that take it, so a strict `to_date` in a branch a row does
not take can never reject that row. A branch over some of the rows runs in a context over just
those rows (taken from the batch, results put back in place); subexpressions the batch already
computed are reused from its memo.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from headwater.mapping.context import EvalContext, Failure
from headwater.mapping.expressions import BinaryOp, Call, Column, Literal, Node, columns
from headwater.mapping.functions import FUNCTIONS
from headwater.mapping.operators import OPERATORS

if TYPE_CHECKING:
    import pyarrow as pa

# Functions whose every call gives new values: never shared between fields.
VOLATILE = frozenset({"uuid"})


def evaluate(node: Node, ctx: EvalContext) -> Any:
    """Value of an expression over the context's columns: an Arrow array, or a scalar for constants."""
    if isinstance(node, Column):
        return ctx.column(node.name)
    if isinstance(node, Literal):
        return _scalar(node.value)
    memoised = not (isinstance(node, Call) and node.name in VOLATILE) and ctx.memo is not None
    if memoised:
        found = ctx.recall(node)
        if found is not None:
            value, failures = found
            for failure in failures:  # the rows this subexpression rejected are rejected in this field too
                ctx.report(failure)
            return value
    before = len(ctx.log)
    if isinstance(node, Call):
        spec = FUNCTIONS[node.name]
        if spec.lazy:
            args = [Branch(a, ctx) for a in node.args]
        else:
            args = [
                a.value if spec.literal_type(i) is not None else evaluate(a, ctx)
                for i, a in enumerate(node.args)
            ]
        value = _call(ctx, node, lambda: spec.impl(ctx, *args))
    elif isinstance(node, BinaryOp):
        left, right = evaluate(node.left, ctx), evaluate(node.right, ctx)
        value = _call(ctx, node, lambda: OPERATORS[node.op](ctx, left, right))
    else:
        raise TypeError(f"not an expression node: {node!r}")
    if memoised:
        ctx.memo[node] = (value, ctx.log[before:])
    return value


def _call(ctx: EvalContext, node: Node, run: Any) -> Any:
    """`run()` with failures it reports tagged with the source columns `node` reads."""
    outer, ctx.reading = ctx.reading, source_columns(node)
    try:
        return run()
    finally:
        ctx.reading = outer


@functools.lru_cache(maxsize=4096)
def source_columns(node: Node) -> tuple[str, ...]:
    return tuple(sorted(columns(node)))


def _scalar(value: Any) -> pa.Scalar:
    import pyarrow as pa

    return pa.scalar(value)


class Branch:
    """An argument of a lazy function, evaluated on demand: on every row, or on some of them."""

    __slots__ = ("node", "ctx")

    def __init__(self, node: Node, ctx: EvalContext):
        self.node = node
        self.ctx = ctx

    def value(self) -> Any:
        return evaluate(self.node, self.ctx)

    def where(self, rows: Any) -> Any:
        """The value on the rows where `rows` is true, null elsewhere; nothing outside them can fail."""
        return evaluate_where(self.node, self.ctx, rows)


def evaluate_where(node: Node, ctx: EvalContext, rows: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(node, Literal):
        return _scalar(node.value)
    rows = pc.fill_null(ctx.broadcast(rows), False)
    taken = pc.sum(rows).as_py() or 0
    if taken == ctx.num_rows:
        return evaluate(node, ctx)
    if isinstance(node, Column):
        return _only(ctx.column(node.name), rows)
    found = ctx.recall(node) if ctx.memo is not None and not _volatile(node) else None
    if found is not None:  # the batch already computed it: keep its failures and values on `rows`
        for failure in found[1]:
            _report_on(ctx, failure, rows)
        return _only(found[0], rows)
    if taken * 8 >= ctx.num_rows:
        # Most branches cannot fail anywhere, and computing one on the whole batch is cheaper than
        # taking its rows out and putting them back: try that first, keep it if nothing failed
        # outside `rows`.
        trial = ctx.scratch()
        try:
            value = evaluate(node, trial)
        except pa.ArrowException:  # e.g. an overflow on a row the branch does not take
            value = None
        else:
            if not any(pc.any(pc.and_not(f.mask, rows)).as_py() for f in trial.log):
                for failure in trial.log:
                    ctx.report(failure)
                return _only(value, rows)
    return _on_subset(node, ctx, rows)


def _on_subset(node: Node, ctx: EvalContext, rows: Any) -> Any:
    """`node` computed on the rows in `rows` only, put back in place (null elsewhere)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    sub = ctx.subset(pc.indices_nonzero(rows), set(columns(node)))
    sub.reading = ctx.reading
    value = evaluate(node, sub)
    back = None
    for failure in sub.log:
        back = back if back is not None else _back_map(rows)
        mask = pc.fill_null(failure.mask.take(back), False)
        ctx.report(Failure(mask, failure.raw.take(back), failure.message, failure.code, failure.columns))
    if isinstance(value, pa.Scalar):
        return value
    back = back if back is not None else _back_map(rows)
    return ctx.broadcast(value).take(back)


def _only(value: Any, rows: Any) -> Any:
    """`value` on `rows`, null elsewhere (so nothing done with it later can fail on other rows)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(value, pa.Scalar):
        return value
    return pc.if_else(rows, value, pa.scalar(None, value.type))


def _volatile(node: Node) -> bool:
    return isinstance(node, Call) and node.name in VOLATILE


def _report_on(ctx: EvalContext, failure: Failure, rows: Any) -> None:
    import pyarrow.compute as pc

    mask = pc.and_(failure.mask, rows)
    if pc.any(mask).as_py():
        ctx.report(Failure(mask, failure.raw, failure.message, failure.code, failure.columns))


def _back_map(rows: Any) -> Any:
    """For each row, its position among the rows taken (null for rows not taken): puts a subset back."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ranks = pc.subtract(pc.cumulative_sum(pc.cast(rows, pa.int64())), 1)
    return pc.if_else(rows, ranks, pa.scalar(None, pa.int64()))
