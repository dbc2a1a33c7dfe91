"""Logic: iif, case, decode, coalesce, not, nullif, is_null, is_empty (and/or are operators, in
`operators`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from headwater.mapping import casting
from headwater.mapping.context import EvalContext
from headwater.mapping.kernel import unify, value_kind
from headwater.mapping.operators import comparable
from headwater.mapping.registry import register

if TYPE_CHECKING:
    from headwater.mapping.evaluation import Branch


def _condition(ctx: EvalContext, cond: Any) -> Any:
    import pyarrow.compute as pc

    if value_kind(cond.type) != "boolean":
        cond = casting.convert(ctx, cond, "boolean")
    return pc.fill_null(ctx.broadcast(cond), False)


def _choose(ctx: EvalContext, conditions: list[Any], results: list[Any], default: Any) -> Any:
    """First result whose condition holds, else `default` (null when None)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = unify(ctx, [*results, default if default is not None else pa.scalar(None)])
    kinds = {v.type for v in values} - {pa.null()}
    if len(kinds) == 1:  # a null default takes the results' type; scalars stay scalars (if_else takes them)
        kind = kinds.pop()
        values = [v.cast(kind) if v.type == pa.null() else v for v in values]
    out = values[-1]
    # Built from the last branch back, so earlier conditions win.
    for cond, value in zip(reversed(conditions), reversed(values[:-1]), strict=True):
        out = pc.if_else(cond, value, out)
    return ctx.broadcast(out)


@register(
    "case(cond: boolean, value: T, ...) -> T",
    "The value of the first true condition: case(c1, v1, c2, v2, ..., default?); else default (or null).",
    arg_types=lambda n: ("boolean", "T") * (n // 2) + ("T",) * (n % 2),
    lazy=True,
)
def case(ctx: EvalContext, *args: Branch) -> Any:
    # Each condition is evaluated on the rows no earlier condition took, each value on its own rows.
    pairs = len(args) // 2
    remaining = None
    conditions = []
    for i in range(pairs):
        holds = _condition(ctx, args[2 * i].value() if remaining is None else args[2 * i].where(remaining))
        if remaining is not None:
            holds = _both(holds, remaining)
        conditions.append(holds)
        remaining = _still_open(remaining, holds)
    results = [args[2 * i + 1].where(conditions[i]) for i in range(pairs)]
    default = args[-1].where(remaining) if len(args) % 2 else None
    return _choose(ctx, conditions, results, default)


@register(
    "decode(x, search, result: T, ...) -> T",
    "The result paired with the first search equal to x: decode(x, s1, r1, s2, r2, ..., default?).",
    arg_types=lambda n: ("any",) + ("any", "T") * ((n - 1) // 2) + ("T",) * ((n - 1) % 2),
    lazy=True,
)
def decode(ctx: EvalContext, x: Branch, *args: Branch) -> Any:
    import pyarrow.compute as pc

    value = x.value()
    pairs = len(args) // 2
    remaining = None
    conditions = []
    for i in range(pairs):
        search = args[2 * i].value() if remaining is None else args[2 * i].where(remaining)
        left, right = comparable(ctx, value, search, "=")
        holds = pc.fill_null(ctx.broadcast(pc.equal(left, right)), False)
        if remaining is not None:
            holds = _both(holds, remaining)
        conditions.append(holds)
        remaining = _still_open(remaining, holds)
    results = [args[2 * i + 1].where(conditions[i]) for i in range(pairs)]
    default = args[-1].where(remaining) if len(args) % 2 else None
    return _choose(ctx, conditions, results, default)


def _both(a: Any, b: Any) -> Any:
    import pyarrow.compute as pc

    return pc.and_(a, b)


def _still_open(remaining: Any, holds: Any) -> Any:
    """Rows still open after `holds` took its own (all rows when `remaining` is None)."""
    import pyarrow.compute as pc

    return pc.invert(holds) if remaining is None else pc.and_not(remaining, holds)


@register("not(x: boolean) -> boolean", "true where x is false, false where it is true; null stays null.")
def not_(ctx: EvalContext, x: Any) -> Any:
    import pyarrow.compute as pc

    if value_kind(x.type) != "boolean":
        x = casting.convert(ctx, x, "boolean")
    return pc.invert(x)


@register("nullif(x: T, y: T) -> T", "null where x equals y, else x (e.g. nullif(country, 'N/A')).")
def nullif(ctx: EvalContext, x: Any, y: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    left, right = comparable(ctx, x, y, "=")
    same = pc.fill_null(ctx.broadcast(pc.equal(left, right)), False)
    x = ctx.broadcast(x)
    return pc.if_else(same, pa.scalar(None, x.type), x)


@register("is_empty(x) -> boolean", "true where the value is null or text that is empty or only whitespace.")
def is_empty(ctx: EvalContext, x: Any) -> Any:
    import pyarrow.compute as pc

    if value_kind(x.type) != "text":
        return pc.is_null(x)
    return pc.or_(pc.is_null(x), pc.fill_null(pc.equal(pc.utf8_trim_whitespace(x), ""), False))


@register(
    "coalesce(x: T, ...) -> T",
    "First argument that is not null (an empty string is not null); each is evaluated only on the rows "
    "still null.",
    lazy=True,
)
def coalesce(ctx: EvalContext, *branches: Any) -> Any:
    import pyarrow.compute as pc

    values = [branches[0].value()]
    still_null = None
    for branch in branches[1:]:
        # Only the rows every earlier argument left null: a later argument cannot reject a row
        # an earlier one filled.
        last = pc.is_null(ctx.broadcast(values[-1]))
        still_null = last if still_null is None else pc.and_(still_null, last)
        values.append(branch.where(still_null))
    values = unify(ctx, values)
    return values[0] if len(values) == 1 else pc.coalesce(*values)


@register(
    "iif(cond: boolean, a: T, b: T) -> T",
    "`a` where `cond` is true, else `b` (also when `cond` is null); each evaluated only on its own rows.",
    lazy=True,
)
def iif(ctx: EvalContext, cond: Any, a: Any, b: Any) -> Any:
    import pyarrow.compute as pc

    test = cond.value()
    if value_kind(test.type) != "boolean":
        test = casting.convert(ctx, test, "boolean")
    test = pc.fill_null(ctx.broadcast(test), False)
    a, b = unify(ctx, [a.where(test), b.where(pc.invert(test))])
    return pc.if_else(test, a, b)


@register("is_null(x) -> boolean", "true where the value is null.")
def is_null(ctx: EvalContext, x: Any) -> Any:
    import pyarrow.compute as pc

    return pc.is_null(x)
