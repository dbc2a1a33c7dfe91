"""The durable event log between the inlet and the micro-batches: one small interface, two backends.

Writer side (the inlet): `append(stream, events)` returns only once the events are durable, and
raises `LogFull` when the stream holds more than it may. Reader side (select of a streaming
source): `read(stream, consumer, position, limit)` returns the events after a committed
`position` and the position they lead to; `release(stream, consumer, position)` runs after that
position is committed (lake and profile store first, see operators/load.py) and lets the backend
drop or acknowledge what is now safe; `backlog` is what `headwater status` and the trigger show.

A position is a small JSON object owned by the backend (segment offsets, a stream entry id); it
travels in the source's state, so a run that crashed reads again from the same position.
Another backend (e.g. Kafka: a topic per stream, the position the committed offsets of a
consumer group) plugs in by implementing `EventLog` and adding it to `open_log`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime


class LogFull(Exception):
    """The stream holds as much as it may; the inlet answers 413 with Retry-After."""

    retry_after = 30


@dataclass(frozen=True)
class Backlog:
    """Events logged and not yet committed by a consumer; `oldest` is when the oldest was received."""

    events: int
    oldest: datetime | None

    def lag_seconds(self, now: datetime | None = None) -> float | None:
        if self.oldest is None:
            return None
        return max(0.0, ((now or datetime.now(UTC)) - self.oldest).total_seconds())


@dataclass
class ReadResult:
    events: list[dict]
    position: dict
    notes: list[str]


class EventLog:
    """What every backend implements (see the module docstring)."""

    name = "?"

    def append(self, stream: str, events: list[dict] | list[bytes]) -> None:
        """Log `events` (dicts, or their JSON bytes); return only once they are durable."""
        raise NotImplementedError

    def read(self, stream: str, consumer: str, position: dict | None, limit: int) -> ReadResult:
        raise NotImplementedError

    def release(self, stream: str, consumer: str, position: dict | None) -> None:
        raise NotImplementedError

    def backlog(self, stream: str, consumer: str, position: dict | None) -> Backlog:
        raise NotImplementedError

    def close(self) -> None:
        pass


def encode(event: dict | bytes) -> bytes:
    """An event as the log keeps it: JSON bytes (the inlet passes them already encoded)."""
    if isinstance(event, bytes):
        return event
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


def received(event: dict) -> datetime | None:
    try:
        return datetime.fromisoformat(event["receivedAt"])
    except (KeyError, TypeError, ValueError):
        return None


def open_log(backend: str | None = None) -> EventLog:
    """The configured log (`HEADWATER_INLET_LOG`: segments or redis)."""
    from headwater import settings

    backend = backend or settings.inlet_log_backend()
    if backend == "redis":
        from headwater.inlet.redis_log import RedisLog

        return RedisLog(settings.inlet_redis_url())
    from headwater.inlet.segment_log import SegmentLog

    return SegmentLog(settings.inlet_log_dir())
