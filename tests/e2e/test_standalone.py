"""End to end: `make run`'s Airflow parses the demo sources and runs one to success."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
import requests

from .conftest import Standalone, tail

pytestmark = pytest.mark.e2e

DEMO_DAG = "demo_crm_contacts"
REGISTER_TIMEOUT_S = 180
# With an import error reported and still no DAG after this long, the DAG file is broken: stop early.
IMPORT_ERROR_GRACE_S = 60
# Covers one retry of a task (demo_crm_contacts: 1 retry after 1 min) on a busy machine: at a load
# average of ~20 on 2 cores each task took ~1 min and validate (importing GX) 5.5 min.
RUN_TIMEOUT_S = 900
TRIGGER_TIMEOUT_S = 180


def test_api_server_is_local_and_serves_dags(standalone: Standalone) -> None:
    assert standalone.base_url.startswith("http://127.0.0.1:")
    response = standalone.get("/api/v2/dags", params={"limit": 100})
    assert response.status_code == 200, response.text
    assert "dags" in response.json()
    # Local mode: no login, every request is an admin's.
    assert standalone.get("/api/v2/version").status_code == 200


def test_plugins_folder_loads_cleanly(standalone: Standalone) -> None:
    """Airflow imports every .py file under plugins/ as a top-level module (`select`, `runs`, ...)
    unless plugins/.airflowignore keeps the headwater package out; that shadows stdlib modules and
    defines SQLAlchemy tables twice, and tasks then fail."""
    log = standalone.output.read_text(errors="replace")
    failures = sorted(
        {
            line.split("Failed to import plugin", 1)[1].split()[0]
            for line in log.splitlines()
            if "Failed to import plugin" in line
        }
    )
    assert not failures, "Airflow failed to import these plugins/ files as plugins:\n" + "\n".join(failures)


def _import_errors(standalone: Standalone) -> str:
    response = standalone.get("/api/v2/importErrors")
    if response.status_code != 200:
        return f"(GET /api/v2/importErrors: HTTP {response.status_code})"
    errors = response.json().get("import_errors", [])
    return "\n".join(f"{e.get('filename')}:\n{e.get('stack_trace')}" for e in errors) or "(none)"


def _wait_for_dag(standalone: Standalone, dag_id: str) -> dict:
    started = time.monotonic()
    while (waited := time.monotonic() - started) < REGISTER_TIMEOUT_S:
        response = standalone.get(f"/api/v2/dags/{dag_id}")
        if response.status_code == 200:
            return response.json()
        if waited > IMPORT_ERROR_GRACE_S and standalone.get("/api/v2/importErrors").json().get(
            "total_entries"
        ):
            break
        time.sleep(2)
    pytest.fail(
        f"DAG {dag_id} not registered after {waited:.0f} s\n"
        f"--- import errors ---\n{_import_errors(standalone)}\n{standalone.diagnostics()}"
    )


def _trigger(standalone: Standalone, dag_id: str) -> str:
    """Trigger a run of `dag_id` and return its run id.

    The demo sources are unpaused and start together; on the embedded SQLite metadata DB that burst
    of writers can hold the write lock long enough for a REST call made in the middle of it to fail
    ("database is locked"). The run id is chosen here, so a retry after an answer that never came
    back is harmless: 409 means the first try went through.
    """
    run_id = f"e2e__{time.time_ns()}"
    deadline = time.monotonic() + TRIGGER_TIMEOUT_S
    while True:
        try:
            response = standalone.post(
                f"/api/v2/dags/{dag_id}/dagRuns", json={"dag_run_id": run_id, "logical_date": None}
            )
            if response.status_code in (200, 409):
                return run_id
            last = f"HTTP {response.status_code}: {response.text[:500]}"
        except requests.RequestException as exc:
            last = repr(exc)
        if time.monotonic() > deadline:
            pytest.fail(f"could not trigger {dag_id} for {TRIGGER_TIMEOUT_S} s: {last}\n{standalone.diagnostics()}")
        print(f"trigger {dag_id}: {last}; retrying")
        time.sleep(5)


def _active_run(standalone: Standalone, dag_id: str) -> str | None:
    response = standalone.get(f"/api/v2/dags/{dag_id}/dagRuns", params=[("state", "running"), ("state", "queued")])
    if response.status_code != 200:
        return None
    runs = response.json().get("dag_runs", [])
    return runs[0]["dag_run_id"] if runs else None


def _active_runs_report(standalone: Standalone) -> str:
    """Every queued or running DAG run and the state of its tasks: what a stuck run is waiting on."""
    response = standalone.get("/api/v2/dags/~/dagRuns", params=[("state", "running"), ("state", "queued")])
    if response.status_code != 200:
        return f"(active runs: HTTP {response.status_code})"
    lines = ["--- active DAG runs ---"]
    for run in response.json().get("dag_runs", []):
        lines.append(f"{run['dag_id']} {run['dag_run_id']}: {run['state']}")
        tis = standalone.get(f"/api/v2/dags/{run['dag_id']}/dagRuns/{run['dag_run_id']}/taskInstances")
        if tis.status_code == 200:
            for ti in tis.json().get("task_instances", []):
                lines.append(f"    {ti['task_id']}: {ti.get('state')} (try {ti.get('try_number')})")
    return "\n".join(lines)


def _task_report(standalone: Standalone, dag_id: str, run_id: str) -> str:
    lines = []
    response = standalone.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
    if response.status_code == 200:
        for ti in response.json().get("task_instances", []):
            lines.append(f"{ti['task_id']}: {ti.get('state')} (try {ti.get('try_number')})")
    else:
        lines.append(f"(task instances: HTTP {response.status_code})")
    logs_root = standalone.airflow_home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
    for log in sorted(logs_root.glob("task_id=*/attempt=*.log")):
        lines.append(f"--- {log.relative_to(standalone.airflow_home)} ---")
        lines.append(tail(log, 40))
    if not logs_root.exists():
        lines.append(f"(no task logs under {logs_root})")
    return "\n".join(lines)


def _store_rows(db: Path, dag_id: str) -> tuple[int, list[tuple]]:
    with sqlite3.connect(db) as conn:
        profiles = conn.execute("select count(*) from hw_profiles").fetchone()[0]
        runs = conn.execute(
            "select source, dag_id, run_id, status, rows_loaded from hw_runs where source = ? or dag_id = ?",
            (dag_id, dag_id),
        ).fetchall()
    return profiles, runs


def test_demo_source_runs_to_success(standalone: Standalone) -> None:
    started = time.monotonic()
    dag = _wait_for_dag(standalone, DEMO_DAG)
    print(f"\n{DEMO_DAG} registered after {time.monotonic() - started:.1f} s")
    if dag.get("is_paused"):
        standalone.unpause(DEMO_DAG)

    # The unpaused demo starts its scheduled run when Airflow first sees it; with max_active_runs=1
    # a triggered run would only queue behind it. Follow that run when there is one, else trigger.
    run_id = _active_run(standalone, DEMO_DAG) or _trigger(standalone, DEMO_DAG)
    triggered = time.monotonic()

    deadline = time.monotonic() + RUN_TIMEOUT_S
    state = None
    while time.monotonic() < deadline:
        response = standalone.get(f"/api/v2/dags/{DEMO_DAG}/dagRuns/{run_id}")
        if response.status_code == 200:
            state = response.json()["state"]
            if state in ("success", "failed"):
                break
        time.sleep(3)
    print(f"run {run_id} ended {state!r} after {time.monotonic() - triggered:.1f} s")
    if state != "success":
        pytest.fail(
            f"run {run_id} of {DEMO_DAG} ended {state!r} (timeout {RUN_TIMEOUT_S} s)\n"
            f"{_task_report(standalone, DEMO_DAG, run_id)}\n{_active_runs_report(standalone)}\n"
            f"{standalone.diagnostics()}"
        )

    db = standalone.headwater_home / "headwater.db"
    assert db.exists(), f"no profile store at {db}"
    profiles, runs = _store_rows(db, DEMO_DAG)
    assert profiles > 0, "hw_profiles is empty after a successful run"
    assert any(row[3] == "success" for row in runs), f"no success row in hw_runs for {DEMO_DAG}: {runs}"

    # The Sources page (plugin on the api-server) shows the run, and only to an authenticated user.
    page = standalone.get("/headwater/api/sources")
    assert page.status_code == 200, page.text
    row = {r["dag_id"]: r for r in page.json()}[DEMO_DAG]
    # the latest run: ours, or the scheduler's own run of the unpaused demo, which finds the file
    # already ingested (no_data); either way the page reflects the store
    assert row["status"] in ("success", "no_data"), row
    assert row["started_at"] and row["rows_read"] is not None
    # (local mode makes every visitor an admin, so the page is open here; tests/test_ui.py checks
    # that an anonymous request is refused when Airflow's auth applies)
    html = standalone.get("/headwater/sources")
    assert html.status_code == 200 and DEMO_DAG in html.text
    plugins = standalone.get("/api/v2/plugins")
    assert plugins.status_code == 200, plugins.text
    [headwater] = [p for p in plugins.json()["plugins"] if p["name"] == "headwater"]
    assert headwater["external_views"][0]["url_route"] == "headwater-sources"
