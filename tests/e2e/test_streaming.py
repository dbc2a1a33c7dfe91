"""Streaming end to end on the Airflow `make run` starts: an identify call sent to the inlet it
started becomes a profile through the event-driven micro-batch (triggerer → asset → DAG run).
The figure printed is the send → profile time on this machine."""

from __future__ import annotations

import sqlite3
import time

import pytest
import requests

SOURCE = "demo_web"
TIMEOUT_S = float(__import__("os").environ.get("HEADWATER_E2E_STREAM_TIMEOUT", "900"))


def test_an_event_sent_to_the_inlet_reaches_the_profile_store(standalone, monkeypatch) -> None:
    from headwater.inlet import keys
    from headwater.store import db

    monkeypatch.setenv("HEADWATER_HOME", str(standalone.headwater_home))
    monkeypatch.delenv("HEADWATER_STORE_URL", raising=False)
    db.reset_engines()
    try:
        key = keys.create(db.get_engine(), SOURCE)[0]
    finally:
        db.reset_engines()
    health = requests.get(f"{standalone.inlet_url}/health", timeout=10)
    assert health.status_code == 200 and health.json()["log"] == "segments"
    # The DAG registered and unpaused (the file says so), and its first scheduled run (the fallback
    # timetable's) over: the event below must then be picked up by the inlet trigger.
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        if standalone.get(f"/api/v2/dags/{SOURCE}").status_code == 200:
            break
        time.sleep(3)
    standalone.unpause(SOURCE)
    while time.monotonic() < deadline:
        runs = standalone.get(f"/api/v2/dags/{SOURCE}/dagRuns").json().get("dag_runs", [])
        if runs and all(r["state"] in ("success", "failed") for r in runs):
            break
        time.sleep(3)

    sent = time.monotonic()
    answer = requests.post(
        f"{standalone.inlet_url}/v1/identify",
        json={"userId": "e2e-cust", "anonymousId": "e2e-anon", "traits": {"email": "e2e@example.com"}},
        auth=(key, ""),
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    store = standalone.headwater_home / "headwater.db"
    found = False
    while time.monotonic() - sent < TIMEOUT_S:
        with sqlite3.connect(store) as conn:
            found = conn.execute(
                "SELECT 1 FROM hw_identities WHERE namespace = 'customer_id' AND value = 'e2e-cust'"
            ).fetchone() is not None
        if found:
            break
        time.sleep(2)
    elapsed = time.monotonic() - sent
    print(f"\nsend -> profile through the inlet trigger and one micro-batch: {elapsed:.1f} s")
    if not found:
        runs = standalone.get(f"/api/v2/dags/{SOURCE}/dagRuns").text[-3000:]
        pytest.fail(f"no profile after {elapsed:.0f} s; runs of {SOURCE}: {runs}\n{standalone.diagnostics()}")
    runs = standalone.get(f"/api/v2/dags/{SOURCE}/dagRuns").json()["dag_runs"]
    assert any(r["run_type"] == "asset_triggered" for r in runs), [r["run_type"] for r in runs]
