"""Dates and times: parse with a format and a time zone, convert to UTC, format, parts, add, diff,
and the run's date. Timestamps inside expressions are UTC; a zone only says how to read or print.
"""

from __future__ import annotations

import re
from typing import Any

from headwater.mapping import casting
from headwater.mapping.context import EvalContext
from headwater.mapping.kernel import as_string, value_kind
from headwater.mapping.registry import register

PARTS = ("year", "quarter", "month", "week", "day", "day_of_week", "day_of_year", "hour", "minute", "second")
UNITS = ("second", "minute", "hour", "day", "week", "month", "quarter", "year")
_MICROS = {
    "second": 1_000_000,
    "minute": 60_000_000,
    "hour": 3_600_000_000,
    "day": 86_400_000_000,
    "week": 604_800_000_000,
}
_OFFSET = re.compile(r"^[+-](?:[01]\d|2[0-3]):[0-5]\d$")
_ZONED_TEXT = r"(?:Z|[+-]\d{2}(?::?\d{2})?)$"


def zone_problem(zone: str) -> str | None:
    """None if `zone` is an IANA zone name (Europe/Paris) or a fixed offset (+02:00)."""
    if _OFFSET.match(zone):
        return None
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {zone!r} (use an IANA name such as 'Europe/Paris' or an offset such as '+02:00')"
    return None


def _check_zone_at(index: int):
    def check(values: tuple) -> str | None:
        return zone_problem(values[index]) if len(values) > index and values[index] is not None else None

    return check


def _choice(index: int, choices: tuple[str, ...], what: str):
    def check(values: tuple) -> str | None:
        if values[index] not in choices:
            return f"unknown {what} {values[index]!r}; valid: {', '.join(choices)}"
        return None

    return check


def _local(values: Any, zone: str) -> Any:
    """Zone-less local wall times read as times in `zone`, as UTC (DST gaps and overlaps: earliest)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    naive = pc.cast(values, pa.timestamp("us", tz=None)) if values.type.tz else values
    local = pc.assume_timezone(naive, timezone=zone, ambiguous="earliest", nonexistent="earliest")
    return pc.cast(local, pa.timestamp("us", tz="UTC"))


def _timestamp(ctx: EvalContext, value: Any) -> Any:
    return casting.convert(ctx, value, "timestamp")


@register(
    "parse_timestamp(s: string, format: string, zone?: string) -> timestamp",
    "UTC timestamp from text in a strptime `format`, read as local time in `zone` (default UTC) unless "
    "the format has %z. Other values reject the row.",
    literals={1: str, 2: str},
    check=_check_zone_at(2),
)
def parse_timestamp(ctx: EvalContext, s: Any, format: str, zone: str | None = None) -> Any:
    import pyarrow as pa

    text = casting._clean_text(ctx.broadcast(as_string(s)))
    parsed, ok = casting._parse_with_format(text, format)
    parsed = casting._reject(
        ctx, pa.compute.is_valid(text), ok, parsed, ctx.broadcast(s), casting.expected("timestamp", format)
    )
    if parsed.type.tz is None and zone:
        return _local(parsed, zone)
    return casting._utc(parsed)


@register(
    "to_utc(x, zone: string) -> timestamp",
    "A local date-time without a zone (text or timestamp) read as a time in `zone`, in UTC; "
    "text with an explicit zone (Z, +02:00) keeps its own.",
    literals={1: str},
    check=_check_zone_at(1),
)
def to_utc(ctx: EvalContext, x: Any, zone: str) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    x = ctx.broadcast(x)
    kind = value_kind(x.type)
    if kind == "timestamp":
        return casting._utc(x) if x.type.tz else _local(x, zone)
    utc = _timestamp(ctx, x)  # zone-less text is parsed as UTC here, then re-read in `zone`
    if kind != "text":
        return _local(utc, zone)
    zoned = pc.fill_null(pc.match_substring_regex(pc.utf8_trim_whitespace(x), _ZONED_TEXT), False)
    return pc.if_else(zoned, utc, _local(pc.cast(utc, pa.timestamp("us")), zone))


@register(
    "format_date(x: timestamp, format: string, zone?: string) -> string",
    "A date or timestamp as text with a strftime `format`, shown in `zone` (default UTC).",
    literals={1: str, 2: str},
    check=_check_zone_at(2),
)
def format_date(ctx: EvalContext, x: Any, format: str, zone: str | None = None) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    x = ctx.broadcast(x)
    if value_kind(x.type) == "date" and not zone:
        return pc.strftime(pc.cast(x, pa.timestamp("s")), format=format)
    shown = pc.cast(_timestamp(ctx, x), pa.timestamp("us", tz=zone or "UTC"))
    return pc.strftime(shown, format=format)


@register(
    "date_part(part: string, x: timestamp, zone?: string) -> integer",
    "A part of a date or timestamp: " + ", ".join(PARTS) + " (week is the ISO week, day_of_week 1 = Monday).",
    literals={0: str, 2: str},
    check=lambda v: _choice(0, PARTS, "date part")(v) or _check_zone_at(2)(v),
)
def date_part(ctx: EvalContext, part: str, x: Any, zone: str | None = None) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    x = ctx.broadcast(x)
    if value_kind(x.type) != "date" or zone:
        x = pc.cast(_timestamp(ctx, x), pa.timestamp("us", tz=zone or "UTC"))
    if part == "day_of_week":
        values = pc.day_of_week(x, count_from_zero=False, week_start=1)
    elif part == "week":
        values = pc.iso_week(x)
    else:
        values = getattr(pc, part)(x)
    return pc.cast(values, pa.int64())


@register(
    "date_add(x: timestamp, n: integer, unit: string) -> timestamp",
    "A date or timestamp plus `n` units (" + ", ".join(UNITS) + "); n may be negative. Adding months "
    "keeps the day where it exists, else the month's last day (Jan 31 + 1 month = Feb 29 in 2024).",
    literals={2: str},
    check=_choice(2, UNITS, "unit"),
)
def date_add(ctx: EvalContext, x: Any, n: Any, unit: str) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    x = ctx.broadcast(x)
    is_date = value_kind(x.type) == "date"
    if is_date:  # a date beyond year 9999 would overflow microseconds
        stamp = pc.cast(casting.in_range(ctx, pc.cast(x, pa.date32())), pa.timestamp("us"))
    else:
        stamp = pc.cast(_timestamp(ctx, x), pa.timestamp("us"))
    count = _bounded(ctx, casting.convert(ctx, n, "integer"), unit)
    if unit in _MICROS:
        micros = pc.cast(pc.multiply_checked(count, _MICROS[unit]), pa.duration("us"))
        moved = pc.add(stamp, micros)
    else:
        months = pc.multiply_checked(count, {"month": 1, "quarter": 3, "year": 12}[unit])
        moved = _add_months(ctx, stamp, months)
    if is_date and unit not in ("second", "minute", "hour"):
        return pc.cast(moved, pa.date32())
    return pc.cast(moved, pa.timestamp("us", tz="UTC"))


# Moves beyond this many years land outside 0001..9999 from anywhere; bounding them first keeps
# the microsecond arithmetic from overflowing (which would fail the whole batch or wrap round).
_MAX_YEARS = 10_000
_LIMITS = {
    **{unit: _MAX_YEARS * 366 * 86_400_000_000 // micros for unit, micros in _MICROS.items()},
    "month": _MAX_YEARS * 12,
    "quarter": _MAX_YEARS * 4,
    "year": _MAX_YEARS,
}
_OUTSIDE = "gives a date outside the range the lake can read (0001-01-01 to 9999-12-31)"


def _bounded(ctx: EvalContext, count: Any, unit: str) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    from headwater.mapping.context import OUT_OF_RANGE

    count = ctx.broadcast(count)
    beyond = pc.fill_null(pc.greater(pc.abs(count), _LIMITS[unit]), False)
    if not pc.any(beyond).as_py():
        return count
    ctx.fail(beyond, count, f"date_add by more than {_MAX_YEARS:,} years {_OUTSIDE}", OUT_OF_RANGE)
    return pc.if_else(beyond, pa.scalar(None, count.type), count)


def _add_months(ctx: EvalContext, stamp: Any, months: Any) -> Any:
    """Calendar month arithmetic from year/month/day parts (Arrow has no kernel for it)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from headwater.mapping.context import OUT_OF_RANGE

    total = pc.add(pc.add(pc.multiply(pc.year(stamp), 12), pc.subtract(pc.month(stamp), 1)), months)
    year = pc.floor(pc.divide(pc.cast(total, pa.float64()), 12.0))
    month = pc.add(pc.subtract(pc.cast(total, pa.float64()), pc.multiply(year, 12.0)), 1.0)
    year, month = pc.cast(year, pa.int64()), pc.cast(month, pa.int64())
    outside = pc.fill_null(pc.or_(pc.less(year, 1), pc.greater(year, 9999)), False)
    if pc.any(outside).as_py():
        ctx.fail(outside, pc.cast(year, pa.string()), f"date_add {_OUTSIDE}", OUT_OF_RANGE)
        year = pc.if_else(outside, pa.scalar(None, pa.int64()), year)
    first = pc.strptime(
        pc.binary_join_element_wise(
            pc.cast(year, pa.string()),
            pc.utf8_lpad(pc.cast(month, pa.string()), width=2, padding="0"),
            "01",
            "-",
        ),
        format="%Y-%m-%d",
        unit="us",
    )
    # Last day of the target month = first of the next month minus one day.
    next_first = _month_start_after(first)
    last_day = pc.day(pc.subtract(next_first, pa.scalar(86_400_000_000, pa.duration("us"))))
    day = pc.min_element_wise(pc.day(stamp), last_day)
    time_of_day = pc.subtract(stamp, pc.floor_temporal(stamp, unit="day"))
    days = pc.cast(pc.multiply(pc.subtract(day, 1), 86_400_000_000), pa.duration("us"))
    return pc.add(pc.add(first, days), time_of_day)


def _month_start_after(first: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    # 32 days after the 1st is always in the next month; flooring to the month gives its 1st.
    later = pc.add(first, pa.scalar(32 * 86_400_000_000, pa.duration("us")))
    return pc.floor_temporal(later, unit="month")


@register(
    "date_diff(unit: string, a: timestamp, b: timestamp) -> integer",
    "How many unit boundaries lie between a and b (b - a; negative when b is earlier), like SQL "
    "DATEDIFF: date_diff('day', '2024-01-01T23:00Z', '2024-01-02T01:00Z') is 1. Units: "
    + ", ".join(UNITS)
    + ".",
    literals={0: str},
    check=_choice(0, UNITS, "unit"),
)
def date_diff(ctx: EvalContext, unit: str, a: Any, b: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    a, b = (pc.cast(_timestamp(ctx, ctx.broadcast(v)), pa.timestamp("us", tz="UTC")) for v in (a, b))
    if unit == "month":

        def index(v: Any) -> Any:
            return pc.add(pc.multiply(pc.year(v), 12), pc.month(v))

        return pc.cast(pc.subtract(index(b), index(a)), pa.int64())
    kernel = {
        "second": "seconds",
        "minute": "minutes",
        "hour": "hours",
        "day": "days",
        "week": "weeks",
        "quarter": "quarters",
        "year": "years",
    }[unit]
    if unit == "week":
        return pc.cast(pc.weeks_between(a, b, count_from_zero=False, week_start=1), pa.int64())
    return pc.cast(getattr(pc, f"{kernel}_between")(a, b), pa.int64())


@register(
    "run_date() -> date",
    "The date of the run (its logical date, else the day it started), the same for every row.",
)
def run_date(ctx: EvalContext) -> Any:
    import pyarrow as pa

    return pa.scalar(ctx.run_date, pa.date32())


@register("today() -> date", "The UTC date the mapping of this batch started.")
def today(ctx: EvalContext) -> Any:
    import pyarrow as pa

    return pa.scalar(ctx.now.date(), pa.date32())


@register("now() -> timestamp", "The time the mapping started (UTC), the same for every row of a run.")
def now(ctx: EvalContext) -> Any:
    import pyarrow as pa

    return pa.scalar(ctx.now, pa.timestamp("us", tz="UTC"))
