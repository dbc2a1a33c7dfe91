from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import func, select

from headwater.store.profiles import (
    count_profiles,
    fragment_table,
    identity_table,
    lookup_profile,
    profile_table,
    upsert_profiles,
)

IDENTITIES = [("email", "email"), ("phone", "phone")]


def _upsert(engine, rows, source="crm", run_id="run_1", record_key="id", updated_at="updated_at"):
    return upsert_profiles(
        engine,
        source=source,
        run_id=run_id,
        rows=rows,
        identities=IDENTITIES,
        record_key=record_key,
        updated_at=updated_at,
    )


def _snapshot(engine):
    """Everything the store holds about profiles, with generated ids replaced by their order."""
    with engine.connect() as conn:
        return {
            t.name: sorted(map(tuple, conn.execute(select(t)).all()), key=repr)
            for t in (profile_table, identity_table, fragment_table)
        }


def test_new_profiles_and_value_types(engine):
    rows = [
        {
            "id": 1,
            "email": " Ann@Example.COM ",
            "name": "Ann",
            "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
            "balance": Decimal("10.50"),
            "born": date(1990, 5, 6),
            "_hw_row": 0,
        },
        {
            "id": 2,
            "email": "bob@example.com",
            "phone": " +44 20 7946 0012 ",
            "name": "Bob",
            "updated_at": "2026-01-01T00:00:00Z",
            "score": float("nan"),
        },
    ]
    assert _upsert(engine, rows) == 2
    assert count_profiles(engine) == 2
    ann = lookup_profile(engine, "email", "ann@example.com ")
    assert ann["attributes"] == {
        "id": 1,
        "email": " Ann@Example.COM ",
        "name": "Ann",
        "updated_at": "2026-01-01T00:00:00+00:00",
        "balance": "10.50",
        "born": "1990-05-06",
    }
    assert ann["identities"] == [{"namespace": "email", "value": "ann@example.com", "source": "crm"}]
    [frag] = ann["fragments"]
    assert (frag["source"], frag["record_key"], frag["run_id"]) == ("crm", "1", "run_1")
    assert frag["source_updated_at"] == datetime(2026, 1, 1, tzinfo=UTC)
    bob = lookup_profile(engine, "phone", "020 7946 0012")
    assert bob["attributes"]["name"] == "Bob"
    assert "score" not in bob["attributes"]  # NaN is stored as null, and nulls never win a merge
    assert bob["fragments"][0]["attributes"]["score"] is None
    assert [i["namespace"] for i in bob["identities"]] == ["email", "phone"]
    assert lookup_profile(engine, "email", "nobody@example.com") is None


def test_second_source_sharing_email_attaches_and_latest_update_wins(engine):
    _upsert(
        engine,
        [
            {
                "id": "c1",
                "email": "ann@example.com",
                "name": "Ann",
                "city": "Leeds",
                "tier": "gold",
                "updated_at": "2026-03-01T00:00:00+00:00",
            }
        ],
    )
    # The shop knows Ann by another id; its record is older for `city`, newer for `name`.
    _upsert(
        engine,
        [
            {
                "id": "s9",
                "email": "ANN@example.com",
                "name": "Ann Smith",
                "city": None,
                "updated_at": "2026-04-01T00:00:00+00:00",
            }
        ],
        source="shop",
    )
    _upsert(
        engine,
        [
            {
                "id": "old",
                "email": "ann@example.com",
                "tier": "bronze",
                "updated_at": "2025-01-01T00:00:00+00:00",
            }
        ],
        source="legacy",
    )
    assert count_profiles(engine) == 1
    ann = lookup_profile(engine, "email", "ann@example.com")
    assert ann["attributes"] == {
        "id": "s9",  # shop's record is the latest update
        "email": "ANN@example.com",
        "name": "Ann Smith",
        "city": "Leeds",  # shop's city is null: the newest non-null value stays
        "tier": "gold",  # legacy's tier is older
        "updated_at": "2026-04-01T00:00:00+00:00",
    }
    assert [(f["source"], f["record_key"]) for f in ann["fragments"]] == [
        ("crm", "c1"),
        ("legacy", "old"),
        ("shop", "s9"),
    ]

    # A later update of the crm record wins again for what it sets.
    _upsert(
        engine,
        [
            {
                "id": "c1",
                "email": "ann@example.com",
                "name": "Ann S.",
                "city": "York",
                "tier": "gold",
                "updated_at": "2026-05-01T00:00:00+00:00",
            }
        ],
        run_id="run_2",
    )
    ann = lookup_profile(engine, "email", "ann@example.com")
    assert (ann["attributes"]["name"], ann["attributes"]["city"], ann["attributes"]["id"]) == (
        "Ann S.",
        "York",
        "c1",
    )


def test_record_found_by_key_keeps_profile_when_email_changes(engine):
    _upsert(engine, [{"id": 7, "email": "old@example.com", "updated_at": "2026-01-01T00:00:00+00:00"}])
    _upsert(engine, [{"id": 7, "email": "new@example.com", "updated_at": "2026-02-01T00:00:00+00:00"}])
    assert count_profiles(engine) == 1
    profile = lookup_profile(engine, "email", "new@example.com")
    assert profile["profile_id"] == lookup_profile(engine, "email", "old@example.com")["profile_id"]
    assert profile["attributes"]["email"] == "new@example.com"


def test_record_linking_two_profiles_merges_them_into_the_oldest(engine):
    _upsert(engine, [{"id": 1, "email": "a@example.com"}])
    _upsert(engine, [{"id": 2, "phone": "+442079460555"}])
    first = lookup_profile(engine, "email", "a@example.com")["profile_id"]
    second = lookup_profile(engine, "phone", "+442079460555")["profile_id"]
    assert count_profiles(engine) == 2
    _upsert(engine, [{"id": 3, "email": "a@example.com", "phone": "+442079460555"}], source="shop")
    assert count_profiles(engine) == 1
    a = lookup_profile(engine, "email", "a@example.com")
    assert a["profile_id"] == first  # the oldest survives
    assert a["merged_from"] == [second]
    assert [(f["source"], f["record_key"]) for f in a["fragments"]] == [("crm", "1"), ("crm", "2"), ("shop", "3")]
    assert lookup_profile(engine, "phone", "+442079460555")["profile_id"] == first


def test_idempotent_reupsert(engine):
    rows = [
        {"id": i, "email": f"u{i}@example.com", "phone": f"+4420794600{i % 3:02d}", "updated_at": None} for i in range(50)
    ]
    rows += [{"id": 5, "email": "u5@example.com", "name": "dup in chunk"}]
    assert _upsert(engine, rows) == 51
    before = _snapshot(engine)
    assert _upsert(engine, rows) == 51
    assert _snapshot(engine) == before  # nothing rewritten, not even timestamps
    assert lookup_profile(engine, "email", "u5@example.com")["attributes"]["name"] == "dup in chunk"


def test_within_chunk_same_key_latest_update_wins(engine):
    rows = [
        {"id": 1, "email": "x@example.com", "name": "new", "updated_at": "2026-02-01T00:00:00+00:00"},
        {"id": 1, "email": "x2@example.com", "name": "old", "updated_at": "2026-01-01T00:00:00+00:00"},
    ]
    _upsert(engine, rows)
    profile = lookup_profile(engine, "email", "x2@example.com")
    assert profile["attributes"]["name"] == "new"
    assert {i["value"] for i in profile["identities"]} == {"x@example.com", "x2@example.com"}


def test_rows_without_key_or_identity_are_skipped(engine, caplog):
    rows = [
        {"id": None, "email": "  ", "phone": None, "name": "ghost"},
        {"id": "", "email": "k@example.com", "name": "keyed by email"},
        {"name": "nothing at all"},
    ]
    assert _upsert(engine, rows) == 1
    assert "2 of 3 rows have no record key and no identity" in caplog.text
    profile = lookup_profile(engine, "email", "k@example.com")
    assert profile["fragments"][0]["record_key"] == "email:k@example.com"
    assert count_profiles(engine) == 1


def test_without_record_key_field(engine):
    rows = [{"email": "q@example.com", "name": "Q"}, {"phone": "+442079460123", "name": "P"}, {"name": "skip"}]
    assert _upsert(engine, rows, record_key=None, updated_at=None) == 2
    assert lookup_profile(engine, "phone", "+442079460123")["fragments"][0]["record_key"] == "phone:+442079460123"


def test_20k_rows(engine):
    n = 20_000
    now = datetime(2026, 6, 1, tzinfo=UTC)
    rows = [
        {
            "id": i,
            "email": f"user{i}@example.com",
            "phone": f"+1555{i:07d}",
            "first_name": "F",
            "last_name": f"L{i}",
            "country": "GB",
            "ltv": Decimal(i) / 100,
            "updated_at": now,
        }
        for i in range(n)
    ]
    started = time.perf_counter()
    for i in range(0, n, 10_000):
        assert _upsert(engine, rows[i : i + 10_000]) == 10_000
    elapsed = time.perf_counter() - started
    print(f"\n{engine.dialect.name}: {n} profile upserts in {elapsed:.2f}s = {n / elapsed:,.0f} rows/s")
    assert count_profiles(engine) == n
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(identity_table)).scalar() == 2 * n
    assert lookup_profile(engine, "phone", "+15550012345")["attributes"]["last_name"] == "L12345"


def test_concurrent_writers_share_profiles(engine):
    """Two sources loading the same people at once (as two Airflow tasks would) stitch, not duplicate."""
    people = [{"id": i, "email": f"p{i}@example.com", "updated_at": None} for i in range(2000)]

    def load(source):
        for i in range(0, len(people), 250):
            _upsert(engine, people[i : i + 250], source=source)

    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(load, ["crm", "shop", "web"]))
    assert count_profiles(engine) == len(people)
    assert len(lookup_profile(engine, "email", "p1999@example.com")["fragments"]) == 3
