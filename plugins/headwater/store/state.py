"""Per-source incremental state (watermarks, files seen): read by select, staged, committed by load.

The state itself never travels through XCom (a file source's can be megabytes). Select reads the
committed state with `begin_read`, stages the state its read leads to with `stage` (one row per
run in `hw_pending_state`) and passes only a small reference on; load commits it with `commit`.

Every committed state carries an *epoch*: a random token replaced at each commit. Runs that start
from the same epoch read the same data (a run that crashed before its commit left the state where
it was), so the lake and the quarantine key a run's rows by the epoch it started from (the batch):
a new run after a crash replaces the crashed run's rows instead of adding them again. `commit`
only moves the state from the epoch the run started from; a run whose epoch was moved on by
another run fails instead of loading its rows a second time (see docs/architecture.md).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Column, DateTime, Engine, String, Table, Text, delete, select, update

from headwater.errors import HeadwaterError
from headwater.store import db
from headwater.store.values import from_json, to_json, utcnow

state_table = Table(
    "hw_source_state",
    db.metadata,
    Column("source", String(250), primary_key=True),
    Column("state", Text, nullable=False),  # JSON object (or null); datetimes stored as ISO strings
    Column("run_id", String(250)),  # the run that committed it
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # Token of this committed state, new at every commit (NULL in stores from before epochs).
    Column("epoch", String(32)),
)

pending_table = Table(
    "hw_pending_state",
    db.metadata,
    Column("source", String(250), primary_key=True),
    Column("run_id", String(250), primary_key=True),
    Column("epoch", String(32), nullable=False),  # the committed epoch the run's read started from
    Column("state", Text, nullable=False),  # JSON: the state to commit when the run's load succeeds
    Column("created_at", DateTime(timezone=True), nullable=False),
)


class StateConflict(HeadwaterError):
    """The source's state moved on after this run's select: loading its rows would double them."""


@dataclass(frozen=True)
class Snapshot:
    """The committed state as select saw it, and its epoch."""

    state: dict | None
    epoch: str


def _new_epoch() -> str:
    return uuid.uuid4().hex


def get_state(engine: Engine, source: str) -> dict | None:
    """The source's last committed state, or None before its first successful load."""
    with engine.connect() as conn:
        text = conn.execute(select(state_table.c.state).where(state_table.c.source == source)).scalar()
    return from_json(text)


def begin_read(engine: Engine, source: str) -> Snapshot:
    """The committed state and its epoch, giving the source an epoch if it has none yet.

    A source without a row gets one (state null): every run until the first commit then shares
    that epoch, so a crashed first run's rows are replaced by the next run like any other's.
    """
    with db.write_transaction(engine) as conn:
        row = conn.execute(
            select(state_table.c.state, state_table.c.epoch).where(state_table.c.source == source)
        ).first()
        if row is None:
            epoch = _new_epoch()
            conn.execute(
                state_table.insert().values(source=source, state=to_json(None), run_id=None, updated_at=utcnow(), epoch=epoch)
            )
            return Snapshot(None, epoch)
        if row.epoch is None:  # a store from before epochs
            epoch = _new_epoch()
            conn.execute(update(state_table).where(state_table.c.source == source).values(epoch=epoch))
            return Snapshot(from_json(row.state), epoch)
        return Snapshot(from_json(row.state), row.epoch)


def stage(engine: Engine, source: str, run_id: str, epoch: str, state: dict | None) -> dict:
    """Keep the state a run's read leads to until its load commits it; returns the reference for XCom.

    A retried select replaces its own run's row. `state` None keeps the committed state as it is.
    """
    values = {"source": source, "run_id": run_id, "epoch": epoch, "state": to_json(state), "created_at": utcnow()}
    stmt = db.insert(engine, pending_table).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[pending_table.c.source, pending_table.c.run_id],
        set_={k: stmt.excluded[k] for k in ("epoch", "state", "created_at")},
    )
    with db.write_transaction(engine) as conn:
        conn.execute(stmt)
    return {"epoch": epoch, "run_id": run_id}


def staged_state(engine: Engine, source: str, ref: dict) -> dict | None:
    """The state the run of `ref` staged (what its load will commit); None when nothing is staged."""
    with engine.connect() as conn:
        text = conn.execute(
            select(pending_table.c.state).where(
                pending_table.c.source == source,
                pending_table.c.run_id == ref["run_id"],
                pending_table.c.epoch == ref["epoch"],
            )
        ).scalar()
    return None if text is None else from_json(text)


def check_current(engine: Engine, source: str, ref: dict) -> bool:
    """Whether the run of `ref` may still write its batch; False when it already committed.

    Raises StateConflict when another run committed since this run's select.
    """
    with engine.connect() as conn:
        row = conn.execute(
            select(state_table.c.epoch, state_table.c.run_id).where(state_table.c.source == source)
        ).first()
    return _still_current(source, ref, row)


def _still_current(source: str, ref: dict, row) -> bool:
    if row is not None and row.epoch == ref["epoch"]:
        return True
    if row is not None and row.run_id == ref["run_id"]:
        return False  # this run committed already (its load is being retried after the commit)
    by = f"run {row.run_id!r}" if row is not None and row.run_id else "`headwater state reset` or another run"
    raise StateConflict(
        f"the state of source {source!r} changed after this run's select (committed by {by}); "
        "loading this run's rows now would load them twice. Start a new run: it reads from the new state"
    )


def commit(engine: Engine, source: str, ref: dict) -> bool:
    """Commit the state staged by the run of `ref` and give the source a new epoch.

    Idempotent: a retried commit of the same run changes nothing. Returns False when the run had
    committed already. Every staged state of the source is dropped: they started from the old epoch.
    """
    with db.write_transaction(engine) as conn:
        row = conn.execute(
            select(state_table.c.epoch, state_table.c.run_id).where(state_table.c.source == source)
        ).first()
        if not _still_current(source, ref, row):
            return False
        staged = (
            pending_table.c.source == source,
            pending_table.c.run_id == ref["run_id"],
            pending_table.c.epoch == ref["epoch"],
        )
        # Compared and copied inside the database: a file source's state can be megabytes.
        keeps = conn.execute(select(pending_table.c.state == to_json(None)).where(*staged)).scalar()
        if keeps is None:
            raise HeadwaterError(f"no staged state for source {source!r}, run {ref['run_id']!r}: run select again")
        values = {"run_id": ref["run_id"], "updated_at": utcnow(), "epoch": _new_epoch()}
        if not keeps:
            values["state"] = select(pending_table.c.state).where(*staged).scalar_subquery()
        conn.execute(
            update(state_table).where(state_table.c.source == source, state_table.c.epoch == ref["epoch"]).values(values)
        )
        conn.execute(delete(pending_table).where(pending_table.c.source == source))
    return True


def set_state(engine: Engine, source: str, state: dict | None, run_id: str | None) -> None:
    """Commit a state by hand (`headwater state reset`, tests); the source gets a new epoch."""
    values = {"source": source, "state": to_json(state), "run_id": run_id, "updated_at": utcnow(), "epoch": _new_epoch()}
    stmt = db.insert(engine, state_table).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[state_table.c.source],
        set_={k: stmt.excluded[k] for k in ("state", "run_id", "updated_at", "epoch")},
    )
    with db.write_transaction(engine) as conn:
        conn.execute(stmt)
        conn.execute(delete(pending_table).where(pending_table.c.source == source))
