"""Built-in functions of the expression language, vectorised on Arrow.

Each implementation is called as `impl(ctx, *args)`: an argument is an Arrow array or scalar, except
those declared in `literals`, which arrive as the Python value written in the expression.
pyarrow is imported inside the functions, which only run in tasks.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from headwater.mapping import casting, fastpath
from headwater.mapping.context import EvalContext, MappingError
from headwater.mapping.registry import FUNCTIONS as FUNCTIONS  # re-exported: importing this module fills it
from headwater.mapping.registry import FunctionSpec as FunctionSpec
from headwater.mapping.registry import register
from headwater.mapping.registry import unary_functions as unary_functions

if TYPE_CHECKING:
    import pyarrow as pa

# --- helpers ---------------------------------------------------------------------------------------


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


def _text(value: Any) -> Any:
    import pyarrow as pa

    return casting.as_text(value).cast(pa.string())


def _is_scalar(value: Any) -> bool:
    import pyarrow as pa

    return isinstance(value, pa.Scalar)


def _unify(ctx: EvalContext, values: list[Any]) -> list[Any]:
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
        return [_text(v) for v in values]
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


def _digest(values: Any, algorithm: Callable[[bytes], Any]) -> Any:
    import pyarrow as pa

    return per_distinct(_text(values), lambda v: algorithm(v).hexdigest(), pa.string(), binary=True)


def _group_field(pattern: str, group: int) -> tuple[str, str]:
    """Arrow extracts named groups only and refuses unnamed ones: name capture group `group`
    (0 = the whole match) and make the other unnamed groups non-capturing."""
    name = "hw_group"
    out: list[str] = []
    field = name
    count, i, n = 0, 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if c == "[":
            j = i + 1
            j += pattern.startswith("^", j)
            j += pattern.startswith("]", j)  # a leading ] is a literal inside a class
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            out.append(pattern[i : j + 1])
            i = j + 1
            continue
        out.append(c)
        if c == "(":
            named = re.match(r"\?P?<([A-Za-z_]\w*)>", pattern[i + 1 :])
            if named or not pattern.startswith("?", i + 1):
                count += 1
                if count == group and named:
                    field = named.group(1)
                elif count == group:
                    out.append(f"?P<{name}>")
                elif not named:
                    out.append("?:")
        i += 1
    rewritten = "".join(out)
    if group == 0:
        return f"(?P<{name}>{rewritten})", name
    if count < group:
        raise MappingError(f"regular expression {pattern!r} has no group {group}")
    return rewritten, field


def _check_regex(values: tuple) -> str | None:
    pattern = values[1]
    group = values[2] if len(values) > 2 else 0
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        return f"invalid regular expression {pattern!r} ({exc.msg})"
    if re.search(r"\(\?<?[=!]", pattern):
        return f"look-around is not supported in regular expression {pattern!r}"
    if not 0 <= group <= compiled.groups:
        return f"group {group} does not exist in {pattern!r} (it has {compiled.groups})"
    return None


def _check_substr(values: tuple) -> str | None:
    if values[1] < 1:
        return "start counts from 1"
    if values[2] < 0:
        return "length must not be negative"
    return None


# --- text ------------------------------------------------------------------------------------------


@register("trim(s: string) -> string", "Text without leading and trailing whitespace.")
def trim(ctx: EvalContext, s: Any) -> Any:
    import pyarrow.compute as pc

    text = _text(s)
    return pc.utf8_trim_whitespace(text) if _is_scalar(text) else fastpath.trim(text)


@register("lower(s: string) -> string", "Text in lower case.")
def lower(ctx: EvalContext, s: Any) -> Any:
    import pyarrow.compute as pc

    text = _text(s)
    return pc.utf8_lower(text) if _is_scalar(text) else fastpath.lower(text)


@register("upper(s: string) -> string", "Text in upper case.")
def upper(ctx: EvalContext, s: Any) -> Any:
    import pyarrow.compute as pc

    text = _text(s)
    return pc.utf8_upper(text) if _is_scalar(text) else fastpath.upper(text)


@register(
    "concat(s, ...) -> string",
    "Texts joined; a null counts as '' unless every argument is null (then null). Same as ||.",
)
def concat(ctx: EvalContext, *parts: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    texts = [_text(p) for p in parts]
    joined = pc.binary_join_element_wise(*texts, "", null_handling="replace", null_replacement="")
    if any(t.is_valid if isinstance(t, pa.Scalar) else t.null_count == 0 for t in texts):
        return joined  # some argument is never null, so no row is all-null
    all_null = pc.is_null(texts[0])
    for t in texts[1:]:
        all_null = pc.and_(all_null, pc.is_null(t))
    return pc.if_else(all_null, pa.scalar(None, pa.string()), joined)


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
    values = _unify(ctx, values)
    return values[0] if len(values) == 1 else pc.coalesce(*values)


@register("sha256(s) -> string", "Hex SHA-256 of the text's UTF-8 bytes.")
def sha256(ctx: EvalContext, s: Any) -> Any:
    return _digest(s, hashlib.sha256)


@register("md5(s) -> string", "Hex MD5 of the text's UTF-8 bytes.")
def md5(ctx: EvalContext, s: Any) -> Any:
    return _digest(s, hashlib.md5)


@register(
    "substr(s: string, start: integer, length: integer) -> string",
    "Part of the text: `length` characters from position `start` (counting from 1).",
    literals={1: int, 2: int},
    check=_check_substr,
)
def substr(ctx: EvalContext, s: Any, start: int, length: int) -> Any:
    import pyarrow.compute as pc

    return pc.utf8_slice_codeunits(_text(s), start=start - 1, stop=start - 1 + length)


@register(
    "replace(s: string, old: string, new: string) -> string",
    "Text with every occurrence of `old` replaced by `new` (plain text, not a pattern).",
    literals={1: str, 2: str},
    check=lambda v: "old must not be empty" if v[1] == "" else None,
)
def replace(ctx: EvalContext, s: Any, old: str, new: str) -> Any:
    import pyarrow.compute as pc

    return pc.replace_substring(_text(s), pattern=old, replacement=new)


@register(
    "regex_extract(s: string, pattern: string, group?: integer) -> string",
    "Capture group `group` (default 0, the whole match) of the first match of an RE2 pattern; null if no match.",
    literals={1: str, 2: int},
    check=_check_regex,
)
def regex_extract(ctx: EvalContext, s: Any, pattern: str, group: int = 0) -> Any:
    import pyarrow.compute as pc

    named, name = _group_field(pattern, group)
    found = pc.extract_regex(ctx.broadcast(_text(s)), pattern=named)
    return pc.struct_field(found, [found.type.get_field_index(name)])


@register(
    "email_domain(s: string) -> string", "Lower-case domain of an email address; null when it is not one."
)
def email_domain(ctx: EvalContext, s: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    text = fastpath.lower(fastpath.trim(ctx.broadcast(_text(s))))
    # Split on '@' rather than a regex: several times faster, and the same answer.
    parts = pc.split_pattern(text, "@")
    ok = pc.equal(pc.list_value_length(parts), 2)  # exactly one '@'
    ok = pc.and_(ok, pc.invert(pc.or_(pc.starts_with(text, "@"), pc.ends_with(text, "@"))))
    if fastpath.has_whitespace(text):
        ok = pc.and_(ok, pc.invert(pc.match_substring_regex(text, r"\s")))
    lengths = pc.cast(pc.fill_null(pc.list_value_length(parts), 0), pa.int64())
    last = pc.subtract(pc.cumulative_sum(lengths), 1)
    domain = pc.take(pc.list_flatten(parts), pc.if_else(ok, last, pa.scalar(None, pa.int64())))
    return domain


# --- conversion ------------------------------------------------------------------------------------


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
# rejecting the row (for trying several readings, e.g. coalesce(try_to_int(a), try_to_int(b))).


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


# --- logic -----------------------------------------------------------------------------------------


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
    a, b = _unify(ctx, [a.where(test), b.where(pc.invert(test))])
    return pc.if_else(test, a, b)


@register("is_null(x) -> boolean", "true where the value is null.")
def is_null(ctx: EvalContext, x: Any) -> Any:
    import pyarrow.compute as pc

    return pc.is_null(x)


@register("now() -> timestamp", "The time the mapping started (UTC), the same for every row of a run.")
def now(ctx: EvalContext) -> Any:
    import pyarrow as pa

    return pa.scalar(ctx.now, pa.timestamp("us", tz="UTC"))


# The rest of the library, one module per family; importing them registers their functions.
from headwater.mapping import fn_data, fn_hash, fn_logic, fn_text, fn_time, lookups  # noqa: E402, F401
