"""Calls of the Segment / Customer.io Data Pipelines HTTP spec: checked, limited, normalised.

A request body becomes a list of events, each a JSON-ready dict as the log keeps it: the call's
own fields, `messageId` (generated when the client sent none), `receivedAt` (set here), and
`timestamp` corrected for the client's clock skew as the spec describes:
`timestamp = receivedAt - (sentAt - originalTimestamp)`, the client's own value kept as
`originalTimestamp`. Any problem raises `BadRequest` with the place (`batch[3].event`) and the
reason; nothing of a request with a bad event is logged (the client sees 400 and fixes it).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec

# Limits of the spec: 32 KB per call, 500 KB per batch request.
MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
# Room for the fields the inlet adds to a call before it is logged (see `encoded`).
ADDED_BYTES = 256

CALLS = ("identify", "track", "page", "screen", "group", "alias")
_OBJECT_FIELDS = ("traits", "properties", "context", "integrations")
_TEXT_FIELDS = ("userId", "anonymousId", "event", "name", "groupId", "previousId", "messageId", "category")
_KINDS = {**{name: dict for name in _OBJECT_FIELDS}, **{name: str for name in _TEXT_FIELDS}}
_DROPPED = frozenset(("writeKey", "type", "sentAt", "receivedAt"))


class BadRequest(ValueError):
    """A body the spec does not allow; `code` is the rejection reason counted in the metrics."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse_body(raw: bytes, path_call: str) -> dict:
    """The JSON object of a request to `/v1/<path_call>`; BadRequest when it is not one."""
    limit = MAX_BATCH_BYTES if path_call == "batch" else MAX_EVENT_BYTES
    if len(raw) > limit:
        raise BadRequest("too_large", f"body is {len(raw)} bytes; the limit of /v1/{path_call} is {limit} bytes")
    try:
        body = msgspec.json.decode(raw)  # ~5x json.loads; bounded nesting depth, no recursion error
    except msgspec.DecodeError as exc:
        raise BadRequest("malformed", f"body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("malformed", f"body must be a JSON object, not {type(body).__name__}")
    return body


def events_of(body: dict, path_call: str, received_at: datetime) -> list[dict]:
    """The normalised events of a request body (one for a single call, each item of a batch)."""
    clock = _Clock(received_at)
    if path_call != "batch":
        return [normalise(body, path_call, clock, where=None, sent_at=None, defaults={})]
    items = body.get("batch")
    if not isinstance(items, list):
        raise BadRequest("malformed", "batch: required, a list of calls")
    if not items:
        raise BadRequest("malformed", "batch: empty list")
    sent_at = body.get("sentAt")
    defaults = {k: body[k] for k in ("context", "integrations") if isinstance(body.get(k), dict)}
    events = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise BadRequest("malformed", f"batch[{i}]: must be an object")
        call = item.get("type")
        if call not in CALLS:
            raise BadRequest("malformed", f"batch[{i}].type: must be one of {', '.join(CALLS)}; got {call!r}")
        events.append(normalise(item, call, clock, where=i, sent_at=sent_at, defaults=defaults))
    return events


def encoded(events: list[dict], path_call: str) -> list[bytes]:
    """The events as the log keeps them (JSON bytes); BadRequest for one over the 32 KB of a call.

    Measured on what is logged: the call as sent plus the few fields the inlet adds (messageId,
    receivedAt, timestamp, originalTimestamp, sentAt: at most ADDED_BYTES), so one serialisation
    serves both the check and the log.
    """
    records = [msgspec.json.encode(e) for e in events]
    for i, record in enumerate(records):
        if len(record) > MAX_EVENT_BYTES + ADDED_BYTES:
            where = f"batch[{i}]" if path_call == "batch" else "body"
            raise BadRequest("too_large", f"{where}: event is {len(record)} bytes; the limit is {MAX_EVENT_BYTES} bytes")
    return records


class _Clock:
    """The request's receipt time, and the date-times of its calls parsed once each (a batch
    usually repeats one sentAt)."""

    def __init__(self, received_at: datetime) -> None:
        self.received = received_at
        self.received_iso = _iso(received_at)
        self.parsed: dict[str, datetime] = {}
        self.formatted: dict[datetime, str] = {}

    def iso(self, value: datetime) -> str:
        text = self.formatted.get(value)
        if text is None:
            text = self.formatted[value] = _iso(value)
        return text

    def time(self, value: object, where: int | None, name: str) -> datetime | None:
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise BadRequest("malformed", f"{_place(where)}.{name}: must be an ISO 8601 date-time string")
        parsed = self.parsed.get(value)
        if parsed is None:
            try:
                parsed = datetime.fromisoformat(value.strip())
            except ValueError:
                raise BadRequest("malformed", f"{_place(where)}.{name}: {value[:40]!r} is not an ISO 8601 date-time") from None
            parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
            self.parsed[value] = parsed
        return parsed


def _place(where: int | None) -> str:
    return "body" if where is None else f"batch[{where}]"


def normalise(item: dict, call: str, clock: _Clock, *, where: int | None, sent_at: object, defaults: dict) -> dict:
    """One call checked against the spec and completed (messageId, receivedAt, corrected timestamp).

    `where`: the call's index in a batch (None: the body is the call), for the messages."""
    event = {}
    for name, value in item.items():  # one pass: the checks of the known fields, the rest as sent
        if name in _DROPPED:
            continue
        kind = _KINDS.get(name)
        if kind is not None and value is not None and type(value) is not kind:
            if kind is dict:
                raise BadRequest("malformed", f"{_place(where)}.{name}: must be an object")
            if isinstance(value, bool) or not isinstance(value, int):
                raise BadRequest("malformed", f"{_place(where)}.{name}: must be a string")
            value = str(value)  # numeric ids are taken, as text
        event[name] = value
    user, anonymous = event.get("userId"), event.get("anonymousId")
    if call == "alias":
        if not user or not event.get("previousId"):
            raise BadRequest("malformed", f"{_place(where)}: alias needs userId and previousId")
    elif not user and not anonymous:
        raise BadRequest("malformed", f"{_place(where)}: userId or anonymousId is required")
    if call == "track" and not (isinstance(event.get("event"), str) and event["event"]):
        raise BadRequest("malformed", f"{_place(where)}.event: required for track")
    if call == "group" and not event.get("groupId"):
        raise BadRequest("malformed", f"{_place(where)}.groupId: required for group")
    for name, value in defaults.items():
        event[name] = {**value, **(event.get(name) or {})}
    event["type"] = call
    event["messageId"] = event.get("messageId") or f"hw-{uuid.uuid4()}"
    original_text = item.get("timestamp")
    sent_text = item.get("sentAt", sent_at)
    original = clock.time(original_text, where, "timestamp")
    sent = clock.time(sent_text, where, "sentAt")
    if original is not None and sent is not None:
        timestamp = clock.iso(clock.received - (sent - original))  # the spec's clock-skew correction
    else:
        timestamp = clock.iso(original) if original else clock.received_iso
    # as the client sent them (checked above); `timestamp` is the corrected one
    event["originalTimestamp"] = original_text if original else None
    event["sentAt"] = sent_text if sent else None
    event["receivedAt"] = clock.received_iso
    event["timestamp"] = timestamp
    return event


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_now() -> datetime:
    return datetime.now(UTC)

