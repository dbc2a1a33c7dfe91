"""End to end through the real stages: dates the lake cannot hold are quarantined in map (issue 9
item 4), mixed date layouts map (item 10), and the lake table reads back afterwards."""

from __future__ import annotations

import json

from deltalake import DeltaTable

from headwater.lake import delta
from headwater.lake.quarantine import QUARANTINE_TABLE
from tests.pipeline.harness import run_pipeline

SOURCE = """
description: dates from the edge of the calendar
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
    - {{to: event_type, value: visit}}
    - {occurred_at}
validate:
  max_error_ratio: 0.9
schedule:
  interval: 1d
  start_date: 2026-01-01
load:
  table: dated_events
  mode: append
"""


def run_source(workspace, tmp_path, occurred_at: str, lines: list[str]):
    data = tmp_path / "events.csv"
    data.write_text("id,ts\n" + "".join(line + "\n" for line in lines))
    (workspace.sources / "dated_events.yaml").write_text(SOURCE.format(path=data, occurred_at=occurred_at))
    run = run_pipeline(workspace.dag("dated_events"), "manual__1")
    assert run.failures == {}
    return run


def lake_rows() -> list[dict]:
    rows = DeltaTable(delta.table_uri("dated_events")).to_pyarrow_table().to_pylist()
    assert delta.read_table("dated_events").num_rows == len(rows)  # Headwater's own reader too
    return sorted(rows, key=lambda r: r["event_id"])


def test_out_of_range_dates_are_quarantined_and_the_lake_stays_readable(workspace, tmp_path):
    run = run_source(
        workspace,
        tmp_path,
        "{to: occurred_at, from: ts}",
        ["e1,2024-03-01T10:00:00Z", "e2,0000-01-01T00:00:00Z", "e3,9999-12-31T23:59:59Z"],
    )
    assert run.outcome["rows_loaded"] == 2
    rows = lake_rows()  # raised "year 0 is out of range" when e2 was loaded
    assert [r["event_id"] for r in rows] == ["e1", "e3"]
    [entry] = delta.read_table(QUARANTINE_TABLE).to_pylist()
    assert (entry["error_code"], entry["column"], entry["value"]) == (
        "OUT_OF_RANGE",
        "occurred_at",
        "0000-01-01T00:00:00Z",
    )
    assert json.loads(entry["record"]) == {"id": "e2", "ts": "0000-01-01T00:00:00Z"}


def test_mixed_date_layouts_load(workspace, tmp_path):
    formats = "'%Y-%m-%dT%H:%M:%S%z', '%d/%m/%Y %H:%M', '%d %b %Y %H:%M'"
    run = run_source(
        workspace,
        tmp_path,
        f'{{to: occurred_at, expr: "to_timestamp(ts, {formats})"}}',
        ["e1,2024-03-01T10:00:00+00:00", "e2,01/03/2024 11:00", "e3,1 Mar 2024 12:00", "e4,soon"],
    )
    assert run.outcome["rows_loaded"] == 3
    assert [r["occurred_at"].isoformat() for r in lake_rows()] == [
        "2024-03-01T10:00:00+00:00",
        "2024-03-01T11:00:00+00:00",
        "2024-03-01T12:00:00+00:00",
    ]
    [entry] = delta.read_table(QUARANTINE_TABLE).to_pylist()
    assert (entry["error_code"], entry["value"]) == ("CAST_FAILED", "soon")
