"""The source state: committed by hand or staged by select and committed by load, with epochs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from headwater.store import state
from headwater.store.state import (
    StateConflict,
    begin_read,
    check_current,
    commit,
    get_state,
    set_state,
    stage,
)


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


def pending_rows(engine, source):
    with engine.connect() as conn:
        return conn.execute(select(state.pending_table.c.run_id).where(state.pending_table.c.source == source)).scalars().all()


def test_runs_from_the_same_committed_state_share_its_epoch_until_one_commits(engine):
    first = begin_read(engine, "crm")
    assert first.state is None and len(first.epoch) == 32
    assert get_state(engine, "crm") is None  # the row holds an epoch, not a state
    # a run that crashed before its commit and the next run read from the same epoch
    crashed = stage(engine, "crm", "r1", first.epoch, {"cursor": 1})
    again = begin_read(engine, "crm")
    assert again.epoch == first.epoch
    ref = stage(engine, "crm", "r2", again.epoch, {"cursor": 2})
    assert ref == {"epoch": first.epoch, "run_id": "r2"}
    assert sorted(pending_rows(engine, "crm")) == ["r1", "r2"]

    assert commit(engine, "crm", ref) is True
    assert get_state(engine, "crm") == {"cursor": 2}
    after = begin_read(engine, "crm")
    assert after.epoch != first.epoch and after.state == {"cursor": 2}
    assert pending_rows(engine, "crm") == []  # staged states of the old epoch are dropped

    # the load of r2 retried after its commit: nothing changes
    assert check_current(engine, "crm", ref) is False
    assert commit(engine, "crm", ref) is False
    assert begin_read(engine, "crm").epoch == after.epoch

    # the crashed run's load, cleared after r2 committed: refused before it writes anything
    with pytest.raises(StateConflict, match="changed after this run's select \\(committed by run 'r2'\\)"):
        check_current(engine, "crm", crashed)
    with pytest.raises(StateConflict):
        commit(engine, "crm", crashed)
    assert get_state(engine, "crm") == {"cursor": 2}


def test_a_reset_moves_the_epoch_on(engine):
    ref = stage(engine, "crm", "r1", begin_read(engine, "crm").epoch, {"cursor": 5})
    set_state(engine, "crm", None, run_id=None)  # `headwater state reset`
    with pytest.raises(StateConflict, match="headwater state reset"):
        commit(engine, "crm", ref)
    assert get_state(engine, "crm") is None


def test_staging_no_state_keeps_the_committed_one(engine):
    set_state(engine, "crm", {"cursor": 7}, "r0")
    ref = stage(engine, "crm", "r1", begin_read(engine, "crm").epoch, None)  # nothing new was read
    assert commit(engine, "crm", ref) is True
    assert get_state(engine, "crm") == {"cursor": 7}


def test_a_store_from_before_epochs_gets_one(engine):
    set_state(engine, "crm", {"cursor": 3}, "r0")
    with engine.begin() as conn:
        conn.execute(update(state.state_table).values(epoch=None))
    snapshot = begin_read(engine, "crm")
    assert snapshot.state == {"cursor": 3} and snapshot.epoch
    assert begin_read(engine, "crm").epoch == snapshot.epoch
