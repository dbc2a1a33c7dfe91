"""A file source's state stays in the store: select's manifest (an XCom) carries a reference only."""

from __future__ import annotations

import json

from tests.pipeline.harness import run_pipeline


def size_without_parts(manifest: dict) -> int:
    """JSON size of the manifest but its list of staged parts (one per file read in this run)."""
    return len(json.dumps({k: v for k, v in manifest.items() if k != "parts"}))

SOURCE = """
description: many files
owner: tests
connector:
  type: local_files
  path: many/*.csv
mapping:
  target: event
  fields:
    - {to: event_id, from: id}
    - {to: event_type, from: type}
    - {to: occurred_at, from: ts}
schedule:
  interval: 1d
  start_date: 2026-01-01
load:
  table: many_files
"""


def test_select_manifest_does_not_grow_with_the_files_in_the_state(workspace):
    from headwater.store import state

    folder = workspace.include / "many"
    folder.mkdir()
    for i in range(400):
        (folder / f"f{i:04d}.csv").write_text(f"id,type,ts\ne{i},click,2026-01-01T00:00:00+00:00\n")
    (workspace.sources / "many_files.yaml").write_text(SOURCE)
    dag = workspace.dag("many_files")

    first = run_pipeline(dag, "r1")
    assert first.outcome["status"] == "success" and first.outcome["rows_loaded"] == 400
    manifest = first.manifest("select")
    assert size_without_parts(manifest) < 2_000, manifest
    assert manifest["state"]["run_id"] == "r1" and len(manifest["state"]["epoch"]) == 32
    assert manifest["watermark_after"].startswith("400 files read so far")
    assert len(state.get_state(workspace.engine(), "many_files")["files"]) == 400

    (folder / "new.csv").write_text("id,type,ts\nnew,click,2026-01-02T00:00:00+00:00\n")
    second = run_pipeline(dag, "r2")
    assert second.outcome["rows_loaded"] == 1 and second.outcome["watermark_before"] == "400 file(s) ingested"
    assert len(json.dumps(second.manifest("select"))) < 2_000  # one part
    assert len(state.get_state(workspace.engine(), "many_files")["files"]) == 401
