"""What PostgreSQL alone can do here for each profile-merge phase: the floor under any write path.

    .venv/bin/python bench/profile_store_ceiling.py [--rows 100000] [--chunk 10000] [--url URL]

`bench/profile_merge.py` times Headwater's profile writer. This script times only the database
work that any writer keeping the store's contract (a profile is complete when its chunk commits)
must do, as set-based SQL with nothing else: no identity resolution, no merge policies, no
JSON built per row in Python (the COPY text is built before the clock starts). Same phases, same
data shape, same chunks, same tables (`headwater.store.db.create_all` in a throwaway database):

1. `new`: COPY the chunk into a temp table; look its 3 identities up; insert one profile, three
   identities and one fragment per record;
2. `stitch`: COPY; look the identities up; insert the new identity (loyalty_id) and the fragment;
   rewrite the joined profile's attributes (`jsonb ||` of the stored view and the new fragment);
3. `attributes`: COPY; update each fragment and rewrite its profile's attributes.

Lines of comparison: `copy_only` (COPY of the same chunk into an unindexed, unlogged table: an
append-only log with nothing derived), the same three phases without the foreign keys and with
`fillfactor = 80` (room for HOT updates), and `batch`: the other write model, an append-only log
resolved afterwards by one set-based rebuild (identity labels propagated to a fixed point in SQL,
latest-wins views with `DISTINCT ON`, indexes built after the load). `batch` is idealised: no
over-merge limits, no lineage, no incremental work, so it is an upper bound for that model.
If a phase's ceiling is below its target, no write path of this shape can meet the target here.
"""

from __future__ import annotations

import io
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from profile_merge import parse_args, scratch_database  # noqa: E402  (bench/ is on sys.path: the script's folder)

TARGETS = {"stitch": 200_000, "attributes": 500_000}
NOW = "2026-01-01T00:00:00+00:00"


def attrs(i: int, version: int) -> str:
    return (f'{{"email": "user{i}@example.com", "first_name": "F", "last_name": "L{i}", "city": "Leeds", '
            f'"country": "GB", "points": {i * version}, "tier": "gold", "updated_at": "2026-01-0{version}"}}')


def chunk_text(phase: str, lo: int, hi: int, pids: list[str]) -> str:
    lines = []
    for i in range(lo, hi):
        if phase == "new":
            cols = (f"C{i}", pids[i], attrs(i, 1), f"user{i}@example.com", f"+4477{i:08d}", f"C{i}")
        elif phase == "stitch":
            cols = (f"L{i}", pids[i], attrs(i, 1), f"user{i}@example.com", "\\N", f"L{i}")
        else:
            cols = (f"C{i}", pids[i], attrs(i, 2), f"user{i}@example.com", f"+4477{i:08d}", f"C{i}")
        lines.append("\t".join(cols))
    return "\n".join(lines) + "\n"


STAGE = ("CREATE TEMP TABLE IF NOT EXISTS stg (record_key text, pid text, attrs text, email text, "
         "phone text, other text) ON COMMIT DELETE ROWS")
LOOKUP = ("SELECT (SELECT count(*) FROM stg s JOIN hw_identities i ON i.namespace = 'email' AND i.value = s.email)"
          " + (SELECT count(*) FROM stg s JOIN hw_identities i ON i.namespace = 'phone' AND i.value = s.phone)")

PHASES = {
    "new": [
        "INSERT INTO hw_profiles (profile_id, attributes, lineage, created_at, updated_at) "
        f"SELECT pid, attrs, '{{}}', '{NOW}', '{NOW}' FROM stg",
        "INSERT INTO hw_identities (namespace, value, profile_id, source, created_at) "
        f"SELECT ns, v, pid, 'crm', '{NOW}' FROM stg, LATERAL (VALUES ('email', email), ('phone', phone), "
        "('crm_id', other)) AS x(ns, v)",
        "INSERT INTO hw_fragments (source, record_key, profile_id, attributes, run_id, updated_at) "
        f"SELECT 'crm', record_key, pid, attrs, 'r1', '{NOW}' FROM stg",
    ],
    "stitch": [
        "INSERT INTO hw_identities (namespace, value, profile_id, source, created_at) "
        f"SELECT 'loyalty_id', other, pid, 'loyalty', '{NOW}' FROM stg",
        "INSERT INTO hw_fragments (source, record_key, profile_id, attributes, run_id, updated_at) "
        f"SELECT 'loyalty', record_key, pid, attrs, 'r2', '{NOW}' FROM stg",
        "UPDATE hw_profiles p SET attributes = (p.attributes::jsonb || s.attrs::jsonb)::text, "
        f"updated_at = '{NOW}' FROM stg s WHERE p.profile_id = s.pid",
    ],
    "attributes": [
        "UPDATE hw_fragments f SET attributes = s.attrs, run_id = 'r3', "
        f"updated_at = '{NOW}' FROM stg s WHERE f.source = 'crm' AND f.record_key = s.record_key",
        "UPDATE hw_profiles p SET attributes = (p.attributes::jsonb || s.attrs::jsonb)::text, "
        f"updated_at = '{NOW}' FROM stg s WHERE p.profile_id = s.pid",
    ],
}


def copy(cur, sql: str, data: str) -> None:
    cur.copy_expert(sql, io.StringIO(data))


def run_phases(dbapi, rows: int, chunk: int, pids: list[str]) -> dict[str, float]:
    out = {}
    cur = dbapi.cursor()
    for phase, statements in PHASES.items():
        texts = [chunk_text(phase, lo, min(lo + chunk, rows), pids) for lo in range(0, rows, chunk)]
        started = time.perf_counter()
        for data in texts:
            cur.execute(STAGE)
            copy(cur, "COPY stg FROM STDIN", data)
            cur.execute(LOOKUP)
            cur.fetchone()
            for sql in statements:
                cur.execute(sql)
            dbapi.commit()
        out[phase] = rows / (time.perf_counter() - started)
    texts = [chunk_text("attributes", lo, min(lo + chunk, rows), pids) for lo in range(0, rows, chunk)]
    cur.execute("CREATE UNLOGGED TABLE hw_log (record_key text, pid text, attrs text, email text, phone text, "
                "other text)")
    dbapi.commit()
    started = time.perf_counter()
    for data in texts:
        copy(cur, "COPY hw_log FROM STDIN", data)
        dbapi.commit()
    out["copy_only"] = rows / (time.perf_counter() - started)
    cur.close()
    return out


def measure(url: str, rows: int, chunk: int, drop_fks: bool = False, fillfactor: int | None = None
            ) -> dict[str, float]:
    """The three phases on the store's tables in a scratch database, optionally altered first."""
    from headwater.store import db

    with scratch_database(url, "hw_ceiling") as scratch:
        engine = db.get_engine(scratch)
        with engine.begin() as conn:
            if drop_fks:
                for table, fk in conn.exec_driver_sql(
                    "SELECT conrelid::regclass::text, conname FROM pg_constraint WHERE contype = 'f'"
                ).all():
                    conn.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{fk}"')
            if fillfactor:
                for table in ("hw_profiles", "hw_fragments"):
                    conn.exec_driver_sql(f"ALTER TABLE {table} SET (fillfactor = {fillfactor})")
        dbapi = engine.raw_connection()
        try:
            return run_phases(dbapi, rows, chunk, [uuid.uuid4().hex for _ in range(rows)])
        finally:
            dbapi.close()
            db.reset_engines()


BATCH_STEPS = [
    "CREATE TABLE e AS SELECT l.seq AS rec, x.ns, x.v FROM log l, "
    "LATERAL (VALUES ('email', l.email), ('phone', l.phone), (l.ons, l.other)) AS x(ns, v) WHERE x.v IS NOT NULL",
    "CREATE TABLE ident AS SELECT ns, v, min(rec) AS lbl FROM e GROUP BY ns, v",
    "CREATE UNIQUE INDEX ON ident (ns, v)",
    "CREATE TABLE rl AS SELECT e.rec, min(i.lbl) AS lbl FROM e JOIN ident i USING (ns, v) GROUP BY e.rec",
]
BATCH_ROUND = [
    "UPDATE ident i SET lbl = m.lbl FROM (SELECT e.ns, e.v, min(r.lbl) AS lbl FROM e JOIN rl r USING (rec) "
    "GROUP BY e.ns, e.v) m WHERE i.ns = m.ns AND i.v = m.v AND m.lbl < i.lbl",
    "CREATE TABLE rl2 AS SELECT e.rec, min(i.lbl) AS lbl FROM e JOIN ident i USING (ns, v) GROUP BY e.rec",
]
BATCH_VIEWS = [
    "CREATE TABLE profiles AS SELECT lbl, jsonb_object_agg(k, val) AS attributes FROM ("
    " SELECT DISTINCT ON (r.lbl, j.key) r.lbl, j.key AS k, j.value AS val"
    " FROM log l JOIN rl r ON r.rec = l.seq, jsonb_each(l.attrs::jsonb) j"
    " ORDER BY r.lbl, j.key, l.updated_at DESC) s GROUP BY lbl",
    "CREATE UNIQUE INDEX ON profiles (lbl)",
    "CREATE TABLE frags AS SELECT l.source, l.record_key, r.lbl, l.attrs FROM log l JOIN rl r ON r.rec = l.seq",
    "CREATE UNIQUE INDEX ON frags (source, record_key)",
    "CREATE INDEX ON frags (lbl)",
]


def batch_log_text(rows: int) -> list[str]:
    """Both sources' records as COPY text for the log: crm (email, phone, crm_id), loyalty (email, loyalty_id)."""
    crm = (f"crm\tC{i}\t2026-01-01\t{attrs(i, 1)}\tuser{i}@example.com\t+4477{i:08d}\tcrm_id\tC{i}"
           for i in range(rows))
    loyalty = (f"loyalty\tL{i}\t2026-01-02\t{attrs(i, 1)}\tuser{i}@example.com\t"
               + (f"+4477{(i + 1) % rows:08d}" if i % 50 == 0 else "\\N") + f"\tloyalty_id\tL{i}"
               for i in range(rows))
    return ["\n".join(crm) + "\n", "\n".join(loyalty) + "\n"]


def batch_rebuild(url: str, rows: int) -> float:
    """Records/s of the idealised append-then-resolve model: COPY both sources, then rebuild in SQL."""
    import psycopg2

    with scratch_database(url, "hw_ceiling") as u:
        dbapi = psycopg2.connect(host=u.host, port=u.port, user=u.username, password=u.password, dbname=u.database)
        try:
            cur = dbapi.cursor()
            cur.execute("CREATE UNLOGGED TABLE log (seq bigserial, source text, record_key text, "
                        "updated_at timestamptz, attrs text, email text, phone text, ons text, other text)")
            dbapi.commit()
            texts = batch_log_text(rows)
            started = time.perf_counter()
            for data in texts:
                copy(cur, "COPY log (source, record_key, updated_at, attrs, email, phone, ons, other) FROM STDIN",
                     data)
                dbapi.commit()
            for sql in BATCH_STEPS:
                cur.execute(sql)
            while True:  # propagate the smallest label through shared identities until nothing moves
                cur.execute(BATCH_ROUND[0])
                moved = cur.rowcount
                cur.execute(BATCH_ROUND[1])
                cur.execute("SELECT count(*) FROM rl2 JOIN rl USING (rec) WHERE rl2.lbl <> rl.lbl")
                moved += cur.fetchone()[0]
                cur.execute("DROP TABLE rl; ALTER TABLE rl2 RENAME TO rl")
                if not moved:
                    break
            for sql in BATCH_VIEWS:
                cur.execute(sql)
            dbapi.commit()
            return 2 * rows / (time.perf_counter() - started)
        finally:
            dbapi.close()


def main() -> int:
    args = parse_args(__doc__)
    results = {
        "store tables": measure(args.url, args.rows, args.chunk),
        "without FKs": measure(args.url, args.rows, args.chunk, drop_fks=True),
        "fillfactor 80": measure(args.url, args.rows, args.chunk, fillfactor=80),
    }
    batch = batch_rebuild(args.url, args.rows)
    print(f"{'tables':<14} {'new':>9} {'stitch':>9} {'attributes':>11} {'copy_only':>10}   (rows/s)")
    for label, r in results.items():
        print(f"{label:<14} {r['new']:>9,.0f} {r['stitch']:>9,.0f} {r['attributes']:>11,.0f} {r['copy_only']:>10,.0f}")
    print(f"batch rebuild (append both sources, then resolve in SQL): {batch:,.0f} records/s")
    best = {p: max(max(r[p] for r in results.values()), batch) for p in TARGETS}
    unreachable = [f"{p} {best[p]:,.0f} < {t:,}" for p, t in TARGETS.items() if best[p] < t]
    if unreachable:
        print("ceiling below target: " + "; ".join(unreachable))
    return 0


if __name__ == "__main__":
    sys.exit(main())
