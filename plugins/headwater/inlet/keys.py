"""Write keys of streaming sources, kept hashed in the store (`hw_inlet_keys`).

A key is shown once, when it is created; the store keeps its SHA-256 (keys are 32 random bytes,
so a plain hash cannot be reversed by guessing) and a short prefix to tell keys apart in
listings. `rotate` creates a new key and gives the old ones an expiry (the grace period);
`revoke` ends a key at once. The inlet looks a key up on every request, so a revocation holds
from the next request on, in every inlet replica.

Also here: per-minute counts of accepted and rejected events (`hw_inlet_minutes`), which each
inlet adds to and `headwater status` reads.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import BigInteger, Column, DateTime, Engine, Index, String, Table, select, update

from headwater.store import db

KEY_PREFIX = "hw_"

keys_table = Table(
    "hw_inlet_keys",
    db.metadata,
    Column("key_hash", String(64), primary_key=True),  # hex SHA-256 of the key
    Column("key_id", String(32), nullable=False, unique=True),
    Column("source", String(250), nullable=False),
    Column("prefix", String(16), nullable=False),  # first characters, to tell keys apart
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),  # set by rotate: the end of the grace period
    Column("revoked_at", DateTime(timezone=True)),
    Index("ix_hw_inlet_keys_source", "source"),
)

minutes_table = Table(
    "hw_inlet_minutes",
    db.metadata,
    Column("source", String(250), primary_key=True),
    Column("minute", DateTime(timezone=True), primary_key=True),
    Column("accepted", BigInteger, nullable=False, default=0),
    Column("rejected", BigInteger, nullable=False, default=0),
)


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    source: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def status(self, now: datetime | None = None) -> str:
        now = now or datetime.now(UTC)
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None:
            return "expired" if _utc(self.expires_at) <= now else f"rotated, valid until {_utc(self.expires_at):%Y-%m-%d %H:%M:%S}Z"
        return "active"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def create(engine: Engine, source: str) -> tuple[str, KeyInfo]:
    """A new key for `source`: (the key itself, shown once; what the store keeps about it)."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    info = KeyInfo(uuid.uuid4().hex[:12], source, key[:10], datetime.now(UTC), None, None)
    with db.write_transaction(engine) as conn:
        conn.execute(
            keys_table.insert().values(
                key_hash=hash_key(key),
                key_id=info.key_id,
                source=source,
                prefix=info.prefix,
                created_at=info.created_at,
            )
        )
    return key, info


def list_keys(engine: Engine, source: str | None = None) -> list[KeyInfo]:
    query = select(keys_table).order_by(keys_table.c.source, keys_table.c.created_at)
    if source is not None:
        query = query.where(keys_table.c.source == source)
    with engine.connect() as conn:
        return [_info(row) for row in conn.execute(query).mappings()]


def rotate(engine: Engine, source: str, grace: timedelta) -> tuple[str, KeyInfo, int]:
    """A new key; every active key of `source` expires after `grace`. (key, info, keys put on grace)."""
    expires = datetime.now(UTC) + grace
    with db.write_transaction(engine) as conn:
        moved = conn.execute(
            update(keys_table)
            .where(keys_table.c.source == source, keys_table.c.revoked_at.is_(None), keys_table.c.expires_at.is_(None))
            .values(expires_at=expires)
        ).rowcount
    key, info = create(engine, source)
    return key, info, moved


def revoke(engine: Engine, source: str, key_id: str | None = None) -> int:
    """Revoke one key (by id) or every key of `source`; the number of keys revoked."""
    where = [keys_table.c.source == source, keys_table.c.revoked_at.is_(None)]
    if key_id is not None:
        where.append(keys_table.c.key_id == key_id)
    with db.write_transaction(engine) as conn:
        return conn.execute(update(keys_table).where(*where).values(revoked_at=datetime.now(UTC))).rowcount


def lookup(engine: Engine, key: str) -> KeyInfo | None:
    """The key's record when it may be used now (not revoked, not past its grace period); else None."""
    with engine.connect() as conn:
        row = conn.execute(select(keys_table).where(keys_table.c.key_hash == hash_key(key))).mappings().first()
    if row is None:
        return None
    info = _info(row)
    if info.revoked_at is not None or (info.expires_at is not None and _utc(info.expires_at) <= datetime.now(UTC)):
        return None
    return info


def add_counts(engine: Engine, counts: dict[tuple[str, datetime], tuple[int, int]]) -> None:
    """Add (accepted, rejected) per (source, minute) to `hw_inlet_minutes` (several inlets add to one row)."""
    if not counts:
        return
    with db.write_transaction(engine) as conn:
        for (source, minute), (accepted, rejected) in counts.items():
            stmt = db.insert(conn, minutes_table).values(source=source, minute=minute, accepted=accepted, rejected=rejected)
            stmt = stmt.on_conflict_do_update(
                index_elements=["source", "minute"],
                set_={
                    "accepted": minutes_table.c.accepted + stmt.excluded.accepted,
                    "rejected": minutes_table.c.rejected + stmt.excluded.rejected,
                },
            )
            conn.execute(stmt)


def recent_counts(engine: Engine, source: str, minutes: int = 5) -> list[tuple[datetime, int, int]]:
    """(minute, accepted, rejected) of the last `minutes` minutes that had any traffic, newest first."""
    since = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=minutes - 1)
    query = (
        select(minutes_table.c.minute, minutes_table.c.accepted, minutes_table.c.rejected)
        .where(minutes_table.c.source == source, minutes_table.c.minute >= since)
        .order_by(minutes_table.c.minute.desc())
    )
    with engine.connect() as conn:
        return [(_utc(m), a, r) for m, a, r in conn.execute(query)]


def _info(row) -> KeyInfo:
    return KeyInfo(
        row["key_id"],
        row["source"],
        row["prefix"],
        _utc(row["created_at"]),
        _utc(row["expires_at"]) if row["expires_at"] else None,
        _utc(row["revoked_at"]) if row["revoked_at"] else None,
    )


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
