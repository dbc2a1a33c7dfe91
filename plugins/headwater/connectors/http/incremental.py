"""Incremental reads of an API: the watermark sent in the request, and the records kept after it.

The rules are those of the SQL sources (docs/architecture.md, "Incremental state"): the API is
asked for records at or after the watermark, records AT the watermark whose key was already
loaded (`keys_at_cursor`) are dropped, and the next watermark is the largest cursor value read with
the keys at it. Unlike a SQL `ORDER BY`, an API gives no order, so every record is checked.

Cursor values are compared as values, not text: ISO 8601 timestamps as instants (naive ones as
UTC; `2024-01-03T10:00:00Z` equals `2024-01-03T12:00:00+02:00`), numbers as numbers. Records
before the watermark are dropped (an API that ignores the filter still loads nothing twice),
except within `lookback_seconds`, which are read again on purpose (changes that arrive late).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True)
class CursorSpec:
    """What an incremental read needs, whichever connector type it comes from."""

    field: str
    request_param: str | None = None
    template: str = "{value}"
    join_with: str = " and "
    datetime_format: str | None = None
    initial_value: str | int | float | None = None
    lookback_seconds: float = 0


def parse_instant(text: str) -> datetime | None:
    """An ISO 8601 timestamp (or date) as an aware datetime, or None if `text` is not one."""
    if len(text) < 10 or not text[:4].isdigit() or text[4] != "-":
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def typed(value: object) -> tuple[str, object] | None:
    """(kind, comparable value) of a cursor value; None for null or a value that cannot be ordered."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return ("int" if isinstance(value, int) else "float", value)
    if isinstance(value, str):
        instant = parse_instant(value)
        if instant is not None:
            return ("timestamptz", instant)
        return ("string", value)
    return None


def _comparable(a: tuple[str, object], b: tuple[str, object]) -> bool:
    numbers = {"int", "float"}
    return a[0] == b[0] or (a[0] in numbers and b[0] in numbers)


class CursorFilter:
    """Keeps the records of an incremental read and finds the next state.

    :param spec: the cursor field and how it is sent.
    :param key_fields: fields that identify a record (empty: the whole record is its key).
    :param state: the committed state, or None.
    """

    def __init__(self, spec: CursorSpec, key_fields: list[str], state: dict | None) -> None:
        self.spec = spec
        self.key_fields = key_fields
        self.notes: list[str] = []
        cursor = (state or {}).get("cursor") or {}
        if state and cursor.get("column") != spec.field:
            self.notes.append(
                f"stored state is not for cursor field '{spec.field}'; reading from the initial value"
            )
            state, cursor = None, {}
        self.previous = state
        self.raw_watermark = cursor.get("value") if cursor else None
        self.watermark = typed(self.raw_watermark)
        self.seen = {json.dumps(k) for k in (state or {}).get("keys_at_cursor", [])}
        start = self.raw_watermark if self.raw_watermark is not None else spec.initial_value
        self.start = typed(start)
        self.raw_start = start
        self.max: tuple[str, object] | None = None
        self.max_raw: object = None
        self.max_keys: dict[str, None] = {}
        self.unordered = 0

    # -- the request ---------------------------------------------------------------------------
    def request_value(self) -> str | None:
        """The watermark (or initial value) less the lookback, as the API is sent it."""
        if self.start is None:
            return None
        kind, value = self.start
        lookback = self.spec.lookback_seconds
        if kind == "timestamptz":
            if lookback:
                value = value - timedelta(seconds=lookback)
            elif not self.spec.datetime_format:
                return str(self.raw_start)  # exactly as the API wrote it
            if self.spec.datetime_format:
                return value.strftime(self.spec.datetime_format)
            return value.isoformat().replace("+00:00", "Z")
        if kind in ("int", "float") and lookback:
            return str(value - lookback)
        return str(self.raw_start)

    def apply(self, params: dict) -> dict:
        """`params` with the watermark filter added (joined to a filter already there)."""
        name = self.spec.request_param
        value = self.request_value()
        if not name or value is None:
            return dict(params)
        text = self.spec.template.replace("{value}", value)
        if params.get(name) not in (None, ""):
            text = f"{params[name]}{self.spec.join_with}{text}"
        return {**params, name: text}

    # -- the records ---------------------------------------------------------------------------
    def key(self, record: dict) -> str:
        if self.key_fields:
            return json.dumps([record.get(k) for k in self.key_fields], default=str)
        return json.dumps(record, sort_keys=True, default=str)

    def keep(self, record: dict) -> bool:
        """Whether to load `record`; also moves the next watermark."""
        value = typed(record.get(self.spec.field))
        if value is not None and (self.watermark is None or _comparable(value, self.watermark)):
            self._observe(value, record)
        elif value is not None:
            self.unordered += 1
        if value is None or self.watermark is None or not _comparable(value, self.watermark):
            return True
        if value[1] > self.watermark[1]:
            return True
        if value[1] == self.watermark[1]:
            return self.key(record) not in self.seen
        lookback = self.spec.lookback_seconds
        if not lookback:
            return False
        if value[0] == "timestamptz":
            return value[1] >= self.watermark[1] - timedelta(seconds=lookback)
        return value[1] >= self.watermark[1] - lookback

    def _observe(self, value: tuple[str, object], record: dict) -> None:
        if self.max is not None and not _comparable(value, self.max):
            self.unordered += 1
            return
        if self.max is None or value[1] > self.max[1]:
            self.max, self.max_raw, self.max_keys = value, record.get(self.spec.field), {}
        if value[1] == self.max[1]:
            self.max_keys[self.key(record)] = None

    def state(self) -> dict | None:
        if self.unordered:
            self.notes.append(
                f"{self.unordered} record(s) had a '{self.spec.field}' value of another kind than the watermark "
                "(text among timestamps?); they were read but do not move the watermark"
            )
            self.unordered = 0
        if self.max is None:
            return self.previous
        keys = dict(self.max_keys)
        if self.watermark is not None and self.max[1] == self.watermark[1]:
            keys = {**dict.fromkeys(self.seen), **keys}
        return {
            "cursor": {"column": self.spec.field, "type": self.max[0], "value": self.max_raw},
            "keys_at_cursor": [json.loads(k) for k in keys],
        }
