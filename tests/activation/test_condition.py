"""The condition compiled to SQL selects exactly the profiles the mapping engine selects on Arrow,
on SQLite and on PostgreSQL (own database), including nulls, booleans, dates and mixed terms."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime

import pytest

from headwater.activation.membership import members, plan
from tests.activation.conftest import WEBHOOK, audience, load_people
from tests.services import require_service

PEOPLE = [
    {"crm_id": f"c{i}", "email": f"p{i}@example.com",
     "country": [None, "GB", "FR", "gb"][i % 4],
     "loyalty_points": None if i % 5 == 0 else i * 10,
     "lifetime_value": None if i % 7 == 0 else i * 2.5,
     "marketing_opt_in": [True, False, None][i % 3],
     "signup_date": date(2024, 1, 1 + i % 28),
     "loyalty_tier": ["gold", "silver", None][i % 3],
     "first_name": ["Ann", "Émile", " bo "][i % 3],
     "updated_at": datetime(2026, 1, 1, tzinfo=UTC)}
    for i in range(60)
]

CONDITIONS = [
    ("country = 'GB'", True),
    ("country != 'GB'", True),
    ("marketing_opt_in", True),
    ("not(marketing_opt_in)", True),
    ("marketing_opt_in = false or loyalty_points > 300", True),
    ("loyalty_points >= 100 and lifetime_value < 100.5", True),
    ("loyalty_points * 2 + 1 > lifetime_value", True),
    ("is_null(country) or is_null(loyalty_points)", True),
    ("coalesce(loyalty_tier, 'none') = 'none'", True),
    ("signup_date >= '2024-01-15' and signup_date < '2024-01-20'", True),
    ("identity_email = 'p7@example.com'", True),
    ("country = null", True),
    # residual (Arrow) terms, alone and next to compiled ones
    ("lower(country) = 'gb'", False),
    ("upper(first_name) = 'ÉMILE' and loyalty_points > 50", None),
    ("trim(first_name) = 'bo' or country = 'FR'", False),
    ("date_diff('day', to_date('2024-01-01'), signup_date) > 10", False),
]


def _engine(kind: str, tmp_path, monkeypatch):
    from headwater.store import db

    if kind == "sqlite":
        return db.get_engine(f"sqlite:///{tmp_path / 'cond.db'}")
    require_service("PostgreSQL", "127.0.0.1", 5432)
    import psycopg2

    name = f"activation_cond_{os.getpid()}"
    conn = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name}")
        cur.execute(f"CREATE DATABASE {name}")
    conn.close()
    return db.get_engine(f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path, monkeypatch):
    from headwater.store import db

    db.reset_engines()
    engine = _engine(request.param, tmp_path, monkeypatch)
    load_people(engine, PEOPLE)
    yield engine
    db.reset_engines()


def test_sql_and_arrow_agree(engine) -> None:
    for condition, compiled in CONDITIONS:
        aud = audience({"condition": condition, "destinations": [WEBHOOK]})
        found = plan(engine, aud)
        if compiled is True:
            assert found.residual == [], condition
        elif compiled is False:
            assert found.pushed == [], condition
        else:
            assert found.pushed and found.residual, condition
        sql = sorted(e for t in members(engine, aud) for e in t.column("identity_email").to_pylist())
        arrow = sorted(e for t in members(engine, aud, pushdown=False) for e in t.column("identity_email").to_pylist())
        assert sql == arrow, condition
        assert 0 < len(arrow) < len(PEOPLE) or condition in ("country = null",), condition


def test_merged_profiles_are_not_members(engine) -> None:
    from sqlalchemy import select

    from headwater.store.profiles import profile_table

    aud = audience({"condition": "country = 'GB'", "destinations": [WEBHOOK]})
    before = sum(t.num_rows for t in members(engine, aud))
    with engine.begin() as conn:
        ids = [r[0] for r in conn.execute(select(profile_table.c.profile_id).order_by(profile_table.c.profile_id).limit(2))]
        survivor = conn.execute(select(profile_table.c.profile_id).where(profile_table.c.profile_id.not_in(ids)).limit(1)).scalar()
        conn.execute(profile_table.update().where(profile_table.c.profile_id.in_(ids)).values(merged_into=survivor))
    gb_merged = [m for t in members(engine, aud) for m in t.column("profile_id").to_pylist() if m in ids]
    assert gb_merged == []
    assert sum(t.num_rows for t in members(engine, aud)) <= before
