"""Micro-batches of streaming sources on both log backends, run stage by stage (tests/pipeline/harness):
events sent to a real inlet process become lake rows and profiles; duplicates (a client resending
the same messageId) are dropped; a crashed run is replayed without doubling rows."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys

import requests

from tests.pipeline.harness import run_pipeline


def _lake_rows(table: str) -> list[dict]:
    from deltalake import DeltaTable

    from headwater import settings

    return DeltaTable(f"{settings.lake_uri()}/{table}").to_pyarrow_table().to_pylist()


def _send(inlet, key: str, batch: list[dict]) -> None:
    answer = requests.post(f"{inlet.url}/v1/batch", json={"batch": batch}, auth=(key, ""), timeout=30)
    assert answer.status_code == 200, answer.text


def test_micro_batch_loads_profiles_and_events(inlet_env, capsys) -> None:
    from headwater.cli import main

    key = inlet_env.key("demo_web")
    inlet = inlet_env.inlet().start()
    try:
        _send(inlet, key, [
            {"type": "page", "anonymousId": "anon-1", "name": "Home", "messageId": "p1"},
            {"type": "identify", "anonymousId": "anon-1", "traits": {"email": "Zoe@Example.com", "firstName": "Zoe"}, "messageId": "i1"},
            {"type": "track", "anonymousId": "anon-1", "event": "Product Viewed", "properties": {"product_id": "sku-9"}, "messageId": "t1"},
            {"type": "identify", "userId": "cust-42", "anonymousId": "anon-1", "traits": {"email": "zoe@example.com"}, "messageId": "i2"},
            {"type": "track", "userId": "cust-42", "event": "Order Completed", "properties": {"revenue": "19.90", "currency": "eur", "quantity": 2}, "messageId": "t2"},
        ])
        # a client that got no answer sends a call again with the same messageId
        _send(inlet, key, [{"type": "track", "userId": "cust-42", "event": "Order Completed", "properties": {"revenue": "19.90"}, "messageId": "t2"}])
    finally:
        inlet.stop()

    profiles = run_pipeline(inlet_env.dag("demo_web"), "run-1")
    assert not profiles.failures, profiles.failures
    assert profiles.manifest("select")["rows_read"] == 2  # the identify calls
    events = run_pipeline(inlet_env.dag("demo_web_events"), "run-1")
    assert not events.failures, events.failures
    assert any("duplicate" in note for note in events.manifest("select")["notes"])
    rows = sorted(_lake_rows("web_events"), key=lambda r: r["event_id"])
    assert [(r["event_id"], r["event_type"]) for r in rows] == [("p1", "page"), ("t1", "Product Viewed"), ("t2", "Order Completed")]
    order = rows[2]
    assert (order["customer_id"], order["amount"], order["currency"], order["quantity"]) == ("cust-42", 19.9, "EUR", 2)
    assert json.loads(order["properties"])["currency"] == "eur"

    # the anonymous visitor and the customer are one profile (identify with both ids stitched them)
    assert main(["profile", "lookup", "customer_id", "cust-42"]) == 0
    out = capsys.readouterr().out
    assert "zoe@example.com" in out and "anon-1" in out and "Zoe" in out
    assert main(["profile", "lookup", "anonymous_id", "anon-1"]) == 0
    assert "cust-42" in capsys.readouterr().out

    # the next micro-batch reads nothing new
    again = run_pipeline(inlet_env.dag("demo_web_events"), "run-2")
    assert again.manifest("select")["rows_read"] == 0
    assert len(_lake_rows("web_events")) == 3


def test_a_run_that_crashed_before_its_commit_is_replayed_once(inlet_env) -> None:
    key = inlet_env.key("demo_web")
    inlet = inlet_env.inlet().start()
    try:
        _send(inlet, key, [{"type": "track", "userId": f"u{i}", "event": "E", "messageId": f"m{i}"} for i in range(50)])
    finally:
        inlet.stop()
    # the run is SIGKILLed after the lake and the profile store committed, before the state commit
    code = (
        "from headwater.config.loader import load_source; from headwater.dag_builder import build_dag; "
        "from tests.pipeline.harness import run_pipeline; import sys; "
        "run_pipeline(build_dag(load_source(sys.argv[1])), 'run-crashed')"
    )
    crashed = subprocess.run(
        [sys.executable, "-c", code, str(inlet_env.sources / "demo_web_events.yaml")],
        env=inlet_env.process_env(HEADWATER_CRASH_AT="after_profile_load"),
        capture_output=True, timeout=600,
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr.decode()[-3000:]
    assert len(_lake_rows("web_events")) == 50  # the crashed run's rows are in the lake
    inlet = inlet_env.inlet().start()
    try:
        _send(inlet, key, [{"type": "track", "userId": "late", "event": "E", "messageId": "late"}])
    finally:
        inlet.stop()
    replay = run_pipeline(inlet_env.dag("demo_web_events"), "run-replay")
    assert not replay.failures, replay.failures
    ids = [r["event_id"] for r in _lake_rows("web_events")]
    assert sorted(ids) == sorted([f"m{i}" for i in range(50)] + ["late"])


def test_status_shows_the_stream_of_a_streaming_source(segments_env, capsys) -> None:
    from datetime import UTC, datetime, timedelta

    from headwater.cli import main
    from headwater.inlet import keys
    from headwater.store import db

    key = segments_env.key("demo_web")
    inlet = segments_env.inlet().start()
    try:
        _send(inlet, key, [{"type": "track", "userId": "u", "event": "E"}] * 4)
    finally:
        inlet.stop()  # flushes its per-minute counts to the store
    # the counts of a whole previous minute, as an inlet writes them
    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    counts = keys.recent_counts(db.get_engine(), "demo_web")
    assert counts and counts[0][0] == minute and counts[0][1] == 4
    keys.add_counts(db.get_engine(), {("demo_web", minute - timedelta(minutes=1)): (120, 3)})
    keys.add_counts(db.get_engine(), {("demo_web", minute - timedelta(minutes=1)): (5, 0)})  # a second inlet adds
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"12[59] accepted / 3 rejected per min", out)  # 129: the 4 above, when the minute turned meanwhile
    assert "backlog 4, lag" in out
