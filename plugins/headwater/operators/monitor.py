"""monitor: record the run, send alerts, clean staging, and give the DAG run its true outcome.

It runs whatever happened upstream (trigger rule `all_done`). Because it is the DAG's only leaf,
Airflow would mark every run successful if it always succeeded: when the run failed upstream it
records that, alerts, and then fails itself so the DAG run is failed too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import TriggerRule

from headwater.operators.base import ERROR_KEY, StageOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from headwater.config.sections import Alert

DATA_STAGES = ("connect", "select", "map", "validate", "load")
HISTORY_READ = 100  # runs read back to count failures in a row (more than any sensible N)


class MonitorOperator(StageOperator):
    """Write the run record (rows read/mapped/quarantined/loaded, watermark, errors) and alert.

    :param source_name: Name of the source.
    :param alerts: Alert targets (webhook, Slack, e-mail), each with the events it fires on.
    :param freshness_limit: No successful load for longer than this sends `stale` (None: never).
    :param repeated_failures: Failed runs in a row that send `repeated_failures`.
    """

    stage = "monitor"
    ui_color = "#eeeeee"

    def __init__(
        self,
        *,
        alerts: list[Alert] | None = None,
        freshness_limit: timedelta | None = None,
        repeated_failures: int = 3,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("trigger_rule", TriggerRule.ALL_DONE)
        kwargs.setdefault("retries", 1)
        super().__init__(**kwargs)
        self.alerts = list(alerts or [])
        self.freshness_limit = freshness_limit
        self.repeated_failures = repeated_failures

    def run_stage(self, context: Context) -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from headwater.store import db, runs

        manifests = {stage: self.manifest(context, stage) for stage in DATA_STAGES}
        errors = {
            stage: context["ti"].xcom_pull(task_ids=self.stage_task_ids[stage], key=ERROR_KEY) for stage in DATA_STAGES
        }
        outcome = collect_outcome(manifests, errors)
        # a stage that failed on the data (threshold exceeded) left its manifest with its error:
        # the run page wants that run's GX result most of all
        found = dict(manifests)
        for error in errors.values():
            if error and error.get("manifest"):
                found[error["stage"]] = error["manifest"]
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
            details=run_details(found.get("select"), found.get("validate")),
        )
        from headwater.redact import redact_values

        outcome = redact_values(outcome)  # stored, logged and alerted: never a credential
        record.error_summary = outcome["error_summary"]
        engine = db.get_engine()
        runs.record_run(engine, record)
        self.log.info("run recorded: %s", outcome)
        self._alert(engine, record)
        if outcome["status"] in ("success", "no_data"):
            self.staging(context).cleanup()
        else:
            raise AirflowFailException(f"run {outcome['status']}: {outcome['error_summary']}")
        return outcome

    def _alert(self, engine: Any, record: Any) -> None:
        if not self.alerts:
            return
        from headwater.alerting import events_for, send_all
        from headwater.freshness import evaluate
        from headwater.store import runs

        history = runs.runs_for(engine, self.source_name, limit=HISTORY_READ)
        last = runs.last_success(engine, self.source_name)
        last_at = (last.ended_at or last.started_at) if last else None
        events = events_for(
            record.status,
            history,
            repeated_failures=self.repeated_failures,
            last_success=last_at,
            freshness_limit=self.freshness_limit,
            now=datetime.now(UTC),
        )
        detail = None
        if "stale" in events:
            detail = "last successful load " + evaluate(last_at, self.freshness_limit).describe()
        sent = send_all(self.alerts, events, record, detail=detail, logger=self.log)
        self.log.info("alert events %s; sent %s", events, sent or "none")


def run_details(selected: dict | None, validated: dict | None) -> dict:
    """What the per-source page shows of a run beyond its counts (kept small: no row data)."""
    selected, validated = selected or {}, validated or {}
    details: dict[str, Any] = {}
    if selected.get("notes"):
        details["notes"] = list(selected["notes"])
    if "files_read" in selected:
        details["files_read"] = selected["files_read"]
        details["files"] = selected.get("files") or []
    if validated.get("gx_result"):
        details["gx_result"] = validated["gx_result"]
    if validated.get("error_ratio") is not None:
        details["error_ratio"] = validated["error_ratio"]
    return details


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
