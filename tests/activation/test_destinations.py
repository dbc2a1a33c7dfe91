"""Destinations against real stand-ins: sql_table on PostgreSQL and MariaDB (own tables), file_drop
on a local folder and on S3 (moto server), with a retried run that must not duplicate anything."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from headwater.activation.members import acknowledged
from headwater.activation.runner import run_audience
from tests.activation.conftest import audience, load_people
from tests.cloud.conftest import cloud_logs, moto_server, set_connection  # noqa: F401  (shared fixtures)
from tests.services import require_service, unique

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def person(i: int, *, tier: str = "gold", at: int = 0, **extra) -> dict:
    return {"crm_id": f"c{i}", "email": f"p{i}@example.com", "loyalty_tier": tier, "marketing_opt_in": True,
            "first_name": f"P{i}", "loyalty_points": i * 100, "signup_date": datetime(2024, 1, i).date(),
            "updated_at": T0 + timedelta(hours=at), **extra}


def gold(dest: dict) -> dict:
    return {
        "condition": "marketing_opt_in and loyalty_tier = 'gold'",
        "variables": [{"name": "name", "expr": "upper(first_name)"}, {"name": "points", "from": "loyalty_points"},
                      {"name": "signed_up", "from": "signup_date"}],
        "destinations": [dest],
    }


def _lifecycle(store, aud) -> None:
    """Three people enter; one changes, one leaves."""
    load_people(store, [person(1), person(2), person(3)])
    run_audience(store, aud, run_id="run1")
    load_people(store, [person(1, first_name="Ann", at=1), person(2, tier="bronze", at=1)], run_id="r2")
    run_audience(store, aud, run_id="run2")


SQL_BACKENDS = {
    "postgres": {"conn_type": "postgres", "host": "127.0.0.1", "port": 5432, "login": "postgres", "schema": "test"},
    "mysql": {"conn_type": "mysql", "host": "127.0.0.1", "port": 3306, "login": "root", "schema": "test"},
}


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["postgres", "mysql"])
def test_sql_table(store, monkeypatch, backend) -> None:
    from sqlalchemy import create_engine, text

    conn = SQL_BACKENDS[backend]
    require_service("PostgreSQL" if backend == "postgres" else "MariaDB", conn["host"], conn["port"])
    set_connection(monkeypatch, "hw_act_sql", **conn)
    table = unique("activation_members")
    aud = audience(gold({"name": "db", "type": "sql_table", "conn_id": "hw_act_sql", "table": table, "batch_size": 2}))
    url = ("postgresql+psycopg2://postgres@127.0.0.1:5432/test" if backend == "postgres"
           else "mysql+mysqlconnector://root@127.0.0.1:3306/test")
    target = create_engine(url)
    try:
        _lifecycle(store, aud)
        with target.connect() as c:
            rows = c.execute(text(f"SELECT identity, name, points, signed_up FROM {table} ORDER BY identity")).all()
        assert [tuple(r) for r in rows] == [
            ("p1@example.com", "ANN", 100, datetime(2024, 1, 1).date()),
            ("p3@example.com", "P3", 300, datetime(2024, 1, 3).date()),
        ]
        # a whole run retried: nothing to send, the table unchanged
        again = run_audience(store, aud, run_id="run2")
        assert again.destinations["db"].delivery["sent"] == {"remove": 0, "modify": 0, "add": 0}
    finally:
        with target.begin() as c:
            c.execute(text(f"DROP TABLE IF EXISTS {table}"))
        target.dispose()


def _read_drop(files: dict[str, bytes], fmt: str) -> list[dict]:
    rows = []
    for name in sorted(files):
        data = files[name].decode()
        rows += [json.loads(line) for line in data.splitlines()] if fmt == "jsonl" else list(csv.DictReader(io.StringIO(data)))
    return rows


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_file_drop_local(store, tmp_path, fmt) -> None:
    folder = tmp_path / "drop"
    aud = audience(gold({"name": "drop", "type": "file_drop", "uri": str(folder), "format": fmt}))
    _lifecycle(store, aud)
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert len(files) == 2  # one per run that had something to send
    assert {p.stat().st_mode & 0o777 for p in folder.iterdir()} == {0o600}  # HEADWATER_UMASK 077 by default
    assert folder.stat().st_mode & 0o777 == 0o700
    assert not [n for n in files if ".tmp-" in n]
    rows = _read_drop(files, fmt)
    assert sorted((r["op"], r["identity"], str(r["name"])) for r in rows) == [
        ("add", "p1@example.com", "P1"), ("add", "p2@example.com", "P2"), ("add", "p3@example.com", "P3"),
        ("modify", "p1@example.com", "ANN"), ("remove", "p2@example.com", "P2"),
    ]
    run_audience(store, aud, run_id="run3")  # nothing changed: no file
    assert len(list(folder.iterdir())) == 2


@pytest.mark.integration
def test_file_drop_s3(store, monkeypatch, moto_server) -> None:  # noqa: F811
    import boto3

    bucket = unique("hw-act").replace("_", "-")
    s3 = boto3.client("s3", endpoint_url=moto_server.url, aws_access_key_id="test", aws_secret_access_key="test",
                      region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    set_connection(monkeypatch, "hw_act_s3", conn_type="aws", login="test", password="test",
                   extra={"endpoint_url": moto_server.url, "region_name": "us-east-1"})
    aud = audience(gold({"name": "drop", "type": "file_drop", "uri": f"s3://{bucket}/exports/gold", "conn_id": "hw_act_s3",
                         "format": "jsonl"}))
    _lifecycle(store, aud)
    listing = s3.list_objects_v2(Bucket=bucket, Prefix="exports/gold/")["Contents"]
    files = {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listing}
    assert len(files) == 2
    rows = _read_drop(files, "jsonl")
    assert sorted((r["op"], r["identity"]) for r in rows) == [
        ("add", "p1@example.com"), ("add", "p2@example.com"), ("add", "p3@example.com"),
        ("modify", "p1@example.com"), ("remove", "p2@example.com"),
    ]
    assert sorted(acknowledged(store, "vip", "drop").to_pydict()["identity"]) == ["p1@example.com", "p3@example.com"]
