"""Calls of the Segment / Customer.io Data Pipelines HTTP spec: checked, limited, normalised.

A request body becomes a list of events, each a JSON-ready dict as the log keeps it: the call's
own fields, `messageId` (generated when the client sent none), `receivedAt` (set here), and
`timestamp` corrected for the client's clock skew as the spec describes:
`timestamp = receivedAt - (sentAt - originalTimestamp)`, the client's own value kept as
`originalTimestamp`. Any problem raises `BadRequest` with the place (`batch[3].event`) and the
reason; nothing of a request with a bad event is logged (the client sees 400 and fixes it).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

# Limits of the spec: 32 KB per call, 500 KB per batch request.
MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024

CALLS = ("identify", "track", "page", "screen", "group", "alias")
_OBJECT_FIELDS = ("traits", "properties", "context", "integrations")
_TEXT_FIELDS = ("userId", "anonymousId", "event", "name", "groupId", "previousId", "messageId", "category")


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
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest("malformed", f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise BadRequest("malformed", "body is nested too deeply") from None
    if not isinstance(body, dict):
        raise BadRequest("malformed", f"body must be a JSON object, not {type(body).__name__}")
    return body


def events_of(body: dict, path_call: str, received_at: datetime) -> list[dict]:
    """The normalised events of a request body (one for a single call, each item of a batch)."""
    if path_call != "batch":
        return [normalise(body, path_call, received_at, where="body", sent_at=None, defaults={})]
    items = body.get("batch")
    if not isinstance(items, list):
        raise BadRequest("malformed", "batch: required, a list of calls")
    if not items:
        raise BadRequest("malformed", "batch: empty list")
    sent_at = body.get("sentAt")
    defaults = {k: body[k] for k in ("context", "integrations") if isinstance(body.get(k), dict)}
    events = []
    for i, item in enumerate(items):
        where = f"batch[{i}]"
        if not isinstance(item, dict):
            raise BadRequest("malformed", f"{where}: must be an object")
        call = item.get("type")
        if call not in CALLS:
            raise BadRequest("malformed", f"{where}.type: must be one of {', '.join(CALLS)}; got {call!r}")
        size = len(json.dumps(item, separators=(",", ":"), default=str))
        if size > MAX_EVENT_BYTES:
            raise BadRequest("too_large", f"{where}: event is {size} bytes; the limit is {MAX_EVENT_BYTES} bytes")
        events.append(normalise(item, call, received_at, where=where, sent_at=sent_at, defaults=defaults))
    return events


def normalise(item: dict, call: str, received_at: datetime, *, where: str, sent_at: object, defaults: dict) -> dict:
    """One call checked against the spec and completed (messageId, receivedAt, corrected timestamp)."""
    for name in _OBJECT_FIELDS:
        if item.get(name) is not None and not isinstance(item[name], dict):
            raise BadRequest("malformed", f"{where}.{name}: must be an object")
    for name in _TEXT_FIELDS:
        value = item.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, str | int)):
            raise BadRequest("malformed", f"{where}.{name}: must be a string")
    event = {k: v for k, v in item.items() if k not in ("writeKey", "type", "sentAt", "receivedAt")}
    for name in ("userId", "anonymousId", "groupId", "previousId", "messageId"):
        if event.get(name) is not None:
            event[name] = str(event[name])
    user, anonymous = event.get("userId"), event.get("anonymousId")
    if call == "alias":
        if not user or not event.get("previousId"):
            raise BadRequest("malformed", f"{where}: alias needs userId and previousId")
    elif not user and not anonymous:
        raise BadRequest("malformed", f"{where}: userId or anonymousId is required")
    if call == "track" and not (isinstance(event.get("event"), str) and event["event"]):
        raise BadRequest("malformed", f"{where}.event: required for track")
    if call == "group" and not event.get("groupId"):
        raise BadRequest("malformed", f"{where}.groupId: required for group")
    for name, value in defaults.items():
        event[name] = {**value, **(event.get(name) or {})}
    event["type"] = call
    event["messageId"] = event.get("messageId") or f"hw-{uuid.uuid4()}"
    original = _time(item.get("timestamp"), f"{where}.timestamp")
    sent = _time(item.get("sentAt", sent_at), f"{where}.sentAt")
    if original is not None and sent is not None:
        timestamp = received_at - (sent - original)  # the spec's clock-skew correction
    else:
        timestamp = original or received_at
    event["originalTimestamp"] = _iso(original) if original else None
    event["sentAt"] = _iso(sent) if sent else None
    event["receivedAt"] = _iso(received_at)
    event["timestamp"] = _iso(timestamp)
    return event


def _time(value: object, where: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadRequest("malformed", f"{where}: must be an ISO 8601 date-time string")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadRequest("malformed", f"{where}: {value[:40]!r} is not an ISO 8601 date-time") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_now() -> datetime:
    return datetime.now(UTC)

