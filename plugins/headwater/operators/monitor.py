"""monitor: record the run, send alerts, clean staging, and give the DAG run its true outcome.

It runs whatever happened upstream (trigger rule `all_done`). Because it is the DAG's only leaf,
Airflow would mark every run successful if it always succeeded: when the run failed upstream it
records that, alerts, and then fails itself so the DAG run is failed too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import TriggerRule

from headwater.operators.base import ERROR_KEY, StageOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from headwater.config.sections import WebhookAlert

DATA_STAGES = ("connect", "select", "map", "validate", "load")
# run status (run records) → alert event name (source files)
STATUS_EVENTS = {"failed": "failure"}


class MonitorOperator(StageOperator):
    """Write the run record (rows read/mapped/quarantined/loaded, watermark, errors) and alert.

    :param source_name: Name of the source.
    :param alerts: Alert targets (`WebhookAlert`), each with the run outcomes it fires on.
    """

    stage = "monitor"
    ui_color = "#eeeeee"

    def __init__(self, *, alerts: list[WebhookAlert] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", TriggerRule.ALL_DONE)
        kwargs.setdefault("retries", 1)
        super().__init__(**kwargs)
        self.alerts = list(alerts or [])

    def run_stage(self, context: Context) -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from headwater.store import db, runs

        outcome = collect_outcome(
            {stage: self.manifest(context, stage) for stage in DATA_STAGES},
            {stage: context["ti"].xcom_pull(task_ids=self.stage_task_ids[stage], key=ERROR_KEY) for stage in DATA_STAGES},
        )
        dag_run = context["dag_run"]
        connected = self.manifest(context, "connect") or {}
        # the run's work starts at connect; dag_run.start_date can predate it (queued runs, dags test)
        started = datetime.fromisoformat(connected["started_at"]) if "started_at" in connected else dag_run.start_date
        started = started or datetime.now(UTC)
        ended = datetime.now(UTC)
        record = runs.RunRecord(
            source=self.source_name,
            run_id=dag_run.run_id,
            dag_id=context["ti"].dag_id,
            status=outcome["status"],
            rows_read=outcome["rows_read"],
            rows_mapped=outcome["rows_mapped"],
            rows_quarantined=outcome["rows_quarantined"],
            rows_loaded=outcome["rows_loaded"],
            profiles_upserted=outcome["profiles_upserted"],
            watermark_before=outcome["watermark_before"],
            watermark_after=outcome["watermark_after"],
            started_at=started,
            ended_at=ended,
            duration_s=round((ended - started).total_seconds(), 3),
            errors_by_code=outcome["errors_by_code"],
            error_summary=outcome["error_summary"],
            api_calls=outcome["api_calls"],
        )
        from headwater.redact import redact_values

        outcome = redact_values(outcome)  # stored, logged and alerted: never a credential
        record.error_summary = outcome["error_summary"]
        runs.record_run(db.get_engine(), record)
        self.log.info("run recorded: %s", outcome)
        self._alert(outcome, record)
        if outcome["status"] in ("success", "no_data"):
            self.staging(context).cleanup()
        else:
            raise AirflowFailException(f"run {outcome['status']}: {outcome['error_summary']}")
        return outcome

    def _alert(self, outcome: dict, record: Any) -> None:
        event = STATUS_EVENTS.get(outcome["status"], outcome["status"])
        for alert in self.alerts:
            if event not in alert.events:
                continue
            from airflow.providers.http.hooks.http import HttpHook

            payload = {"source": record.source, "dag_id": record.dag_id, "run_id": record.run_id, **outcome}
            try:
                HttpHook(method="POST", http_conn_id=alert.conn_id).run(alert.endpoint, json=payload)
            except Exception as exc:  # an unreachable alert target must not hide the run's own outcome
                self.log.error("alert to connection %r failed: %s", alert.conn_id, exc)


def collect_outcome(manifests: dict[str, dict | None], errors: dict[str, dict | None]) -> dict:
    """Fold the stage manifests (and the error of the stage that failed) into one run outcome."""
    failure = next((errors[s] for s in DATA_STAGES if errors.get(s)), None)
    found = dict(manifests)
    if failure and failure.get("manifest"):
        found[failure["stage"]] = failure["manifest"]
    select = found.get("select") or {}
    mapped = found.get("map") or {}
    validated = found.get("validate") or {}
    loaded = found.get("load") or {}
    # A run that loaded but left a file unread, or read rows and loaded none, is not a success:
    # nobody looks at a green run.
    unread = (select.get("errors_by_code") or {}).get("BAD_FILE", 0)
    read = select.get("rows_read", 0) + select.get("rows_rejected", 0)
    incomplete = None
    if manifests.get("load") is not None:
        status = "no_data" if not read else "success"
        if unread:
            status = "failed"
            incomplete = f"select: {unread} file(s) could not be read and were not loaded; they are read again next run"
        elif read and not loaded.get("rows_loaded"):
            status = "failed"
            incomplete = f"load: {read} row(s) read and none loaded (every row was quarantined)"
    elif failure and failure["type"] == "threshold_exceeded":
        status = "threshold_exceeded"
    else:
        status = "failed"
    codes = dict(validated.get("errors_by_code") or {})
    if not validated:
        for upstream in (select, mapped):
            for code, count in (upstream.get("errors_by_code") or {}).items():
                codes[code] = codes.get(code, 0) + count
    if incomplete:
        summary = "; ".join([incomplete, *(select.get("notes") or [])])
    elif failure:
        summary = f"{failure['stage']}: {failure['message']}"
    elif status == "failed":
        stuck = next((s for s in DATA_STAGES if manifests.get(s) is None), "load")
        summary = f"{stuck}: the task did not finish (killed, timed out or upstream failed); see its log"
    else:
        summary = "; ".join(select.get("notes") or []) or None
    return {
        "status": status,
        "rows_read": select.get("rows_read", 0) + select.get("rows_rejected", 0),
        "rows_mapped": mapped.get("rows_mapped", 0),
        "rows_quarantined": validated.get("rows_quarantined", select.get("rows_rejected", 0) + mapped.get("rows_rejected", 0)),
        "rows_loaded": loaded.get("rows_loaded", 0),
        "profiles_upserted": loaded.get("profiles_upserted", 0),
        "watermark_before": select.get("watermark_before"),
        "watermark_after": select.get("watermark_after") if manifests.get("load") is not None else select.get("watermark_before"),
        "errors_by_code": codes,
        "error_summary": summary,
        "api_calls": _api_calls(found, errors),
    }


def _api_calls(manifests: dict[str, dict | None], errors: dict[str, dict | None]) -> int | None:
    """Requests the run sent to an HTTP API (connect and select, from the manifest or, when the
    stage failed, its error); None for sources that are not APIs."""
    counts = []
    for stage in ("connect", "select"):
        found = manifests.get(stage) or errors.get(stage) or {}
        counts.append(found.get("api_calls"))
    counts = [c for c in counts if c is not None]
    return sum(counts) if counts else None
