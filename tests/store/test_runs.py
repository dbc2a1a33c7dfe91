from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console
from sqlalchemy import func, select

from headwater.store.runs import RunRecord, latest_runs, record_run, render_status, run_table, runs_for

T0 = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


def _run(source, run_id, status, start, **kw):
    return RunRecord(
        source=source, run_id=run_id, status=status, started_at=start, dag_id=f"hw_{source}", **kw
    )


def test_record_run_upserts_and_derives_duration(engine):
    rec = _run("crm", "r1", "running", T0)
    record_run(engine, rec)
    done = _run(
        "crm",
        "r1",
        "success",
        T0,
        ended_at=T0 + timedelta(seconds=95),
        rows_read=10,
        rows_mapped=9,
        rows_quarantined=1,
        rows_loaded=9,
        profiles_upserted=9,
        watermark_after="2026-10-31T23:59:59+00:00",
        errors_by_code={"CAST_FAILED": 1},
    )
    record_run(engine, done)
    record_run(engine, done)  # retried monitor task
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(run_table)).scalar() == 1
    [stored] = runs_for(engine, "crm")
    assert stored == done
    assert stored.duration_s == 95.0
    assert stored.started_at == T0 and stored.started_at.tzinfo is not None


def test_latest_runs_one_per_source(engine):
    record_run(engine, _run("crm", "r1", "success", T0))
    record_run(engine, _run("crm", "r2", "failed", T0 + timedelta(hours=1), error_summary="boom"))
    record_run(engine, _run("crm", "r0", "success", T0 - timedelta(hours=1)))
    record_run(engine, _run("shop", "s1", "no_data", T0))
    latest = latest_runs(engine)
    assert [(r.source, r.run_id, r.status) for r in latest] == [
        ("crm", "r2", "failed"),
        ("shop", "s1", "no_data"),
    ]
    assert [r.run_id for r in runs_for(engine, "crm")] == ["r2", "r1", "r0"]
    assert [r.run_id for r in runs_for(engine, "crm", limit=1)] == ["r2"]


def test_unknown_status_rejected():
    with pytest.raises(ValueError, match="not one of running, success"):
        RunRecord(source="crm", run_id="r", status="done")


def test_render_status(engine):
    record_run(
        engine,
        _run(
            "crm",
            "r1",
            "threshold_exceeded",
            T0,
            ended_at=T0 + timedelta(minutes=2, seconds=5),
            rows_read=12345,
            watermark_after="2026-10-31",
            errors_by_code={"CAST_FAILED": 3, "REQUIRED_MISSING": 7, "A": 1, "B": 1},
        ),
    )
    record_run(engine, _run("shop", "s1", "running", None))
    console = Console(width=200, record=True, color_system=None)
    console.print(render_status(latest_runs(engine)))
    out = console.export_text()
    assert "threshold_exceeded" in out and "running" in out
    assert "2026-11-01 06:00:00" in out and "2m05s" in out and "12,345" in out
    assert "REQUIRED_MISSING×7, CAST_FAILED×3, A×1" in out
    assert "2026-10-31" in out
