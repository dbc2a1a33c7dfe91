"""Run a bad-input source through the real stage chain and check nothing was lost or half-recorded."""

from __future__ import annotations

import importlib

import yaml

from headwater.errors import HeadwaterError
from headwater.lake.delta import read_table
from headwater.store import runs
from headwater.store import state as source_state
from tests.pipeline.harness import run_pipeline

from .corpus import Case

TABLE = "bad_input"


def source_file(workspace, name: str, connector: dict, expectations: list[dict] | None = None) -> None:
    source = {
        "description": "bad input corpus",
        "owner": "tests",
        "connector": connector,
        "mapping": {
            "target": "event",
            "fields": [
                {"to": "event_id", "from": "id"},
                {"to": "event_type", "from": "type"},
                {"to": "occurred_at", "from": "ts"},
            ],
        },
        "validate": {"max_error_ratio": 1.0, **({"expectations": expectations} if expectations else {})},
        "schedule": {"interval": "1d", "start_date": "2026-01-01"},
        "load": {"table": TABLE, "mode": "append"},
    }
    (workspace.sources / f"{name}.yaml").write_text(yaml.safe_dump(source, sort_keys=False))


def apply(case: Case, monkeypatch) -> None:
    for target, value in case.patch.items():
        module, attr = target.split(":")
        monkeypatch.setattr(importlib.import_module(module), attr, value)
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)


def rows(table: str, source: str) -> list[dict]:
    try:
        found = read_table(table).to_pylist()
    except HeadwaterError:  # the table was never written
        return []
    return [r for r in found if r.get("_hw_source", r.get("source")) == source]


def run_and_check(workspace, case: Case, name: str, file_name) -> dict:
    """One run of source `name`; `file_name(f)` is how the connector names file `f` in messages.

    Returns the select manifest.
    """
    run = run_pipeline(workspace.dag(name), "run_1")
    [record] = runs.runs_for(workspace.engine(), name)
    if case.failure:
        assert record.status == "failed", (record.status, record.error_summary)
        assert case.failure in (record.error_summary or ""), record.error_summary
        assert rows(TABLE, name) == [] and rows("_quarantine", name) == []
        return run.manifest("select") or {}
    assert set(run.failures) <= {"monitor"}, run.failures  # monitor fails the DAG run when the run failed
    assert record.status == case.status, (record.status, record.error_summary)
    lake = rows(TABLE, name)
    quarantine = rows("_quarantine", name)
    selected = [q for q in quarantine if q["stage"] == "select" and q["error_code"] != "BAD_FILE"]
    later = {(q["stage"], q["row"]) for q in quarantine if q["stage"] != "select"}
    codes: dict[str, int] = {}
    for q in selected:
        codes[q["error_code"]] = codes.get(q["error_code"], 0) + 1
    assert codes == case.codes
    assert len(lake) == case.loaded
    # Nothing lost: every record of every readable file is in the lake or in quarantine.
    assert len(lake) + len(selected) + len(later) == case.records
    for q in selected:  # findable in the source: file and line, and the raw record
        assert q["record"], q
        if not case.files:
            continue  # SQL rows: key / cursor value in `location` (SQL value conversion, issue 9 item 3)
        assert q["location"] and q["location"].split(":line ")[0] in {file_name(f) for f in case.files}, q
    for q in quarantine:  # rows map or validate rejected too: located through select's index
        if q["stage"] != "select" and case.files:
            assert q["location"] and any(q["location"].startswith(f"{file_name(f)}") for f in case.files), q
    bad_files = [q for q in quarantine if q["error_code"] == "BAD_FILE"]
    assert len(bad_files) == len(case.unread)
    for q, unread in zip(sorted(bad_files, key=lambda q: q["location"]), sorted(case.unread), strict=True):
        assert q["location"].startswith(file_name(unread)), (q, unread)  # a zip member: `a.zip!member`
    select = run.manifest("select")
    committed = source_state.get_state(workspace.engine(), name)  # kept in the store, not in XCom
    state = set((committed or {}).get("files") or {})
    for unread in case.unread:  # not recorded as read: the next run reads it again
        assert not any(key.endswith(unread) for key in state), state
    for readable in set(case.files) - set(case.unread):
        assert any(key.endswith(readable) for key in state), state
    if case.status != "success":
        assert record.error_summary, record
    return select
