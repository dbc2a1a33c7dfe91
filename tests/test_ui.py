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
            errors_by_code={"CAST_FAILED": 1}, api_calls=1234,
        ),
    )
    data = {row["dag_id"]: row for row in http.get("/api/sources").json()}
    assert data["demo_crm_contacts"]["api_calls"] == 1234
    assert data["demo_crm_contacts"]["status"] == "success"
    assert data["demo_crm_contacts"]["rows_loaded"] == 58
    assert data["broken"]["problems"] == ["load.mode: expected one of 'append' or 'merge', got 'upsert'"]
    page = http.get("/sources").text
    assert "demo_crm_contacts" in page and "CAST_FAILED: 1" in page and "invalid source file" in page
    assert "<th>API calls</th>" in page and "<td class='n'>1,234</td>" in page


def test_plugin_registers_the_page_and_the_app() -> None:
    import importlib

    plugin = importlib.import_module("headwater_plugin").HeadwaterPlugin()
    [view] = plugin.external_views
    assert view["href"] == "/headwater/sources"
    [mounted] = plugin.fastapi_apps
    assert mounted["url_prefix"] == "/headwater"


ENDPOINTS = ("/sources", "/api/sources", "/sources/demo_crm_contacts", "/api/sources/demo_crm_contacts")


@pytest.mark.parametrize("path", ENDPOINTS)
def test_every_endpoint_refuses_anonymous_requests(client, path: str) -> None:
    http, _ = client
    assert http.get(path).status_code == 401
    assert http.get(path, headers={"Authorization": "Bearer not-a-jwt"}).status_code in (401, 403)


def test_source_pages_follow_airflow_dag_permissions(client) -> None:
    """A signed-in user who may not read the DAG sees neither its row nor its page (404, as for a
    source that does not exist)."""
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.security import get_user

    from headwater.ui.app import app

    http, _ = client
    app.dependency_overrides[get_user] = lambda: SimpleAuthManagerUser(username="nobody", role=None)
    import os

    os.environ.pop("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", None)
    from airflow.configuration import conf

    conf.set("core", "simple_auth_manager_all_admins", "False")
    try:
        assert http.get("/api/sources").json() == []
        assert http.get("/api/sources/demo_crm_contacts").status_code == 404
        assert http.get("/sources/demo_crm_contacts").status_code == 404
    finally:
        conf.set("core", "simple_auth_manager_all_admins", "True")


def _record(source: str, run_id: str, status: str, hour: int, **kwargs):
    from headwater.store import runs

    return runs.RunRecord(
        source=source, run_id=run_id, status=status, started_at=datetime(2026, 11, 1, hour, tzinfo=UTC),
        ended_at=datetime(2026, 11, 1, hour, 1, tzinfo=UTC), **kwargs,
    )


@pytest.fixture
def signed_in(client):
    from airflow.api_fastapi.core_api.security import get_user

    from headwater.ui.app import app

    http, user = client
    app.dependency_overrides[get_user] = lambda: user  # stands for a valid session: auth itself is tested above
    return http


def test_last_successful_load_stays_visible_and_notes_are_not_errors(signed_in) -> None:
    from headwater.store import db, runs

    engine = db.get_engine()
    runs.record_run(engine, _record("demo_crm_contacts", "r1", "success", 6, rows_read=61, rows_loaded=58))
    note = "1 file(s) unchanged since the last run, skipped"
    runs.record_run(engine, _record("demo_crm_contacts", "r2", "no_data", 7, error_summary=note))
    row = {r["dag_id"]: r for r in signed_in.get("/api/sources").json()}["demo_crm_contacts"]
    assert row["status"] == "no_data" and row["rows_loaded"] == 0
    assert row["last_success_run"] == "r1" and row["last_success_loaded"] == 58 and row["last_success_read"] == 61
    assert row["last_success_at"].startswith("2026-11-01T06:01")
    # the demo runs daily: the limit is two days, and 2026-11-01 is long past
    assert row["freshness"] == "stale" and row["freshness_limit_s"] == 2 * 86400
    assert row["owner"] == "crm-team" and row["tags"] == ["crm", "demo"]
    page = signed_in.get("/sources").text
    assert f"<span class='note'>{note}</span>" in page
    assert f"<span class='problem'>{note}" not in page


def test_filters(signed_in) -> None:
    from headwater.store import db, runs

    runs.record_run(db.get_engine(), _record("demo_crm_contacts", "r1", "failed", 6, error_summary="load: boom"))
    names = lambda **q: [r["dag_id"] for r in signed_in.get("/api/sources", params=q).json()]  # noqa: E731
    assert names(status="failed") == ["demo_crm_contacts"]
    assert names(status="success") == []
    assert names(connector="local_files") == ["demo_crm_contacts"]
    assert names(connector="postgres") == []
    assert names(owner="crm-team", tag="crm") == ["demo_crm_contacts"]
    assert names(tag="nope") == []
    assert names(status="invalid") == ["broken"]
    page = signed_in.get("/sources", params={"status": "failed"}).text
    assert "1 of 2" in page and "<span class='problem'>load: boom</span>" in page


def test_source_page_history_chart_errors_gx_mapping_state(signed_in, tmp_path: Path) -> None:
    from headwater.lake.quarantine import errors_to_table, write_quarantine
    from headwater.lake.results import save_validation_result
    from headwater.records import RowError
    from headwater.store import db, runs, state

    engine = db.get_engine()
    uri = save_validation_result(
        "demo_crm_contacts", "r2",
        {"summary": {"success": False, "chunks": 1, "rows": 61, "rows_failed": 2, "expectations": [
            {"loc": "validate.expectations[1]", "type": "expect_column_values_to_match_regex",
             "kwargs": {"column": "email"}, "success": False, "element_count": 61, "unexpected_count": 2,
             "observed_values": [], "exceptions": []}]}, "chunks": [], "table_failures": []},
    )
    runs.record_run(engine, _record("demo_crm_contacts", "r1", "success", 6, rows_read=10, rows_mapped=10, rows_loaded=10,
                                    watermark_after="1 file(s) ingested", details={"files_read": 1}))
    runs.record_run(engine, _record(
        "demo_crm_contacts", "r2", "success", 7, rows_read=61, rows_mapped=60, rows_quarantined=3, rows_loaded=58,
        watermark_before="1 file(s) ingested", watermark_after="2 file(s) ingested",
        errors_by_code={"EXPECTATION_FAILED": 2, "CAST_FAILED": 1},
        details={"files_read": 1, "files": ["crm_contacts.csv"], "gx_result": uri},
    ))
    bad = [
        RowError(stage="validate", row=4, code="EXPECTATION_FAILED", column="email", value="not-an-email",
                 message="does not match", record='{"Email": "not-an-email", "token": "password=hunter2"}'),
        RowError(stage="map", row=9, code="CAST_FAILED", column="birth_date", value="31/02/1990", message="bad date"),
    ]
    write_quarantine([errors_to_table(bad)], source="demo_crm_contacts", run_id="r2", batch="b1")
    state.set_state(engine, "demo_crm_contacts", {"files": {"crm_contacts.csv": {"version": "v1", "mtime": 1.0, "size": 123}}}, "r2")

    data = signed_in.get("/api/sources/demo_crm_contacts").json()
    assert [r["run_id"] for r in data["runs"]] == ["r2", "r1"]
    assert data["errors_by_code"] == {"EXPECTATION_FAILED": 2, "CAST_FAILED": 1}
    assert data["samples"]["CAST_FAILED"][0]["value"] == "31/02/1990"
    sample = data["samples"]["EXPECTATION_FAILED"][0]
    assert sample["value"] == "not-an-email" and "hunter2" not in sample["record"]
    assert data["gx_run"] == "r2" and data["gx"]["summary"]["rows_failed"] == 2
    assert data["state"]["files"]["crm_contacts.csv"]["size"] == 123 and data["state_run"] == "r2"
    assert {"to": "crm_id", "from": "Contact ID", "transform": ["trim"]} in data["mapping"]
    assert data["expectations"][0]["type"] == "expect_column_values_to_not_be_null"

    page = signed_in.get("/sources/demo_crm_contacts").text
    assert "<svg id='run-chart'" in page and page.count("<g class='run'>") == 2
    assert "1 file(s) ingested → 2 file(s) ingested" in page
    assert "expect_column_values_to_match_regex" in page and "2 / 61" in page
    assert "not-an-email" in page and "hunter2" not in page
    assert "href='/dags/demo_crm_contacts'" in page and "id='asset-link'" in page
    assert "crm_contacts.csv" in page
    assert signed_in.get("/sources/no_such_source").status_code == 404


def test_run_chart_scales_bars_and_duration() -> None:
    from headwater.ui.page import run_chart

    records = [
        _record("s", "r2", "success", 7, rows_loaded=50, duration_s=30.0),
        _record("s", "r1", "success", 6, rows_loaded=100, rows_quarantined=0, duration_s=60.0),
    ]
    svg = run_chart(records, width=200, height=120)
    # plot height 120-12-28 = 80: r1 (oldest, left) is the tallest bar, r2 half of it
    assert "class='loaded' x=" in svg and "height='80.0'" in svg and "height='40.0'" in svg
    assert svg.index("r1: success") < svg.index("r2: success")


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
