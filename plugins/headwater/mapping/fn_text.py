"""Text functions beyond the basics: split, regex match/replace, padding, format, tests on text."""

from __future__ import annotations

import re
from typing import Any

from headwater.mapping import fastpath
from headwater.mapping.context import EvalContext
from headwater.mapping.functions import _text, register


def _check_pattern(values: tuple) -> str | None:
    pattern = values[1]
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"invalid regular expression {pattern!r} ({exc.msg})"
    if re.search(r"\(\?<?[=!]", pattern):
        return f"look-around is not supported in regular expression {pattern!r}"
    return None


def _check_pad(values: tuple) -> str | None:
    if values[1] < 0:
        return "length must not be negative"
    if len(values) > 2 and len(values[2]) != 1:
        return "fill must be exactly one character"
    return None


def _check_format(values: tuple) -> str | None:
    wanted = values[0].count("{}")
    if wanted != len(values) - 1:
        return (
            f"template {values[0]!r} has {wanted} placeholder(s) {{}} but {len(values) - 1} value(s) follow"
        )
    return None


@register(
    "split(s: string, separator: string) -> array",
    "Array of the parts of the text between separators (plain text, not a pattern).",
    literals={1: str},
    check=lambda v: "separator must not be empty" if v[1] == "" else None,
)
def split(ctx: EvalContext, s: Any, separator: str) -> Any:
    import pyarrow.compute as pc

    return pc.split_pattern(ctx.broadcast(_text(s)), pattern=separator)


@register(
    "regex_match(s: string, pattern: string) -> boolean",
    "true where an RE2 pattern matches somewhere in the text (anchor with ^ and $); null for null.",
    literals={1: str},
    check=_check_pattern,
)
def regex_match(ctx: EvalContext, s: Any, pattern: str) -> Any:
    import pyarrow.compute as pc

    return fastpath.by_distinct(_text(s), lambda text: pc.match_substring_regex(text, pattern=pattern))


@register(
    "regex_replace(s: string, pattern: string, replacement: string) -> string",
    r"Every match of an RE2 pattern replaced; \1 in `replacement` is capture group 1.",
    literals={1: str, 2: str},
    check=_check_pattern,
)
def regex_replace(ctx: EvalContext, s: Any, pattern: str, replacement: str) -> Any:
    import pyarrow.compute as pc

    def kernel(text: Any) -> Any:
        return pc.replace_substring_regex(text, pattern=pattern, replacement=replacement)

    return fastpath.by_distinct(_text(s), kernel)


@register(
    "lpad(s: string, length: integer, fill?: string) -> string",
    "Text padded on the left to `length` characters with `fill` (default a space); longer text is kept.",
    literals={1: int, 2: str},
    check=_check_pad,
)
def lpad(ctx: EvalContext, s: Any, length: int, fill: str = " ") -> Any:
    import pyarrow.compute as pc

    return pc.utf8_lpad(_text(s), width=length, padding=fill)


@register(
    "rpad(s: string, length: integer, fill?: string) -> string",
    "Text padded on the right to `length` characters with `fill` (default a space); longer text is kept.",
    literals={1: int, 2: str},
    check=_check_pad,
)
def rpad(ctx: EvalContext, s: Any, length: int, fill: str = " ") -> Any:
    import pyarrow.compute as pc

    return pc.utf8_rpad(_text(s), width=length, padding=fill)


@register(
    "format(template: string, x, ...) -> string",
    "The template with each {} replaced by the next value as text; a null value prints as ''.",
    literals={0: str},
    check=_check_format,
)
def format_(ctx: EvalContext, template: str, *values: Any) -> Any:
    import pyarrow.compute as pc

    pieces = template.split("{}")
    parts: list[Any] = [pieces[0]]
    for value, piece in zip(values, pieces[1:], strict=True):
        parts += [ctx.broadcast(_text(value)), piece]
    return pc.binary_join_element_wise(*parts, "", null_handling="replace", null_replacement="")


@register("length(s: string) -> integer", "Number of characters of the text.")
def length(ctx: EvalContext, s: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.cast(pc.utf8_length(_text(s)), pa.int64())


@register("initcap(s: string) -> string", "Each word with an upper-case first letter, the rest lower case.")
def initcap(ctx: EvalContext, s: Any) -> Any:
    import pyarrow.compute as pc

    return pc.utf8_title(pc.utf8_lower(_text(s)))


@register(
    "contains(s: string, part: string) -> boolean",
    "true where the text contains `part` (plain text, case-sensitive).",
    literals={1: str},
)
def contains(ctx: EvalContext, s: Any, part: str) -> Any:
    import pyarrow.compute as pc

    return pc.match_substring(_text(s), pattern=part)


@register(
    "starts_with(s: string, prefix: string) -> boolean",
    "true where the text starts with `prefix`.",
    literals={1: str},
)
def starts_with(ctx: EvalContext, s: Any, prefix: str) -> Any:
    import pyarrow.compute as pc

    return pc.starts_with(_text(s), pattern=prefix)


@register(
    "ends_with(s: string, suffix: string) -> boolean",
    "true where the text ends with `suffix`.",
    literals={1: str},
)
def ends_with(ctx: EvalContext, s: Any, suffix: str) -> Any:
    import pyarrow.compute as pc

    return pc.ends_with(_text(s), pattern=suffix)
