"""An audience DAG through `airflow dags test`, as an operator would run it: profiles in the
project's store, a file_drop destination in a local folder; then a second run after changes, and
a retry of the whole run that must send nothing twice."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from headwater.activation.members import acknowledged, runs_for
from headwater.store import db
from tests.activation.conftest import load_people

pytestmark = pytest.mark.dagrun

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _person(i: int, tier: str = "gold", at: int = 0) -> dict:
    return {"crm_id": f"c{i}", "email": f"p{i}@example.com", "loyalty_tier": tier, "marketing_opt_in": True,
            "first_name": f"P{i}", "loyalty_points": 100 * i, "updated_at": T0 + timedelta(hours=at)}


def test_audience_dag_runs_in_airflow(project) -> None:
    folder = project.root / "drop"
    audiences = project.root / "include" / "audiences"
    for old in audiences.glob("*.yaml"):
        old.unlink()
    (audiences / "gold.yaml").write_text(yaml.safe_dump({
        "condition": "marketing_opt_in and loyalty_tier = 'gold' and upper(first_name) != 'P9'",
        "variables": [{"name": "points", "from": "loyalty_points"}],
        "destinations": [{"name": "drop", "type": "file_drop", "uri": str(folder), "format": "csv"}],
        "schedule": {"cron": "0 7 * * *", "start_date": "2026-01-01"},
    }))
    engine = db.get_engine()
    load_people(engine, [_person(1), _person(2), _person(3, tier="silver"), _person(9)])

    first = project.dags_test("audience_gold", "2026-03-01")
    assert first.state == "success", first.output
    [file] = folder.iterdir()
    rows = list(csv.DictReader(file.open()))
    assert sorted((r["op"], r["identity"], r["points"]) for r in rows) == [
        ("add", "p1@example.com", "100"), ("add", "p2@example.com", "200")]

    load_people(engine, [_person(1, at=1) | {"loyalty_points": 150}, _person(2, tier="bronze", at=1)], run_id="r2")
    second = project.dags_test("audience_gold", "2026-03-02")
    assert second.state == "success", second.output
    newest = max(folder.iterdir(), key=lambda p: p.stat().st_mtime_ns)
    assert sorted((r["op"], r["identity"], r["points"]) for r in csv.DictReader(newest.open())) == [
        ("modify", "p1@example.com", "150"), ("remove", "p2@example.com", "200")]

    # the same logical date again (a retried run): everything is acknowledged, nothing is written
    third = project.dags_test("audience_gold", "2026-03-03")
    assert third.state == "success", third.output
    assert len(list(folder.iterdir())) == 2
    assert acknowledged(engine, "gold", "drop").to_pydict()["identity"] == ["p1@example.com"]
    records = runs_for(engine, "gold")
    assert {r["status"] for r in records} == {"success"}
    assert sorted((r["adds"], r["removes"], r["modifies"], r["sent"]) for r in records) == [(0, 0, 0, 0), (0, 1, 1, 2), (2, 0, 0, 2)]


def test_demo_audience_over_the_demo_profiles(project) -> None:
    """The shipped demo audience after the two demo profile sources: a CSV under $HEADWATER_HOME/exports."""
    import shutil

    from headwater.activation.loader import find_audience
    from headwater.activation.runner import run_audience
    from tests.dagrun.conftest import REPO

    for name in ("demo_crm_contacts", "demo_loyalty_members"):
        shutil.copy(REPO / "include" / "sources" / f"{name}.yaml", project.sources)
        result = project.dags_test(name, "2026-03-01")
        assert result.state == "success", result.output
    engine = db.get_engine()
    preview = run_audience(engine, find_audience("demo_gold_members"), send=False)
    members = preview.members.num_rows
    assert members > 0
    run = project.dags_test("audience_demo_gold_members", "2026-03-01")
    assert run.state == "success", run.output
    [file] = (project.root / "home" / "exports" / "gold_members").iterdir()
    rows = list(csv.DictReader(file.open()))
    assert len(rows) == members and {r["op"] for r in rows} == {"add"}
    assert set(rows[0]) == {"op", "profile_id", "identity", "idempotency_key", "first_name", "tier", "points", "country"}
