"""What every stage operator shares: run-scoped staging, upstream manifests, error reporting.

A stage that fails pushes an `error` XCom (stage, type, message) before raising, so the monitor
task can record why a run failed without reading the metadata database (tasks cannot, in Airflow 3).
A permanent failure (`headwater.failures`: missing table, bad credentials, ...) fails the task at
once; a transient one is raised as is, so Airflow retries it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from headwater.lake.staging import Staging

STAGES = ("connect", "select", "map", "validate", "load", "monitor")
ERROR_KEY = "error"
_MAX_ERROR_CHARS = 4000


class StageFailed(Exception):
    """The stage finished its work but the run must fail (e.g. too many bad rows).

    Carries the stage's manifest so the run record still shows what was read and rejected.
    """

    def __init__(self, message: str, *, reason: str, manifest: dict) -> None:
        super().__init__(message)
        self.reason = reason
        self.manifest = manifest


class StageOperator(BaseOperator):
    """Base of the six stage operators.

    :param source_name: Name of the source (run records, state and quarantine are keyed by it).
    :param stage_task_ids: Task ids of the other stages when they differ from the stage names
        (`{"select": "extract"}`), for hand-built DAGs.
    """

    stage: ClassVar[str]
    template_fields = ("source_name",)

    def __init__(self, *, source_name: str, stage_task_ids: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source_name = source_name
        self.stage_task_ids = {**{s: s for s in STAGES}, **(stage_task_ids or {})}

    def execute(self, context: Context) -> Any:
        try:
            return self.run_stage(context)
        except Exception as exc:
            from headwater.redact import redact

            # XComs are shown in the UI and not masked by Airflow: a driver's message may echo a credential
            message = redact(str(exc)[:_MAX_ERROR_CHARS])
            error = {"stage": self.stage, "type": type(exc).__name__, "message": message}
            # requests an HTTP API source sent before it failed (a run spent on 429s still used quota)
            api_calls = getattr(getattr(self, "hook", None), "api_calls", None)
            if api_calls is not None:
                error["api_calls"] = api_calls
            if isinstance(exc, StageFailed):
                error.update(type=exc.reason, manifest=exc.manifest)
            context["ti"].xcom_push(key=ERROR_KEY, value=error)
            from headwater.failures import is_permanent

            # Retrying cannot change the data, the credentials or a missing table: fail at once
            # instead of spending retries × retry_delay in up_for_retry.
            if isinstance(exc, StageFailed) or is_permanent(exc):
                from airflow.sdk.exceptions import AirflowFailException

                if not isinstance(exc, StageFailed):
                    self.log.error("permanent failure, not retried: %s", exc)
                raise AirflowFailException(str(exc)) from exc
            raise

    def run_stage(self, context: Context) -> Any:
        raise NotImplementedError

    def manifest(self, context: Context, stage: str) -> dict | None:
        """The manifest (return value) of another stage of this run, or None if it did not finish."""
        return context["ti"].xcom_pull(task_ids=self.stage_task_ids[stage])

    def require_manifest(self, context: Context, stage: str) -> dict:
        found = self.manifest(context, stage)
        if found is None:
            raise RuntimeError(f"no output from task {self.stage_task_ids[stage]!r} in this run")
        return found

    @staticmethod
    def run_id(context: Context) -> str:
        return context["dag_run"].run_id

    def staging(self, context: Context) -> Staging:
        from headwater.lake.staging import Staging

        return Staging(context["ti"].dag_id, self.run_id(context))
