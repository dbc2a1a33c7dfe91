"""The profile store: unified profiles stitched from every source's records by an identity graph.

Each source record becomes a *fragment* keyed by (source, record key) on one profile. Identities
(namespace, value) point at profiles; records sharing a *linking* identity belong to one profile,
across sources and over time, and a record that links two profiles merges them: the oldest
survives, the other keeps only `merged_into` (lookups by its id reach the survivor). A profile's
`attributes` is the merged view of its fragments under the target schema's merge policies, and
`lineage` says which fragment and run each attribute came from. See docs/store.md.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, fields

from sqlalchemy import Column, DateTime, Engine, ForeignKey, Index, String, Table, Text, func, select

from headwater.identity.namespaces import IdentityConfig, load_identities
from headwater.identity.policy import MergeConfig
from headwater.store import bulk, db
from headwater.store.graph import Record, Resolver
from headwater.store.values import from_json, to_json, utc, utcnow
from headwater.store.views import Fragment, attribute_sources, merged_view

log = logging.getLogger(__name__)

profile_table = Table(
    "hw_profiles",
    db.metadata,
    Column("profile_id", String(32), primary_key=True),  # uuid4 hex
    Column("attributes", Text, nullable=False),  # JSON: merged view of the fragments
    Column("lineage", Text),  # JSON: which fragment (source, record, run) each attribute came from
    # Set when the profile was merged into another: it then holds no identities or fragments.
    Column("merged_into", String(32), ForeignKey("hw_profiles.profile_id"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_hw_profiles_merged_into", "merged_into"),
)

identity_table = Table(
    "hw_identities",
    db.metadata,
    Column("namespace", String(64), primary_key=True),
    Column("value", Text, primary_key=True),  # normalised (see headwater.identity.namespaces)
    Column("profile_id", String(32), ForeignKey("hw_profiles.profile_id"), nullable=False),
    Column("source", String(250)),  # the source that first saw it, for tracing a stitch
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_hw_identities_profile", "profile_id"),
)

fragment_table = Table(
    "hw_fragments",
    db.metadata,
    Column("source", String(250), primary_key=True),
    Column("record_key", Text, primary_key=True),
    Column("profile_id", String(32), ForeignKey("hw_profiles.profile_id"), nullable=False),
    Column("attributes", Text, nullable=False),  # JSON: the record as loaded (without _hw_ columns)
    Column("source_updated_at", DateTime(timezone=True)),  # when the source last changed the record
    Column("run_id", String(250)),  # the run that last changed the fragment
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # JSON [[namespace, value], ...]: every identity the record has asserted, so a delete can
    # detach what only it asserted. NULL in fragments written before this column existed.
    Column("identities", Text),
    Index("ix_hw_fragments_profile", "profile_id"),
)

INTERNAL_PREFIX = "_hw_"  # columns Headwater adds (row id, run id): not attributes of a person
_FRAG_COLS = (
    "source", "record_key", "profile_id", "attributes", "source_updated_at", "run_id", "updated_at", "identities",
)


def normalise(namespace: str, value: object, config: IdentityConfig | None = None) -> str | None:
    """Comparable form of an identity value; None when there is none."""
    return (config or load_identities()).normaliser(namespace)(value)


@dataclass
class ChunkResult:
    """What one chunk did (summed into the load manifest)."""

    rows_upserted: int = 0
    rows_deleted: int = 0
    rows_skipped: int = 0
    profiles_created: int = 0
    profiles_merged: int = 0  # profiles that now redirect to a survivor
    profiles_removed: int = 0  # profiles left without fragments by deletes
    merges_refused: int = 0
    identities_dropped: int = 0
    identities_detached: int = 0  # asserted only by deleted records: no longer point at the profile

    def __iadd__(self, other: ChunkResult) -> ChunkResult:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "t", "yes", "y", "1")
    return bool(value) and value == value  # NaN is "no value"


def _cached(norm):
    """`norm` computed once per distinct value within a chunk (unhashable values are not cached)."""
    seen: dict = {}

    def cached(value: object) -> str | None:
        # Keyed by type too: 1, 1.0 and True are equal keys but normalise differently.
        key = value if value.__class__ is str else (value.__class__, value)
        try:
            return seen[key]
        except KeyError:
            out = seen[key] = norm(value)
            return out
        except TypeError:
            return norm(value)

    return cached


def _prepare(rows, idents_spec, record_key, updated_at, deleted, config) -> tuple[dict[str, Record], int]:
    """Records keyed by record key (one per key: the latest update wins within the chunk)."""
    norms = [(fld, ns, _cached(config.normaliser(ns))) for fld, ns in idents_spec]
    key_norm = _cached(config.normaliser("id"))
    when = _cached(utc)
    shapes: dict[tuple, tuple[str, ...]] = {}  # a row's columns -> its attribute columns
    records: dict[str, Record] = {}
    skipped = 0
    for row in rows:
        idents: list[tuple[str, str]] = []
        for fld, ns, norm in norms:
            value = norm(row.get(fld))
            if value is not None and (ns, value) not in idents:
                idents.append((ns, value))
        key = key_norm(row.get(record_key)) if record_key else None
        if key is None and idents:
            # Namespaced so an email used as key can never collide with another source id.
            key = f"{idents[0][0]}:{idents[0][1]}"
        if key is None:
            skipped += 1
            continue
        shape = tuple(row)
        names = shapes.get(shape)
        if names is None:
            names = shapes[shape] = tuple(k for k in shape if not k.startswith(INTERNAL_PREFIX) and k != deleted)
        attributes = {}
        for k in names:
            v = row[k]
            attributes[k] = None if isinstance(v, float) and v != v else v  # clean(): NaN is null
        rec = Record(
            key, idents, attributes, when(row.get(updated_at)) if updated_at else None,
            _truthy(row.get(deleted)) if deleted else False,
        )
        prev = records.get(key)
        if prev is not None:
            if prev.source_updated_at is not None and (
                rec.source_updated_at is None or prev.source_updated_at > rec.source_updated_at
            ):
                prev.idents += [i for i in rec.idents if i not in prev.idents]
                continue
            rec.idents += [i for i in prev.idents if i not in rec.idents]
        records[key] = rec
    return records, skipped


def upsert_chunk(
    engine: Engine,
    *,
    source: str,
    run_id: str,
    rows: list[dict],
    identities: list[tuple[str, str]],
    record_key: str | None,
    updated_at: str | None,
    deleted: str | None = None,
    merge: MergeConfig | None = None,
    namespaces: IdentityConfig | None = None,
) -> ChunkResult:
    """Upsert (or delete) one chunk of a source's mapped rows; see `upsert_profiles` for the arguments.

    :param deleted: field whose true value marks a record deleted in the source: its fragment is
        removed, and a profile left without fragments is removed with its identities.
    :param merge: the target schema's merge policies (default: latest update wins).
    :param namespaces: identity namespaces (default: `include/identities.yaml`).
    """
    config = namespaces or load_identities()
    records, skipped = _prepare(rows, identities, record_key, updated_at, deleted, config)
    result = ChunkResult(rows_skipped=skipped)
    if skipped:
        log.warning("%s: %d of %d rows have no record key and no identity; not upserted", source, skipped, len(rows))
    if not records:
        return result
    # Exclusive: resolution reads then writes; two concurrent writers would otherwise each create
    # a profile for the same new email, or miss each other's merge.
    with db.write_transaction(engine, exclusive=True) as conn:
        _ChunkWriter(conn, source, run_id, config, merge, result).run(records)
    # Counted per input row, as before: a key repeated within the chunk counts each time.
    result.rows_upserted = len(rows) - skipped - result.rows_deleted
    return result


def upsert_profiles(engine: Engine, *, source: str, run_id: str, rows: list[dict],
                    identities: list[tuple[str, str]], record_key: str | None, updated_at: str | None,
                    **options) -> int:
    """Upsert one chunk of a source's mapped rows into the profile store; returns rows written.

    :param source: source name; with the record key it identifies a fragment.
    :param run_id: the Airflow run writing (recorded on changed fragments and in the lineage).
    :param rows: mapped rows (dicts); datetime/date/Decimal values are stored as JSON strings.
    :param identities: (field, namespace) pairs, most trusted first: on a refused merge the record
        joins the first candidate that can take it.
    :param record_key: field holding the source's record id; when absent or empty in a row, its
        first identity (as "namespace:value") keys the fragment. Rows with neither are skipped.
    :param updated_at: field holding when the source last changed the row ("latest update wins").
    :param options: `deleted`, `merge`, `namespaces` (see `upsert_chunk`).

    Idempotent: upserting the same chunk again writes nothing new.
    """
    res = upsert_chunk(engine, source=source, run_id=run_id, rows=rows, identities=identities,
                       record_key=record_key, updated_at=updated_at, **options)
    return res.rows_upserted + res.rows_deleted


class _ChunkWriter:
    """Resolves and writes one chunk inside the exclusive transaction."""

    def __init__(self, conn, source, run_id, config, merge, result) -> None:
        self.conn, self.source, self.run_id = conn, source, run_id
        self.config, self.merge, self.result = config, merge, result
        self.now = utcnow()

    def run(self, records: dict[str, Record]) -> None:
        conn, source, now, res = self.conn, self.source, self.now, self.result
        stored = {
            key: (pid, attrs, utc(sut), idents)
            for key, pid, attrs, sut, idents in bulk.select_in(
                conn, fragment_table, ("record_key", "profile_id", "attributes", "source_updated_at", "identities"),
                ("record_key",), [(k,) for k in records], where={"source": source},
            )
        }
        live = [r for r in records.values() if not r.deleted]
        gone = [r for r in records.values() if r.deleted and r.key in stored]
        res.rows_deleted = sum(r.deleted for r in records.values())
        wanted = {i for r in live for i in r.idents}
        owner = {(ns, v): pid for ns, v, pid in bulk.select_in(
            conn, identity_table, ("namespace", "value", "profile_id"), ("namespace", "value"), sorted(wanted))}
        links = {ns: self.config.namespace(ns).links for ns in {i[0] for i in wanted}}
        limits = self.config.limits(set(links))
        resolver = Resolver(links, limits, owner, self._held(live, stored, owner, limits))
        for rec in live:
            resolver.add(rec, stored[rec.key][0] if rec.key in stored else None)
        merged = resolver.merged_profiles()
        created = dict(bulk.select_in(conn, profile_table, ("profile_id", "created_at"), ("profile_id",),
                                      [(p,) for p in merged]))
        plan = resolver.finish({p: utc(c) for p, c in created.items()})
        for rec in live:
            rec.profile_id = resolver.final(rec.profile_id)
        res.profiles_created, res.profiles_merged = len(plan.new_profiles), len(plan.merges)
        res.merges_refused, res.identities_dropped = plan.refused, plan.dropped_identities
        if plan.refused or plan.dropped_identities:
            log.warning("%s: %d merges refused, %d identities not attached (max_per_profile limits)",
                        source, plan.refused, plan.dropped_identities)
        js = {r.key: to_json(r.attributes) for r in live}
        asserted = {r.key: _asserted(stored[r.key][3] if r.key in stored else None, r.idents) for r in live}
        ijs = {k: to_json(v) for k, v in asserted.items()}
        changed = [r for r in live
                   if r.key not in stored or stored[r.key][1:] != (js[r.key], r.source_updated_at, ijs[r.key])]
        gone_pid = {r.key: plan.merges.get(stored[r.key][0], stored[r.key][0]) for r in gone}
        touched = {r.profile_id for r in changed} | set(plan.merges.values()) | set(gone_pid.values())
        existing = (touched | set(plan.merges)) - set(plan.new_profiles)
        # The chunk's own changed fragments are replaced below: not worth decoding.
        frags = self._fragments(existing, {r.key for r in changed})
        # Apply the chunk to the in-memory fragments, then write everything set-based.
        for loser, survivor in plan.merges.items():
            frags[survivor].update(frags.pop(loser, {}))
        for rec in gone:
            frags[gone_pid[rec.key]].pop((source, rec.key), None)
        for rec in changed:
            frags[rec.profile_id][(source, rec.key)] = Fragment(
                source, rec.key, rec.attributes, rec.source_updated_at, now, self.run_id, asserted[rec.key])
        new = set(plan.new_profiles)
        empty = [pid for pid in touched if not frags.get(pid)]
        res.profiles_removed = len(empty)
        views = {pid: merged_view(list(frags[pid].values()), self.merge) for pid in touched if frags.get(pid)}
        bulk.insert_rows(conn, profile_table, ("profile_id", "attributes", "lineage", "created_at", "updated_at"),
                         [(p, to_json(a), to_json(lin), now, now) for p, (a, lin) in views.items() if p in new])
        bulk.update_rows(conn, profile_table, ("profile_id",), ("attributes", "lineage", "updated_at"),
                         [(p, to_json(a), to_json(lin), now) for p, (a, lin) in views.items() if p not in new])
        self._merge(plan.merges)
        bulk.insert_rows(conn, identity_table, ("namespace", "value", "profile_id", "source", "created_at"),
                         [(ns, v, p, source, now) for ns, v, p in plan.new_identities])
        bulk.delete_rows(conn, fragment_table, ("source", "record_key"), [(source, r.key) for r in gone])
        rows = [(source, r.key, r.profile_id, js[r.key], r.source_updated_at, self.run_id, now, ijs[r.key])
                for r in changed]
        bulk.insert_rows(conn, fragment_table, _FRAG_COLS, [r for r in rows if r[1] not in stored])
        bulk.update_rows(conn, fragment_table, ("source", "record_key"), _FRAG_COLS[2:],
                         [r for r in rows if r[1] in stored])
        detach = _orphaned_identities(gone, stored, gone_pid, frags)
        bulk.delete_rows(conn, identity_table, ("namespace", "value", "profile_id"), detach)
        res.identities_detached = len(detach)
        self._remove(empty)

    def _held(self, live, stored, owner, limits) -> dict[str, set]:
        """Limited-namespace identities of the existing profiles a record may join with a new identity."""
        if not limits:
            return {}
        pids: set[str] = set()
        for rec in live:
            cands = {owner[i] for i in rec.idents if i in owner}
            if rec.key in stored:
                cands.add(stored[rec.key][0])
            if cands and (len(cands) > 1 or any(i not in owner for i in rec.idents)):
                pids |= cands
        held: dict[str, set] = defaultdict(set)
        rows = bulk.select_in(self.conn, identity_table, ("profile_id", "namespace", "value"),
                              ("profile_id",), [(p,) for p in sorted(pids)])
        for pid, ns, value in rows:
            if ns in limits:
                held[pid].add((ns, value))
        return held

    def _fragments(self, pids: set[str], replaced: set[str] = frozenset()) -> dict[str, dict[tuple[str, str], Fragment]]:
        """The stored fragments of `pids`; this source's `replaced` keys are left out (the caller rewrites them)."""
        frags: dict[str, dict] = defaultdict(dict)
        cols = ("profile_id", "source", "record_key", "attributes", "source_updated_at", "updated_at", "run_id",
                "identities")
        source = self.source
        for pid, src, key, attrs, sut, upd, run, idents in bulk.select_in(
            self.conn, fragment_table, cols, ("profile_id",), [(p,) for p in sorted(pids)]
        ):
            if src == source and key in replaced:  # ends up on the record's profile, overwritten there
                continue
            frags[pid][(src, key)] = Fragment(
                src, key, from_json(attrs), utc(sut), utc(upd), run, None if idents is None else from_json(idents))
        return frags

    def _merge(self, merges: dict[str, str]) -> None:
        """Move the merged profiles' identities and fragments to their survivors; keep redirects flat."""
        if not merges:
            return
        pairs = list(merges.items())
        bulk.update_rows(self.conn, identity_table, ("profile_id",), ("profile_id",), pairs)
        bulk.update_rows(self.conn, fragment_table, ("profile_id",), ("profile_id",), pairs)
        # Profiles that already redirected to a loser now redirect to its survivor (one hop).
        bulk.update_rows(self.conn, profile_table, ("merged_into",), ("merged_into",), pairs)
        bulk.update_rows(self.conn, profile_table, ("profile_id",), ("merged_into", "attributes", "updated_at"),
                         [(loser, survivor, "{}", self.now) for loser, survivor in pairs])

    def _remove(self, pids: list[str]) -> None:
        """Remove profiles without fragments, their identities and the profiles redirecting to them."""
        if not pids:
            return
        keys = [(p,) for p in pids]
        bulk.delete_rows(self.conn, identity_table, ("profile_id",), keys)
        bulk.delete_rows(self.conn, profile_table, ("merged_into",), keys)
        bulk.delete_rows(self.conn, profile_table, ("profile_id",), keys)


def _asserted(stored: str | None, idents: list[tuple[str, str]]) -> list[list[str]]:
    """What a fragment has asserted after this record: the stored list, then identities new to it.

    Additive like the graph itself: an email the record no longer carries stays linked (the same
    person had it), so it stays in the list until the record is deleted.
    """
    known = [list(i) for i in from_json(stored)] if stored is not None else []
    seen = {tuple(i) for i in known}
    return known + [[ns, v] for ns, v in idents if (ns, v) not in seen]


def _orphaned_identities(gone, stored, gone_pid, frags) -> list[tuple[str, str, str]]:
    """(namespace, value, profile) of identities that only deleted records asserted.

    Only when every remaining fragment of the profile says what it asserted: a fragment written
    before fragments recorded their identities might be the one asserting it, so nothing is
    detached from such a profile. A profile left without fragments is removed whole elsewhere.
    """
    candidates: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for rec in gone:
        idents = stored[rec.key][3]
        if idents is not None:
            candidates[gone_pid[rec.key]].update(tuple(i) for i in from_json(idents))
    orphaned = []
    for pid, idents in candidates.items():
        remaining = frags.get(pid)
        if not remaining or any(f.identities is None for f in remaining.values()):
            continue
        still = {tuple(i) for f in remaining.values() for i in f.identities}
        orphaned += [(ns, v, pid) for ns, v in sorted(idents - still)]
    return orphaned


def get_profile(engine: Engine, profile_id: str) -> dict | None:
    """A profile by id; a merged id gives its survivor. None when unknown."""
    with engine.connect() as conn:
        row = conn.execute(select(profile_table.c.profile_id, profile_table.c.merged_into)
                           .where(profile_table.c.profile_id == profile_id)).first()
        if row is None:
            return None
        return _profile(conn, row.merged_into or row.profile_id)


def lookup_profile(engine: Engine, namespace: str, value: str) -> dict | None:
    """The profile an identity points at: attributes (with their sources), identities, fragments; or None."""
    value = normalise(namespace, value)
    if value is None:
        return None
    with engine.connect() as conn:
        profile_id = conn.execute(
            select(identity_table.c.profile_id).where(
                identity_table.c.namespace == namespace, identity_table.c.value == value
            )
        ).scalar()
        return None if profile_id is None else _profile(conn, profile_id)


def _profile(conn, profile_id: str) -> dict:
    profile = conn.execute(select(profile_table).where(profile_table.c.profile_id == profile_id)).one()
    idents = conn.execute(
        select(identity_table.c.namespace, identity_table.c.value, identity_table.c.source)
        .where(identity_table.c.profile_id == profile_id)
        .order_by(identity_table.c.namespace, identity_table.c.value)
    ).all()
    frags = conn.execute(
        select(fragment_table)
        .where(fragment_table.c.profile_id == profile_id)
        .order_by(fragment_table.c.source, fragment_table.c.record_key)
    ).all()
    merged_from = conn.execute(
        select(profile_table.c.profile_id).where(profile_table.c.merged_into == profile_id)
        .order_by(profile_table.c.profile_id)
    ).scalars().all()
    return {
        "profile_id": profile.profile_id,
        "attributes": from_json(profile.attributes),
        "attribute_sources": attribute_sources(from_json(profile.lineage)),
        "merged_into": profile.merged_into,
        "merged_from": list(merged_from),
        "created_at": utc(profile.created_at),
        "updated_at": utc(profile.updated_at),
        "identities": [{"namespace": n, "value": v, "source": s} for n, v, s in idents],
        "fragments": [
            {
                "source": f.source,
                "record_key": f.record_key,
                "attributes": from_json(f.attributes),
                "source_updated_at": utc(f.source_updated_at),
                "run_id": f.run_id,
                "updated_at": utc(f.updated_at),
                "identities": None if f.identities is None else [tuple(i) for i in from_json(f.identities)],
            }
            for f in frags
        ],
    }


def count_profiles(engine: Engine) -> int:
    """Number of profiles (not counting ones merged into another)."""
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(profile_table).where(profile_table.c.merged_into.is_(None))
        ).scalar_one()

