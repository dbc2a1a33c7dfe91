"""Set-based reads and writes (`headwater.store.bulk`) on SQLite and PostgreSQL.

On PostgreSQL each call stages its keys or rows in a temporary table: these tests also check that
no staging table outlives its transaction, whether it commits or rolls back.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from headwater.store import bulk, db
from headwater.store.profiles import identity_table, profile_table

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _profiles(conn, n: int) -> None:
    bulk.insert_rows(conn, profile_table, ("profile_id", "attributes", "created_at", "updated_at"),
                     [(f"p{i}", f'{{"n": {i}, "note": "tab\\there"}}', NOW, NOW) for i in range(n)])


def _empty(engine) -> None:
    with engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


def _staging_tables(conn) -> list[str]:
    return list(conn.exec_driver_sql(
        "SELECT relname FROM pg_class WHERE relpersistence = 't' AND starts_with(relname, '_hw_stage_')"
    ).scalars())


def test_select_update_delete_round_trip(engine):
    with db.write_transaction(engine) as conn:
        _profiles(conn, 5)
        bulk.insert_rows(conn, identity_table, ("namespace", "value", "profile_id", "source", "created_at"),
                         [("email", f"u{i}@x.org", f"p{i}", "crm", NOW) for i in range(5)])
        # A key that is also a column being set: p3 and p4 now redirect to p0, then p0's redirects to p1.
        bulk.update_rows(conn, profile_table, ("profile_id",), ("merged_into",), [("p3", "p0"), ("p4", "p0")])
        bulk.update_rows(conn, profile_table, ("merged_into",), ("merged_into",), [("p0", "p1")])
        bulk.delete_rows(conn, identity_table, ("namespace", "value"), [("email", "u2@x.org"), ("email", "none")])
    with db.write_transaction(engine) as conn:
        found = bulk.select_in(conn, profile_table, ("profile_id", "merged_into", "attributes"), ("profile_id",),
                               [("p3",), ("p4",), ("p9",)])
        owners = bulk.select_in(conn, identity_table, ("value", "profile_id"), ("namespace", "value"),
                                [("email", f"u{i}@x.org") for i in range(5)], where={"source": "crm"})
        other_source = bulk.select_in(conn, identity_table, ("value",), ("namespace", "value"),
                                      [("email", "u1@x.org")], where={"source": "shop"})
    assert sorted(found) == [("p3", "p1", '{"n": 3, "note": "tab\\there"}'), ("p4", "p1", '{"n": 4, "note": "tab\\there"}')]
    assert sorted(owners) == [("u0@x.org", "p0"), ("u1@x.org", "p1"), ("u3@x.org", "p3"), ("u4@x.org", "p4")]
    assert other_source == []


@pytest.mark.integration
def test_postgres_staging_tables_end_with_their_transaction(pg_url):
    engine = db.get_engine(pg_url)
    _empty(engine)
    with engine.connect() as conn:
        with conn.begin():
            _profiles(conn, 3)
            bulk.update_rows(conn, profile_table, ("profile_id",), ("attributes",), [("p1", "{}")])
            assert len(_staging_tables(conn)) == 1  # the update's rows, staged for its join
        with conn.begin():
            assert _staging_tables(conn) == []  # committed: dropped
        with pytest.raises(RuntimeError), conn.begin():
            bulk.select_in(conn, profile_table, ("profile_id",), ("profile_id",), [("p1",)])
            assert len(_staging_tables(conn)) == 1
            raise RuntimeError("roll back")
        with conn.begin():
            assert _staging_tables(conn) == []  # rolled back: gone too
    _empty(engine)
