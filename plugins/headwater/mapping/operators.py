"""Operators of the expression language (+ - * / || and comparisons), vectorised on Arrow."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from headwater.mapping import casting
from headwater.mapping.context import EvalContext, MappingError
from headwater.mapping.fn_text import concat
from headwater.mapping.kernel import value_kind


def _numeric(ctx: EvalContext, value: Any, op: str) -> Any:
    import pyarrow as pa

    kind = value_kind(value.type)
    if kind == "integer" or (kind == "float" and not pa.types.is_decimal(value.type)):
        return value
    if kind in ("float", "null", "text"):
        return casting.convert(ctx, value, "float")
    raise MappingError(f"operator '{op}' needs numbers, got {value.type}")


_TARGET_OF_KIND = {
    "text": "string",
    "integer": "integer",
    "float": "float",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
}


def comparable(ctx: EvalContext, left: Any, right: Any, op: str) -> tuple[Any, Any]:
    """Both sides in one type; text next to a number, date or boolean is read as that type."""
    kinds = {value_kind(left.type), value_kind(right.type)} - {"null"}
    if len(kinds) <= 1 and kinds <= set(_TARGET_OF_KIND):
        target = _TARGET_OF_KIND[next(iter(kinds), "text")]
    elif kinds <= {"integer", "float", "text"}:
        target = "float"
    elif kinds <= {"date", "timestamp", "text"}:
        target = "timestamp" if "timestamp" in kinds else "date"
    elif kinds == {"boolean", "text"}:
        target = "boolean"
    else:
        raise MappingError(f"cannot compare {left.type} with {right.type} using '{op}'")
    return casting.convert(ctx, left, target), casting.convert(ctx, right, target)


# --- operators (not callable by name) --------------------------------------------------------------


def _arithmetic(kernel: str) -> Callable[..., Any]:
    def apply(ctx: EvalContext, left: Any, right: Any) -> Any:
        import pyarrow.compute as pc

        symbol = {"add_checked": "+", "subtract_checked": "-", "multiply_checked": "*"}[kernel]
        return getattr(pc, kernel)(_numeric(ctx, left, symbol), _numeric(ctx, right, symbol))

    return apply


def _divide(ctx: EvalContext, left: Any, right: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    # Always true division; dividing by zero gives null rather than failing the batch.
    left = pc.cast(_numeric(ctx, left, "/"), pa.float64())
    right = pc.cast(_numeric(ctx, right, "/"), pa.float64())
    return pc.if_else(pc.equal(right, 0.0), pa.scalar(None, pa.float64()), pc.divide(left, right))


def _comparison(kernel: str, symbol: str) -> Callable[..., Any]:
    def apply(ctx: EvalContext, left: Any, right: Any) -> Any:
        import pyarrow.compute as pc

        return getattr(pc, kernel)(*comparable(ctx, left, right, symbol))

    return apply


def _logical(kernel: str) -> Callable[..., Any]:
    def apply(ctx: EvalContext, left: Any, right: Any) -> Any:
        import pyarrow.compute as pc

        # Kleene logic: `null or true` is true, `null and false` is false.
        sides = [
            v if value_kind(v.type) == "boolean" else casting.convert(ctx, v, "boolean")
            for v in (left, right)
        ]
        return getattr(pc, kernel)(*sides)

    return apply


OPERATORS: dict[str, Callable[..., Any]] = {
    "and": _logical("and_kleene"),
    "or": _logical("or_kleene"),
    "+": _arithmetic("add_checked"),
    "-": _arithmetic("subtract_checked"),
    "*": _arithmetic("multiply_checked"),
    "/": _divide,
    "||": concat,
    "=": _comparison("equal", "="),
    "!=": _comparison("not_equal", "!="),
    "<": _comparison("less", "<"),
    "<=": _comparison("less_equal", "<="),
    ">": _comparison("greater", ">"),
    ">=": _comparison("greater_equal", ">="),
}
