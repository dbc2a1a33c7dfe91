"""Run a source's stage operators in-process, in DAG order, without a scheduler.

The Airflow runtime is replaced by the two things the operators use from it: a task instance
that pushes/pulls XComs (kept in a dict, JSON round-tripped as Airflow's XCom backend would
refuse what JSON cannot carry) and a DAG run with an id and start time. Everything else (files,
databases, the lake, the store) is real. Whole-Airflow runs are covered by tests/dagrun and e2e.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import DAG

RETURN = "return_value"


@dataclass
class FakeTaskInstance:
    dag_id: str
    task_id: str
    xcoms: dict

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[(self.task_id, key)] = json.loads(json.dumps(value))

    def xcom_pull(self, task_ids: str, key: str = RETURN, **_: Any) -> Any:
        return self.xcoms.get((task_ids, key))


@dataclass
class FakeDagRun:
    run_id: str
    start_date: datetime = field(default_factory=lambda: datetime.now(UTC))
    conf: dict = field(default_factory=dict)


@dataclass
class PipelineRun:
    run_id: str
    xcoms: dict
    failures: dict[str, BaseException]

    def manifest(self, task_id: str) -> Any:
        return self.xcoms.get((task_id, RETURN))

    @property
    def outcome(self) -> dict | None:
        return self.manifest("monitor") or (self.failures.get("monitor") and self.xcoms.get(("monitor", "error")))


def run_task(dag: DAG, task_id: str, run_id: str, xcoms: dict, conf: dict | None = None) -> Any:
    """Execute one task as Airflow would (its return value becomes the `return_value` XCom).

    `conf` is the run's configuration (what "Trigger DAG w/ config" passes).
    """
    task = dag.get_task(task_id)
    ti = FakeTaskInstance(dag.dag_id, task_id, xcoms)
    # A retried task starts with its own XComs cleared, as Airflow does.
    for key in [k for k in xcoms if k[0] == task_id]:
        del xcoms[key]
    context = {"ti": ti, "dag_run": FakeDagRun(run_id, conf=conf or {}), "dag": dag, "task": task}
    result = task.execute(context)
    if result is not None:
        ti.xcom_push(RETURN, result)
    return result


def run_pipeline(dag: DAG, run_id: str, *, until: str | None = None, conf: dict | None = None) -> PipelineRun:
    """Run every task in order (or up to `until`); after a failure only `all_done` tasks still run."""
    xcoms: dict = {}
    failures: dict[str, BaseException] = {}
    tasks = dag.topological_sort()
    if until is not None:
        tasks = tasks[: [t.task_id for t in tasks].index(until) + 1]
    for task in tasks:
        if failures and task.trigger_rule != "all_done":
            continue
        try:
            run_task(dag, task.task_id, run_id, xcoms, conf)
        except Exception as exc:  # recorded, as Airflow marks the task failed and goes on
            failures[task.task_id] = exc
    return PipelineRun(run_id, xcoms, failures)
