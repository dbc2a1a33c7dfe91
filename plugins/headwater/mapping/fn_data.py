"""Numbers, arrays, JSON, URLs and phone numbers.

JSON, URL and phone parsing have no Arrow kernel: they run once per distinct value (`per_distinct`).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from headwater.mapping import casting
from headwater.mapping.context import EvalContext, MappingError
from headwater.mapping.kernel import as_string, per_distinct, value_kind
from headwater.mapping.registry import register

URL_PARTS = ("scheme", "host", "port", "path", "query", "fragment", "user")
_JSON_PATH = re.compile(r"^\$?((?:\.[^.\[\]]+|\[\d+\])*)$")
_JSON_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")


# --- numbers ---------------------------------------------------------------------------------------


def _number(ctx: EvalContext, x: Any) -> Any:
    kind = value_kind(x.type)
    return (
        x
        if kind in ("integer", "float") and not str(x.type).startswith("decimal")
        else casting.convert(ctx, x, "float")
    )


@register(
    "round(x: number, digits?: integer) -> number",
    "x rounded to `digits` decimals (default 0; negative rounds to tens, hundreds...), halves away from zero.",
    literals={1: int},
)
def round_(ctx: EvalContext, x: Any, digits: int = 0) -> Any:
    import pyarrow.compute as pc

    return pc.round(_number(ctx, x), ndigits=digits, round_mode="half_towards_infinity")


@register("abs(x: number) -> number", "Absolute value.")
def abs_(ctx: EvalContext, x: Any) -> Any:
    import pyarrow.compute as pc

    return pc.abs_checked(_number(ctx, x))


@register("floor(x: number) -> integer", "Largest integer not above x.")
def floor(ctx: EvalContext, x: Any) -> Any:
    import pyarrow.compute as pc

    return casting.convert(ctx, pc.floor(_number(ctx, x)), "integer")


@register("ceil(x: number) -> integer", "Smallest integer not below x.")
def ceil(ctx: EvalContext, x: Any) -> Any:
    import pyarrow.compute as pc

    return casting.convert(ctx, pc.ceil(_number(ctx, x)), "integer")


def _check_separators(values: tuple) -> str | None:
    decimal = values[1] if len(values) > 1 else "."
    group = values[2] if len(values) > 2 else ""
    if len(decimal) != 1:
        return "decimal must be one character"
    if len(group) > 1 or group == decimal:
        return "group must be one character, different from decimal"
    return None


@register(
    "parse_number(s: string, decimal?: string, group?: string) -> number",
    "Number from text with the given decimal mark (default '.') and digit group mark (default none): "
    "parse_number(s, ',', '.') reads '1.234,5'. No locale is consulted. Other values reject the row.",
    literals={1: str, 2: str},
    check=_check_separators,
)
def parse_number(ctx: EvalContext, s: Any, decimal: str = ".", group: str = "") -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    raw = ctx.broadcast(s)
    text = casting._clean_text(raw)
    if group:
        # A group mark only between digits: '1.234.567' yes, '.5' or '1..2' no.
        shaped = pc.match_substring_regex(
            text, rf"^[+-]?\d{{1,3}}(?:{re.escape(group)}\d{{3}})*(?:{re.escape(decimal)}\d*)?$"
        )
        text = pc.if_else(pc.fill_null(shaped, False), pc.replace_substring(text, group, ""), text)
    if decimal != ".":
        if "." != group:
            text = pc.if_else(pc.fill_null(pc.match_substring(text, "."), False), pa.scalar("x"), text)
        text = pc.replace_substring(text, decimal, ".")
    good = pc.fill_null(pc.match_substring_regex(text, casting._FLOAT_TEXT), False)
    number = pc.cast(pc.if_else(good, text, pa.scalar(None, pa.string())), pa.float64())
    return casting._reject(
        ctx, pc.is_valid(text), pc.is_finite(number), number, raw, casting.expected("float")
    )


# --- arrays ----------------------------------------------------------------------------------------


def _list(ctx: EvalContext, a: Any, function: str) -> Any:
    import pyarrow as pa

    a = ctx.broadcast(a)
    if pa.types.is_large_list(a.type) or pa.types.is_fixed_size_list(a.type):
        a = a.cast(pa.list_(a.type.value_type))
    if not pa.types.is_list(a.type):
        raise MappingError(f"{function} needs an array, got {a.type}")
    return a


def _pick(ctx: EvalContext, a: Any, last: bool, function: str) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    a = _list(ctx, a, function)
    lengths = pc.fill_null(pc.list_value_length(a), 0)
    ends = pc.subtract(pc.cumulative_sum(pc.cast(lengths, pa.int64())), 1)
    index = ends if last else pc.add(pc.subtract(ends, pc.cast(lengths, pa.int64())), 1)
    index = pc.if_else(pc.greater(lengths, 0), index, pa.scalar(None, pa.int64()))
    return pc.take(pc.list_flatten(a), index)


@register("first(a: array) -> any", "First element of an array; null when it is empty.")
def first(ctx: EvalContext, a: Any) -> Any:
    return _pick(ctx, a, False, "first")


@register("last(a: array) -> any", "Last element of an array; null when it is empty.")
def last(ctx: EvalContext, a: Any) -> Any:
    return _pick(ctx, a, True, "last")


@register("size(a: array) -> integer", "Number of elements of an array.")
def size(ctx: EvalContext, a: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.cast(pc.list_value_length(_list(ctx, a, "size")), pa.int64())


@register(
    "join(a: array, separator: string) -> string",
    "The elements of an array as text, joined with `separator` (null elements are skipped).",
    literals={1: str},
)
def join(ctx: EvalContext, a: Any, separator: str) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    a = _list(ctx, a, "join")
    if a.type.value_type != pa.string():
        a = a.cast(pa.list_(pa.string()))
    # binary_join gives null for a list holding a null: rebuild the lists without null elements.
    flat = pc.list_flatten(a)
    keep = pc.is_valid(flat)
    if not pc.all(keep).as_py():
        ends = pc.cumulative_sum(pc.cast(pc.fill_null(pc.list_value_length(a), 0), pa.int64()))
        kept_before = pa.concat_arrays(
            [pa.array([0], pa.int64()), pc.cumulative_sum(pc.cast(keep, pa.int64()))]
        )
        offsets = pc.take(kept_before, pa.concat_arrays([pa.array([0], pa.int64()), ends]))
        a = pa.ListArray.from_arrays(pc.cast(offsets, pa.int32()), pc.filter(flat, keep), mask=pc.is_null(a))
    return pc.binary_join(a, separator)


# --- JSON ------------------------------------------------------------------------------------------


def _check_json_path(values: tuple) -> str | None:
    if len(values) > 1 and not _JSON_PATH.match(values[1]):
        return f"bad JSON path {values[1]!r} (expected e.g. '$.address.city' or '$.tags[0]')"
    return None


def _steps(path: str) -> list[str | int]:
    return [name if name else int(index) for name, index in _JSON_STEP.findall(path)]


def _walk(document: Any, steps: list[str | int]) -> Any:
    for step in steps:
        if isinstance(step, int) and isinstance(document, list) and step < len(document):
            document = document[step]
        elif isinstance(step, str) and isinstance(document, dict) and step in document:
            document = document[step]
        else:
            return None
    return document


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return (
        json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        if isinstance(value, dict | list)
        else str(value)
    )


def _json_values(ctx: EvalContext, s: Any, convert: Any, out_type: Any) -> Any:
    """Parse each distinct text once; text that is not JSON rejects the row (CAST_FAILED)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = ctx.broadcast(as_string(s))
    bad: set[str] = set()

    def parse(value: str) -> Any:
        try:
            return convert(json.loads(value))
        except ValueError:
            bad.add(value)
            return None

    out = per_distinct(text, parse, out_type)
    if bad:
        ctx.fail(pc.is_in(text, value_set=pa.array(sorted(bad), pa.string())), text, "not valid JSON")
    return out


@register(
    "json_extract(s: string, path: string) -> string",
    "The value at `path` ('$.a.b', '$.items[0].sku') in JSON text, as text (objects and arrays as JSON); "
    "null when absent. Text that is not JSON rejects the row.",
    literals={1: str},
    check=_check_json_path,
)
def json_extract(ctx: EvalContext, s: Any, path: str) -> Any:
    import pyarrow as pa

    steps = _steps(path)
    return _json_values(ctx, s, lambda doc: _as_text(_walk(doc, steps)), pa.string())


@register(
    "json_array(s: string, path?: string) -> array",
    "The array at `path` (default the whole document) in JSON text, elements as text; null when it is "
    "not an array. Text that is not JSON rejects the row.",
    literals={1: str},
    check=_check_json_path,
)
def json_array(ctx: EvalContext, s: Any, path: str = "$") -> Any:
    import pyarrow as pa

    steps = _steps(path)

    def pick(doc: Any) -> list | None:
        found = _walk(doc, steps)
        return [_as_text(v) for v in found] if isinstance(found, list) else None

    return _json_values(ctx, s, pick, pa.list_(pa.string()))


# --- URLs, e-mail, phone numbers -------------------------------------------------------------------


def _url_part(value: str, part: str) -> str | None:
    try:
        url = urlsplit(value.strip())
        if part == "host":
            return url.hostname or None
        if part == "port":
            return str(url.port) if url.port is not None else None
        if part == "user":
            return url.username or None
        if part == "scheme":
            return url.scheme.lower() or None
        return getattr(url, part) or None
    except ValueError:
        return None


@register(
    "url_part(s: string, part: string) -> string",
    "A part of a URL: " + ", ".join(URL_PARTS) + " (host in lower case); null when absent.",
    literals={1: str},
    check=lambda v: (
        None if v[1] in URL_PARTS else f"unknown URL part {v[1]!r}; valid: {', '.join(URL_PARTS)}"
    ),
)
def url_part(ctx: EvalContext, s: Any, part: str) -> Any:
    import pyarrow as pa

    return per_distinct(as_string(s), lambda v: _url_part(v, part), pa.string())


@register(
    "url_param(s: string, name: string) -> string",
    "First value of query parameter `name` of a URL (decoded), e.g. url_param(landing, 'utm_source').",
    literals={1: str},
)
def url_param(ctx: EvalContext, s: Any, name: str) -> Any:
    import pyarrow as pa

    def param(value: str) -> str | None:
        try:
            found = parse_qs(urlsplit(value.strip()).query).get(name)
        except ValueError:
            return None
        return found[0] if found else None

    return per_distinct(as_string(s), param, pa.string())


def _check_region(values: tuple) -> str | None:
    if len(values) > 1 and not re.fullmatch(r"[A-Z]{2}", values[1]):
        return f"region {values[1]!r} must be a two-letter upper-case country code such as 'US' or 'FR'"
    return None


@register(
    "phone_e164(s: string, region?: string) -> string",
    "Phone number in E.164 (+14155550123); numbers without a country code are read as numbers of "
    "`region` (e.g. 'US'); null when the text is not a valid number.",
    literals={1: str},
    check=_check_region,
)
def phone_e164(ctx: EvalContext, s: Any, region: str | None = None) -> Any:
    import phonenumbers
    import pyarrow as pa

    if region and region not in phonenumbers.SUPPORTED_REGIONS:
        raise MappingError(f"phone_e164: unknown region {region!r}")
    e164 = phonenumbers.PhoneNumberFormat.E164

    def normalise(value: str) -> str | None:
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            return None
        return phonenumbers.format_number(number, e164) if phonenumbers.is_valid_number(number) else None

    return per_distinct(
        as_string(s), normalise, pa.string(), memo=ctx.cache.setdefault(("phone_e164", region), {})
    )
