"""What `headwater status`, the Sources page and the trigger know about a streaming source.

Its backlog (events logged after the committed position, the age of the oldest: the lag) and
its accepted/rejected counts per minute, as the inlets wrote them to the store.
"""

from __future__ import annotations

from dataclasses import dataclass

from headwater.inlet.log import Backlog


def backlog(source: str, stream: str) -> Backlog:
    """Events of `stream` that `source` has not committed yet."""
    from headwater.inlet.log import open_log
    from headwater.store import db, state

    committed = state.get_state(db.get_engine(), source) or {}
    log = open_log()
    try:
        position = committed.get("position") if committed.get("log") == log.name else None
        return log.backlog(stream, source, position)
    finally:
        log.close()


@dataclass(frozen=True)
class StreamStatus:
    accepted_per_minute: int  # the last complete minute
    rejected_per_minute: int
    backlog: Backlog | None
    error: str | None = None

    def describe(self) -> str:
        parts = [f"{self.accepted_per_minute} accepted / {self.rejected_per_minute} rejected per min"]
        if self.backlog is not None:
            lag = self.backlog.lag_seconds()
            parts.append(f"backlog {self.backlog.events}" + (f", lag {lag:.0f}s" if lag is not None else ""))
        if self.error:
            parts.append(f"log: {self.error}")
        return "; ".join(parts)


def stream_status(source: str, stream: str) -> StreamStatus:
    from datetime import UTC, datetime, timedelta

    from headwater.inlet.keys import recent_counts
    from headwater.store import db

    last_minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    counts = {m: (a, r) for m, a, r in recent_counts(db.get_engine(), stream, minutes=2)}  # counted per stream
    accepted, rejected = counts.get(last_minute, (0, 0))
    try:
        pending, error = backlog(source, stream), None
    except Exception as exc:  # e.g. Redis down: the status still prints
        pending, error = None, f"{type(exc).__name__}: {exc}"
    return StreamStatus(accepted, rejected, pending, error)
