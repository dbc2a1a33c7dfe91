"""A source without expectations: validate passes map's parts on without building anything in GX."""

from __future__ import annotations

import pytest

from headwater.validation.runner import Validator
from tests.pipeline.harness import run_pipeline

SOURCE = """
description: no expectations
owner: tests
connector:
  type: local_files
  path: {path}
  format: csv
  incremental: false
mapping:
  target: event
  fields:
    - {{to: event_id, from: id}}
    - {{to: event_type, from: type}}
    - {{to: occurred_at, from: ts}}
    - {{to: quantity, from: qty}}
validate:
  max_error_ratio: 0.5
schedule:
  interval: 1d
  start_date: 2026-01-01
load:
  table: plain_events
  mode: append
"""


def test_validate_without_expectations_never_prepares_great_expectations(workspace, tmp_path, monkeypatch):
    data = tmp_path / "events.csv"
    data.write_text(
        "id,type,ts,qty\n"
        "e1,purchase,2026-01-01T10:00:00Z,1\n"
        "e2,refund,2026-01-02T10:00:00Z,two\n"
        "e3,purchase,2026-01-03T10:00:00Z,3\n"
    )
    (workspace.sources / "plain_events.yaml").write_text(SOURCE.format(path=data))

    def refuse(self):
        pytest.fail("Validator.prepare (the GX context) was called for a source without expectations")

    monkeypatch.setattr(Validator, "prepare", refuse)
    run = run_pipeline(workspace.dag("plain_events"), "manual__1")
    assert run.failures == {}
    validated = run.manifest("validate")
    assert validated["parts"] == run.manifest("map")["parts"]
    assert (validated["rows_valid"], validated["rows_quarantined"]) == (2, 1)
    assert validated["errors_by_code"] == {"CAST_FAILED": 1}
    assert run.outcome["rows_loaded"] == 2
