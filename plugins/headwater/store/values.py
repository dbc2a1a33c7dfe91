"""Conversions between Python values and what the store keeps: JSON text and UTC timestamps."""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal


def _default(value: object) -> object:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        # A string keeps every digit; a float would silently round money.
        return str(value) if value.is_finite() else None
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if hasattr(value, "item"):  # numpy scalars, e.g. from pandas-built rows
        return value.item()
    raise TypeError(f"cannot store a value of type {type(value).__name__} as JSON")


# One encoder for every call: `json.dumps` with options builds a new encoder each time.
_ENCODER = json.JSONEncoder(default=_default, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
_encode = _ENCODER.encode


def to_json(value: object) -> str:
    """Canonical JSON text (sorted keys), so equal content always gives equal text."""
    return _encode(value)


def from_json(text: str | None) -> object:
    return None if text is None else json.loads(text)


def clean(value: object) -> object:
    """NaN is not JSON and means "no value" in the data Headwater reads: store it as null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def utcnow() -> datetime:
    return datetime.now(UTC)


def utc(value: object) -> datetime | None:
    """Aware UTC datetime from a datetime, date or ISO string; None when absent or unreadable.

    Naive values are taken as UTC: SQLite hands every stored timestamp back naive.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return None
