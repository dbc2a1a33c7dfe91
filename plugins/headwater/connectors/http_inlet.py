"""Select of a streaming source (`connector.type: http_inlet`): the events logged since the last run.

The state is `{"log": backend, "position": {...}, "seen": {messageId: receivedAt epoch}}`. A run
reads at most `max_events_per_run` events after the committed position, drops the calls the
source does not take and every messageId already seen within `dedup_window_seconds` (clients
resend what they got no answer for), and stages the rest as rows with one text column per spec
field. Load commits the new state after the lake and the profile store; the next run's read then
`release`s the committed position (Redis: XACK), so nothing is acknowledged before it is loaded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from headwater.connectors.base import Chunk, SourceReader

if TYPE_CHECKING:
    from headwater.connectors.models import HttpInletConnector

# The columns every event becomes (text; objects as JSON text), in this order.
COLUMNS = (
    "type",
    "messageId",
    "userId",
    "anonymousId",
    "event",
    "name",
    "category",
    "groupId",
    "previousId",
    "timestamp",
    "originalTimestamp",
    "sentAt",
    "receivedAt",
    "traits",
    "properties",
    "context",
)
_OBJECTS = {"traits", "properties", "context"}
# The seen-ids part of the state stays bounded whatever the window.
MAX_SEEN_IDS = 200_000


class HttpInletHook(SourceReader):
    """Reads a stream of the inlet's event log (see the module docstring)."""

    def __init__(self, config: HttpInletConnector, source_name: str | None = None, **_: object) -> None:
        self.config = config
        self.source_name = source_name
        self.notes: list[str] = []
        self._next: dict | None = None
        self._read = 0

    def _names(self) -> tuple[str, str]:
        if not self.source_name:
            raise ValueError("an http_inlet hook needs the source name (its consumer name in the log)")
        return self.config.stream_name(self.source_name), self.source_name

    def check(self) -> str:
        from headwater import settings
        from headwater.inlet.status import backlog

        stream, consumer = self._names()
        pending = backlog(consumer, stream)  # from the committed position
        lag = pending.lag_seconds()
        return (
            f"inlet stream {stream!r} ({settings.inlet_log_backend()} log): {pending.events} event(s) waiting"
            + (f", the oldest {lag:.0f}s old" if lag is not None else "")
        )

    def read(self, state: dict | None) -> Iterator[Chunk]:
        import pyarrow as pa

        from headwater.inlet.log import open_log

        stream, consumer = self._names()
        log = open_log()
        state = dict(state or {})
        if state.get("log") not in (None, log.name):
            self.notes.append(f"the state was written by the {state['log']} log, now {log.name}: reading from the start")
            state = {}
        position = state.get("position")
        try:
            log.release(stream, consumer, position)  # the committed position: its load is done
            result = log.read(stream, consumer, position, self.config.max_events_per_run)
        finally:
            log.close()
        self.notes.extend(result.notes)
        now = datetime.now(UTC).timestamp()
        horizon = now - self.config.dedup_window_seconds
        seen = {k: v for k, v in (state.get("seen") or {}).items() if v >= horizon}
        calls = set(self.config.calls)
        rows: list[dict] = []
        duplicates = passed = 0
        for event in result.events:
            message_id = event.get("messageId")
            if message_id in seen:
                duplicates += 1
                continue
            seen[message_id] = _epoch(event.get("receivedAt")) or now
            if event.get("type") not in calls:
                passed += 1
                continue
            rows.append(event)
        if len(seen) > MAX_SEEN_IDS:
            seen = dict(sorted(seen.items(), key=lambda kv: kv[1])[-MAX_SEEN_IDS:])
        if duplicates:
            self.notes.append(f"{duplicates} duplicate event(s) (messageId seen within the window) dropped")
        if passed:
            self.notes.append(f"{passed} event(s) of calls this source does not take passed over")
        self._read = len(result.events)
        self._next = {"log": log.name, "position": result.position, "seen": seen}
        table = pa.table({c: pa.array([_text(e.get(c), c in _OBJECTS) for e in rows], pa.string()) for c in COLUMNS})
        yield Chunk(table)

    def next_state(self) -> dict | None:
        return self._next

    def watermark_description(self) -> str | None:
        if self._next is None:
            return None
        return f"{self._read} event(s) read from the {self._next['log']} log"


def _text(value: object, as_json: bool) -> str | None:
    if value is None:
        return None
    if as_json or isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _epoch(text: object) -> float | None:
    try:
        return datetime.fromisoformat(str(text)).timestamp()
    except ValueError:
        return None
