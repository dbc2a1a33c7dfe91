"""A streaming source's micro-batch through Airflow itself (`airflow dags test`): events in the
embedded log become a profile, and the DAG (asset watcher + fallback timetable) parses and runs."""

from __future__ import annotations

import shutil

import pytest

from tests.dagrun.conftest import REPO

pytestmark = pytest.mark.dagrun


def test_streaming_source_runs_in_airflow(project, capsys) -> None:
    from headwater.cli import main
    from headwater.inlet.log import open_log
    from headwater.inlet.spec import encoded, events_of, utc_now

    shutil.copy(REPO / "include" / "sources" / "demo_web.yaml", project.sources)
    body = {"batch": [
        {"type": "identify", "anonymousId": "anon-9", "traits": {"email": "nine@example.com"}, "messageId": "i1"},
        {"type": "alias", "userId": "cust-9", "previousId": "anon-9", "messageId": "a1"},
        {"type": "track", "userId": "cust-9", "event": "Ignored Here", "messageId": "t1"},
    ]}
    log = open_log("segments")
    log.append("demo_web", encoded(events_of(body, "batch", utc_now()), "batch"))
    log.close()
    result = project.dags_test("demo_web", "2026-03-01")
    assert result.state == "success", result.output
    assert main(["profile", "lookup", "customer_id", "cust-9"]) == 0
    out = capsys.readouterr().out
    assert "nine@example.com" in out and "anon-9" in out  # alias stitched the anonymous visitor
