"""Freshness: how long since a source last loaded data, against how long it is allowed to take.

One rule for the Sources page, `headwater status` and the monitor's `stale` alert: the limit is
`monitor.freshness` when set, else twice the schedule's interval (a cron schedule's interval is the
gap between two of its fire times). Within half the limit a source is `fresh`, up to the limit
`ageing`, beyond it `stale`; `never` when it has not loaded yet, `unknown` when it has no limit
(manual and asset-triggered sources without `monitor.freshness`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

FreshnessState = Literal["fresh", "ageing", "stale", "never", "unknown"]


@dataclass(frozen=True)
class Freshness:
    state: FreshnessState
    age: timedelta | None  # since the last successful load
    limit: timedelta | None

    def describe(self) -> str:
        if self.age is None:
            return "never loaded"
        text = f"{format_age(self.age)} ago"
        return f"{text} (limit {format_age(self.limit)})" if self.limit else text


def schedule_interval(schedule) -> timedelta | None:
    """The expected gap between two runs of a `ScheduleConfig`, or None (manual, on assets, @once)."""
    if schedule.interval:
        return schedule.interval
    if not schedule.cron or schedule.cron == "@once":
        return None
    return _cron_cadence(schedule.cron)


@functools.lru_cache(maxsize=256)
def _cron_cadence(expression: str) -> timedelta:
    # cached: a deployment has a few distinct expressions over many sources
    from croniter import croniter

    # two consecutive gaps from a fixed instant: the smaller is the schedule's cadence ("0 2 * * 1-5"
    # has a 1-day gap on weekdays even though the weekend gap is 3 days)
    it = croniter(expression, datetime(2026, 1, 5, tzinfo=UTC))
    a, b, c = (it.get_next(datetime) for _ in range(3))
    return min(b - a, c - b)


def freshness_limit(config) -> timedelta | None:
    """The limit for a `SourceConfig`: monitor.freshness, else twice the schedule's interval."""
    if config.monitor.freshness:
        return config.monitor.freshness
    interval = schedule_interval(config.schedule)
    return 2 * interval if interval else None


def evaluate(last_success: datetime | None, limit: timedelta | None, now: datetime | None = None) -> Freshness:
    now = now or datetime.now(UTC)
    if last_success is None:
        return Freshness("never", None, limit)
    age = max(now - last_success, timedelta(0))
    if limit is None:
        return Freshness("unknown", age, None)
    if age > limit:
        return Freshness("stale", age, limit)
    return Freshness("ageing" if age > limit / 2 else "fresh", age, limit)


def format_age(value: timedelta | None) -> str:
    if value is None:
        return "-"
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            whole, rest = divmod(seconds, size)
            smaller = {"d": ("h", 3600), "h": ("m", 60), "m": ("s", 1)}[unit]
            part = rest // smaller[1]
            return f"{whole}{unit}{part}{smaller[0]}" if part else f"{whole}{unit}"
    return f"{seconds}s"
