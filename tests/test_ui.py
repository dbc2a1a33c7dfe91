"""The Sources page: behind Airflow's authentication, one row per source with its latest run."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from airflow.api_fastapi.app import create_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    from headwater.store import db
    from headwater.ui.app import app

    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True")
    sources = tmp_path / "sources"
    sources.mkdir()
    shutil.copy(REPO / "include" / "sources" / "demo_crm_contacts.yaml", sources)
    (sources / "broken.yaml").write_text((REPO / "tests" / "config" / "invalid_sources" / "bad_mode.yaml").read_text())
    monkeypatch.setenv("HEADWATER_SOURCES_DIR", str(sources))
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "home"))
    db.reset_engines()
    create_auth_manager()
    yield TestClient(app), SimpleAuthManagerUser(username="admin", role="admin")
    app.dependency_overrides.clear()
    db.reset_engines()


def test_anonymous_requests_are_refused(client) -> None:
    http, _ = client
    assert http.get("/sources").status_code == 401
    assert http.get("/api/sources", headers={"Authorization": "Bearer not-a-jwt"}).status_code in (401, 403)


def test_page_lists_sources_runs_and_broken_files(client) -> None:
    from airflow.api_fastapi.core_api.security import get_user

    from headwater.store import db, runs
    from headwater.ui.app import app

    http, user = client
    app.dependency_overrides[get_user] = lambda: user  # stands for a valid session: auth itself is tested above
    runs.record_run(
        db.get_engine(),
        runs.RunRecord(
            source="demo_crm_contacts", run_id="r1", status="success", rows_read=61, rows_mapped=59,
            rows_quarantined=3, rows_loaded=58, started_at=datetime(2026, 11, 1, 6, tzinfo=UTC),
            errors_by_code={"CAST_FAILED": 1},
        ),
    )
    data = {row["dag_id"]: row for row in http.get("/api/sources").json()}
    assert data["demo_crm_contacts"]["status"] == "success"
    assert data["demo_crm_contacts"]["rows_loaded"] == 58
    assert data["broken"]["problems"] == ["load.mode: expected one of 'append' or 'merge', got 'upsert'"]
    page = http.get("/sources").text
    assert "demo_crm_contacts" in page and "CAST_FAILED: 1" in page and "invalid source file" in page


def test_plugin_registers_the_page_and_the_app() -> None:
    import importlib

    plugin = importlib.import_module("headwater_plugin").HeadwaterPlugin()
    [view] = plugin.external_views
    assert view["href"] == "/headwater/sources"
    [mounted] = plugin.fastapi_apps
    assert mounted["url_prefix"] == "/headwater"


def test_page_lists_audiences_with_their_runs(client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml
    from airflow.api_fastapi.core_api.security import get_user

    from headwater.activation.members import record_run
    from headwater.store import db
    from headwater.ui.app import app

    http, user = client
    app.dependency_overrides[get_user] = lambda: user
    folder = tmp_path / "audiences"
    folder.mkdir()
    hook = {"name": "hook", "type": "webhook", "conn_id": "c"}
    (folder / "vip.yaml").write_text(yaml.safe_dump({"condition": "marketing_opt_in", "destinations": [hook]}))
    (folder / "bad.yaml").write_text(yaml.safe_dump({"condition": "x =", "destinations": [hook]}))
    monkeypatch.setenv("HEADWATER_AUDIENCES_DIR", str(folder))
    engine = db.get_engine()
    for n, (members, error) in enumerate([(10, None), (12, "hook: HTTP 503")]):
        record_run(engine, {"audience": "vip", "run_id": f"r{n}", "destination": "hook", "status": "failed" if error else "success",
                            "members": members, "adds": 2, "removes": 1, "modifies": 0, "sent": 3 - n, "failed": 0,
                            "invalid": 0, "skipped": 0, "last_error": error, "ended_at": datetime(2026, 11, 1, n, tzinfo=UTC)})
    data = {row["dag_id"]: row for row in http.get("/api/audiences").json()}
    assert data["audience_vip"]["sizes"] == [10, 12]
    assert (data["audience_vip"]["status"], data["audience_vip"]["sent"], data["audience_vip"]["last_error"]) == ("failed", 2, "hook: HTTP 503")
    assert data["audience_bad"]["problems"] == ["condition: invalid expression: expected a value at position 3, found end of expression"]
    page = http.get("/sources").text
    assert "Audiences" in page and "10 → 12" in page and "hook: HTTP 503" in page and "invalid audience file" in page
