"""Conversions: to_string, to_int, to_float, to_bool, to_date, to_timestamp, and their `try_` twins.

The strict ones reject a row whose value does not convert (CAST_FAILED); the `try_` ones give null
instead, for trying several readings in turn (coalesce(try_to_int(a), try_to_int(b))).
"""

from __future__ import annotations

from typing import Any

from headwater.mapping import casting
from headwater.mapping.context import EvalContext
from headwater.mapping.registry import register


@register("to_string(x) -> string", "Any value as text.")
def to_string(ctx: EvalContext, x: Any) -> Any:
    return casting.convert(ctx, x, "string")


@register("to_int(x) -> integer", "Whole number; text such as '42' or '42.0'. Other values reject the row.")
def to_int(ctx: EvalContext, x: Any) -> Any:
    return casting.convert(ctx, x, "integer")


@register("to_float(x) -> number", "Number; text such as '3.5' or '1e3'. Other values reject the row.")
def to_float(ctx: EvalContext, x: Any) -> Any:
    return casting.convert(ctx, x, "float")


@register(
    "to_bool(x) -> boolean", "true/false, yes/no, y/n, t/f, 1/0 (any case). Other values reject the row."
)
def to_bool(ctx: EvalContext, x: Any) -> Any:
    return casting.convert(ctx, x, "boolean")


@register(
    "to_date(s, format?: string, ...) -> date",
    "Date from ISO text (YYYY-MM-DD) or text in a strptime `format`; with several formats the first "
    "that reads the text wins. Other values reject the row.",
    literals={1: str},
)
def to_date(ctx: EvalContext, s: Any, *formats: str) -> Any:
    return casting.convert(ctx, s, "date", _formats(formats))


@register(
    "to_timestamp(s, format?: string, ...) -> timestamp",
    "UTC timestamp from ISO-8601 text (zone optional, UTC assumed) or a strptime `format`; with several "
    "formats the first that reads the text wins.",
    literals={1: str},
)
def to_timestamp(ctx: EvalContext, s: Any, *formats: str) -> Any:
    return casting.convert(ctx, s, "timestamp", _formats(formats))


def _formats(formats: tuple[str, ...]) -> str | tuple[str, ...] | None:
    return None if not formats else formats[0] if len(formats) == 1 else formats


# `try_` twins of the conversions: a value that does not convert becomes null instead of
# rejecting the row.


@register("try_to_int(x) -> integer", "Like to_int, but null instead of rejecting the row.")
def try_to_int(ctx: EvalContext, x: Any) -> Any:
    return casting.convert(ctx.quiet(), x, "integer")


@register("try_to_float(x) -> number", "Like to_float, but null instead of rejecting the row.")
def try_to_float(ctx: EvalContext, x: Any) -> Any:
    return casting.convert(ctx.quiet(), x, "float")


@register("try_to_bool(x) -> boolean", "Like to_bool, but null instead of rejecting the row.")
def try_to_bool(ctx: EvalContext, x: Any) -> Any:
    return casting.convert(ctx.quiet(), x, "boolean")


@register(
    "try_to_date(s, format?: string, ...) -> date",
    "Like to_date, but null instead of rejecting the row.",
    literals={1: str},
)
def try_to_date(ctx: EvalContext, s: Any, *formats: str) -> Any:
    return casting.convert(ctx.quiet(), s, "date", _formats(formats))


@register(
    "try_to_timestamp(s, format?: string, ...) -> timestamp",
    "Like to_timestamp, but null instead of rejecting the row.",
    literals={1: str},
)
def try_to_timestamp(ctx: EvalContext, s: Any, *formats: str) -> Any:
    return casting.convert(ctx.quiet(), s, "timestamp", _formats(formats))
