"""End to end: the bad-config corpus beside the shipped sources, through the real dag-processor.

Airflow's dag-processor (unlike an in-process DagBag) marks every DAG of a DAG file stale as soon
as the file has an import error, so this is where "one broken file takes every DAG down" shows.
Every good source's DAG must stay active, the DAG file must have no import error, every invalid
file must show as its failing placeholder (and on the Sources page), and a placeholder's run must
fail at once with the file's issues.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.config.corpus import OWNERS
from tests.config.test_source_files import CASES

from .conftest import SHIPPED_SOURCES, Standalone, tail
from .test_standalone import _import_errors, _task_report, _trigger

pytestmark = pytest.mark.e2e

REGISTER_TIMEOUT_S = 300
RUN_TIMEOUT_S = 300
SHARED = {"conflict_id_a": "shared_dag", "conflict_id_b": "shared_dag"}  # no owner: one placeholder


def _placeholder_ids() -> set[str]:
    return {SHARED.get(case.values[0], case.values[0]) for case in CASES}


def _good_ids() -> set[str]:
    return {p.stem for p in SHIPPED_SOURCES.glob("*.yaml")} | set(OWNERS)


def _dags(standalone: Standalone) -> dict[str, dict]:
    response = standalone.get("/api/v2/dags", params={"limit": 500, "exclude_stale": "false"})
    assert response.status_code == 200, response.text
    return {d["dag_id"]: d for d in response.json()["dags"]}


def _wait_for_all(standalone: Standalone) -> dict[str, dict]:
    expected = _good_ids() | _placeholder_ids()
    started = time.monotonic()
    while True:
        dags = _dags(standalone)
        active = {dag_id for dag_id, d in dags.items() if not d.get("is_stale")}
        if expected <= active:
            print(f"\n{len(expected)} DAGs active after {time.monotonic() - started:.1f} s")
            return dags
        if time.monotonic() - started > REGISTER_TIMEOUT_S:
            pytest.fail(
                f"not active after {REGISTER_TIMEOUT_S} s: {sorted(expected - active)}\n"
                f"stale: {sorted(d for d in dags if dags[d].get('is_stale'))}\n"
                f"--- import errors ---\n{_import_errors(standalone)}\n{standalone.diagnostics()}"
            )
        time.sleep(3)


def test_good_sources_stay_active_beside_the_bad_config_corpus(standalone: Standalone) -> None:
    dags = _wait_for_all(standalone)
    for dag_id in _good_ids():
        tags = {t["name"] for t in dags[dag_id]["tags"]}
        assert not dags[dag_id]["is_stale"] and "headwater:invalid" not in tags, dags[dag_id]
    for dag_id in _placeholder_ids():
        assert "headwater:invalid" in {t["name"] for t in dags[dag_id]["tags"]}, dags[dag_id]
    errors = standalone.get("/api/v2/importErrors").json().get("import_errors", [])
    assert not [e for e in errors if e["filename"].endswith("headwater_sources.py")], _import_errors(standalone)

    # the Sources page lists every invalid file under its placeholder's id, with its message
    rows = standalone.get("/headwater/api/sources")
    assert rows.status_code == 200, rows.text
    by_file = {Path(r["file"]).stem: r for r in rows.json()}
    for case in CASES:
        name, loc, message = case.values
        row = by_file[name]
        assert row["dag_id"] == SHARED.get(name, name) and row["status"] == "invalid", row
        expected = message.format(dir=standalone.sources_dir)
        assert (f"{loc}: {expected}" if loc else expected) in row["problems"], row
    for dag_id in _good_ids():
        assert by_file[dag_id]["problems"] == [], by_file[dag_id]


def test_a_placeholder_run_fails_at_once_with_the_issues(standalone: Standalone) -> None:
    dag_id = "typo_key"
    _wait_for_all(standalone)
    standalone.unpause(dag_id)
    run_id = _trigger(standalone, dag_id)
    deadline = time.monotonic() + RUN_TIMEOUT_S
    state = None
    while time.monotonic() < deadline:
        response = standalone.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
        if response.status_code == 200 and (state := response.json()["state"]) in ("success", "failed"):
            break
        time.sleep(3)
    report = _task_report(standalone, dag_id, run_id)
    assert state == "failed", f"run of {dag_id} ended {state!r}\n{report}\n{standalone.diagnostics()}"
    [ti] = standalone.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances").json()["task_instances"]
    assert ti["state"] == "failed" and ti["try_number"] == 1, ti  # no retry of a config error
    log = standalone.airflow_home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / "task_id=invalid_source_file"
    text = "\n".join(tail(p, 200) for p in sorted(log.glob("attempt=*.log")))
    issue = f"{standalone.sources_dir / 'typo_key.yaml'}: connector.cursr: unknown key 'cursr'; did you mean 'cursor'?"
    assert issue in text, report
