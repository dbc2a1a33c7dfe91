"""Fixtures of the source-fault suite: a private workspace, sources written for the test, a run
that must end within a deadline (a stalled read must not hang the suite), and lake/store checks."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pytest

from tests.pipeline.conftest import Workspace, workspace  # noqa: F401  (shared fixture)
from tests.pipeline.harness import PipelineRun, run_pipeline, run_task

EVENT_MAPPING = """
mapping:
  target: event
  fields:
    - {to: event_id, from: id}
    - {to: event_type, value: order}
    - {to: occurred_at, from: updated_at}
    - {to: email, from: email}
    - {to: amount, from: total}
    - {to: currency, from: currency}
load:
  mode: append
monitor:
  retries: 2
  retry_delay: 1s
"""


def write_source(ws: Workspace, name: str, connector: str) -> None:
    """A source `name` with the given `connector:` YAML block, mapped to events, appended to the lake."""
    (ws.sources / f"{name}.yaml").write_text(f"description: fault test\n{connector}{EVENT_MAPPING}")


@dataclass
class Timed:
    run: PipelineRun
    seconds: float


def run_within(dag, run_id: str, deadline: float) -> Timed:
    """run_pipeline in a thread; fail the test (instead of hanging) when it outlives `deadline` s."""
    box: dict = {}

    def target() -> None:
        box["run"] = run_pipeline(dag, run_id)

    started = time.monotonic()
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(deadline)
    assert not thread.is_alive(), f"the run still hangs after {deadline} s"
    return Timed(box["run"], time.monotonic() - started)


def retry_from(dag, run: PipelineRun, task_id: str) -> None:
    """What Airflow does after a retry: the failed task runs again, then everything after it."""
    run.failures.clear()
    ids = [t.task_id for t in dag.topological_sort()]
    for tid in ids[ids.index(task_id) :]:
        try:
            run_task(dag, tid, run.run_id, run.xcoms)
        except Exception as exc:
            run.failures[tid] = exc


def lake_ids(table: str) -> list[str]:
    from headwater.lake.delta import open_table, table_uri

    found = open_table(table_uri(table))
    return [] if found is None else found.to_pyarrow_table().column("event_id").to_pylist()


@pytest.fixture
def ws(workspace):  # noqa: F811
    return workspace


def wait_for(predicate, timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)
