"""What each destination last acknowledged, per audience: the store table `hw_audience_members`.

One row per (audience, destination, profile): the identity and variables the destination holds
for that profile and their fingerprint. A row changes only when the destination acknowledged a
signal: an acknowledged add or modify upserts it, an acknowledged remove deletes it. So a failed
or partial delivery leaves the rows as they were, the next diff finds the same signals again, and
a signal once acknowledged is never sent again. Run summaries go to `hw_audience_runs`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Column, DateTime, Integer, String, Table, Text, delete, select

from headwater.store.db import metadata

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlalchemy import Engine

members_table = Table(
    "hw_audience_members",
    metadata,
    Column("audience", String(250), primary_key=True),
    Column("destination", String(100), primary_key=True),
    Column("profile_id", String(32), primary_key=True),
    Column("identity", Text),  # the identity value the destination knows the person by
    Column("fingerprint", Text, nullable=False),  # the variables as last acknowledged (diff.fingerprint)
    Column("variables", Text),  # JSON object, as last acknowledged
    Column("run_id", String(250)),
    Column("acked_at", DateTime(timezone=True), nullable=False),
)

audience_runs_table = Table(
    "hw_audience_runs",
    metadata,
    Column("audience", String(250), primary_key=True),
    Column("run_id", String(250), primary_key=True),
    Column("destination", String(100), primary_key=True),
    Column("status", String(32), nullable=False),
    Column("members", Integer),
    Column("adds", Integer),
    Column("removes", Integer),
    Column("modifies", Integer),
    Column("sent", Integer),
    Column("failed", Integer),
    Column("invalid", Integer),
    Column("skipped", Integer),
    Column("last_error", Text),
    Column("ended_at", DateTime(timezone=True)),
)


def acknowledged(engine: Engine, audience: str, destination: str) -> pa.Table:
    """profile_id, identity, fingerprint, variables of every acknowledged member, as one Arrow table."""
    import pyarrow as pa

    t = members_table.c
    stmt = select(t.profile_id, t.identity, t.fingerprint, t.variables).where(
        t.audience == audience, t.destination == destination
    )
    names = ["profile_id", "identity", "fingerprint", "variables"]
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    cols = list(zip(*rows, strict=True)) if rows else [[] for _ in names]
    return pa.table({n: pa.array(c, pa.string()) for n, c in zip(names, cols, strict=True)})


def record_acks(engine: Engine, audience: str, destination: str, run_id: str, signals: list[dict]) -> None:
    """Advance the stored membership for acknowledged signals, in one transaction."""
    from headwater.store import db
    from headwater.store.values import utcnow

    now = utcnow()
    removes = [s["profile_id"] for s in signals if s["op"] == "remove"]
    upserts = {
        s["profile_id"]: {
            "audience": audience, "destination": destination, "profile_id": s["profile_id"],
            "identity": s["identity"], "fingerprint": s["fingerprint"], "variables": s["variables"],
            "run_id": run_id, "acked_at": now,
        }
        for s in signals if s["op"] != "remove"
    }
    t = members_table.c
    with db.write_transaction(engine) as conn:
        for start in range(0, len(removes), 5000):
            conn.execute(delete(members_table).where(
                t.audience == audience, t.destination == destination, t.profile_id.in_(removes[start:start + 5000])
            ))
        if upserts:
            stmt = db.insert(conn, members_table)
            stmt = stmt.on_conflict_do_update(
                index_elements=[t.audience, t.destination, t.profile_id],
                set_={k: stmt.excluded[k] for k in ("identity", "fingerprint", "variables", "run_id", "acked_at")},
            )
            db.execute_many(conn, stmt, list(upserts.values()))


def record_run(engine: Engine, row: dict) -> None:
    from headwater.store import db

    t = audience_runs_table.c
    with db.write_transaction(engine) as conn:
        stmt = db.insert(conn, audience_runs_table).values(**row)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.audience, t.run_id, t.destination],
            set_={k: stmt.excluded[k] for k in row if k not in ("audience", "run_id", "destination")},
        )
        conn.execute(stmt)


def runs_for(engine: Engine, audience: str, limit: int = 50) -> list[dict]:
    t = audience_runs_table.c
    stmt = select(audience_runs_table).where(t.audience == audience).order_by(t.ended_at.desc()).limit(limit)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]
