"""Per-source incremental state (watermarks, files seen), committed by load after the data."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Engine, String, Table, Text, select

from headwater.store import db
from headwater.store.values import from_json, to_json, utcnow

state_table = Table(
    "hw_source_state",
    db.metadata,
    Column("source", String(250), primary_key=True),
    Column("state", Text, nullable=False),  # JSON object; datetimes stored as ISO strings
    Column("run_id", String(250)),  # the run that committed it
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


def get_state(engine: Engine, source: str) -> dict | None:
    """The source's last committed state, or None before its first successful load."""
    with engine.connect() as conn:
        text = conn.execute(select(state_table.c.state).where(state_table.c.source == source)).scalar()
    return from_json(text)


def set_state(engine: Engine, source: str, state: dict, run_id: str | None) -> None:
    """Commit the source's state; writing it again for a retried run changes nothing else."""
    values = {"source": source, "state": to_json(state), "run_id": run_id, "updated_at": utcnow()}
    stmt = db.insert(engine, state_table).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[state_table.c.source],
        set_={k: stmt.excluded[k] for k in ("state", "run_id", "updated_at")},
    )
    with db.write_transaction(engine) as conn:
        conn.execute(stmt)
