from __future__ import annotations

from datetime import UTC, datetime

from headwater.store.state import get_state, set_state


def test_state_missing_is_none(engine):
    assert get_state(engine, "crm") is None


def test_state_roundtrip_and_upsert(engine):
    set_state(
        engine, "crm", {"watermark": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "keys": [1, 2]}, "run_1"
    )
    assert get_state(engine, "crm") == {"watermark": "2026-01-02T03:04:05+00:00", "keys": [1, 2]}

    set_state(engine, "crm", {"watermark": "2026-02-01T00:00:00+00:00", "keys": []}, "run_2")
    set_state(engine, "crm", {"watermark": "2026-02-01T00:00:00+00:00", "keys": []}, "run_2")  # retry
    assert get_state(engine, "crm") == {"watermark": "2026-02-01T00:00:00+00:00", "keys": []}
    assert get_state(engine, "other") is None
