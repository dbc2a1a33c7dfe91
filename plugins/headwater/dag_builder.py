"""Source files → Airflow DAGs (connect → select → map → validate → load → monitor).

Runs at every DAG parse, so it stays cheap: no pandas/pyarrow/GX/cloud SDK imports, one YAML
read and one model validation per file. A broken file never hides the others: the valid sources get
their DAGs, and each broken file gets a placeholder DAG under the id it would have had, tagged
`headwater:invalid`, whose only task fails at once with every issue of the file (file, path inside
it, what is wrong). The DAG file itself never raises (see `build_all`).
"""

from __future__ import annotations

import gc
import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset, BaseOperator, chain

from headwater.config.checks import merge_key
from headwater.config.loader import Placeholder, load_sources, placeholder_id
from headwater.config.models import Source
from headwater.config.sections import ScheduleConfig
from headwater.errors import ConfigIssue
from headwater.freshness import freshness_limit
from headwater.operators import ConnectOperator, LoadOperator, MapOperator, MonitorOperator, ValidateOperator
from headwater.operators.select import select_operator_for

INVALID_TAG = "headwater:invalid"
log = logging.getLogger(__name__)


def lake_asset(table: str) -> Asset:
    """The Airflow asset a source's load task updates; other sources can be scheduled on it.

    The `x-` scheme marks a custom URI: Airflow then skips loading every provider's URI
    normaliser (boto3, google-cloud, ... ~5 s) while the DAG file is parsed.
    """
    return Asset(name=f"headwater_lake_{table}", uri=f"x-headwater://lake/{table}")


def build_dag(source: Source) -> DAG:
    config = source.config
    schedule = _schedule(source)
    dag = DAG(
        dag_id=source.dag_id,
        description=config.description or f"Headwater source ({config.connector.type})",
        schedule=schedule,
        start_date=_utc(config.schedule.start_date),
        end_date=_utc(config.schedule.end_date) if config.schedule.end_date else None,
        catchup=config.schedule.catchup,
        # a streaming source's runs share one log position: never two at once
        max_active_runs=1 if config.connector.type == "http_inlet" else config.schedule.max_active_runs,
        is_paused_upon_creation=config.schedule.paused,
        tags=sorted({"headwater", config.connector.type, *config.tags}),
        default_args={
            "owner": config.owner,
            "retries": config.monitor.retries,
            "retry_delay": config.monitor.retry_delay,
            # Airflow 3.3 takes the multiplier (True would be 1.0: no backoff); the wait is jittered up to 2x.
            "retry_exponential_backoff": 2.0,
            "max_retry_delay": config.monitor.max_retry_delay,
            "execution_timeout": config.monitor.execution_timeout,
        },
        doc_md=_doc(source),
        deadline=_deadline(source),
    )
    common: dict[str, Any] = {"source_name": source.dag_id, "dag": dag}
    connect = ConnectOperator(task_id="connect", connector=config.connector, **common)
    select = select_operator_for(config.connector.type)(task_id="select", connector=config.connector, **common)
    mapping = MapOperator(task_id="map", mapping=config.mapping, **common)
    validate = ValidateOperator(task_id="validate", validate=config.validate_, target=config.mapping.target, **common)
    load = LoadOperator(
        task_id="load",
        table=source.lake_table,
        mode=config.load.mode,
        primary_key=merge_key(source) if config.load.mode == "merge" else None,
        partition_by=config.load.partition_by,
        profile_mapping=config.mapping if _to_profiles(source) else None,
        outlets=[lake_asset(source.lake_table)],
        **common,
    )
    monitor = MonitorOperator(
        task_id="monitor",
        alerts=config.monitor.alerts,
        freshness_limit=freshness_limit(config),
        repeated_failures=config.monitor.repeated_failures,
        **common,
    )
    chain(connect, select, mapping, validate, load, monitor)
    return dag


def _deadline(source: Source) -> Any:
    """`monitor.deadline` as an Airflow deadline alert: a run still unfinished that long after it was
    queued calls `headwater.alerting.late_run`, which sends the `late` event to the source's alerts."""
    deadline = source.config.monitor.deadline
    if deadline is None or not source.config.monitor.alerts:
        return None
    from airflow.sdk import DeadlineAlert, DeadlineReference, SyncCallback

    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=deadline,
        # by dotted path: the executor imports it when the deadline passes, not the DAG parser
        callback=SyncCallback("headwater.alerting.late_run", kwargs={"source": source.dag_id}),
    )


def build_all(directory: Path | None = None) -> dict[str, DAG]:
    """Every source file's DAG; every invalid file as a placeholder DAG that fails with its issues.

    Nothing here may raise: an exception escaping the DAG file (or a DAG whose `validate()` raises)
    is an import error, and the dag-processor then marks EVERY DAG of this file stale, so one bad
    source file would stop all sources. Invalid files therefore become placeholders, not errors.
    """
    # Building thousands of operators allocates millions of long-lived objects: the cyclic garbage
    # collector would walk them again and again while nothing here is garbage yet.
    collecting = gc.isenabled()
    gc.disable()
    try:
        loaded = load_sources(directory)
        dags: dict[str, DAG] = {}
        for source in loaded.sources:
            try:
                dags[source.dag_id] = build_dag(source)
            except Exception as exc:  # e.g. an Airflow-level rejection of a value the models accepted
                issues = [ConfigIssue(source.path, "", f"cannot build the DAG: {exc}")]
                loaded.errors[source.path] = issues
                dag_id = placeholder_id(source.dag_id)
                if dag_id not in loaded.placeholders:
                    loaded.placeholders[dag_id] = Placeholder(dag_id, [source.path], issues)
        for holder in loaded.placeholders.values():
            if holder.dag_id in dags:
                continue
            try:
                dags[holder.dag_id] = build_placeholder(holder)
            except Exception:  # never let a placeholder take the others down; the Sources page still shows it
                log.exception("cannot build the placeholder DAG of %s", ", ".join(holder.files))
        try:  # audiences (include/audiences/): their own files, never able to take the sources down
            from headwater.activation.dags import build_audiences

            tables = {source.dag_id: source.lake_table for source in loaded.sources}
            dags.update(build_audiences(tables, set(dags)))
        except Exception:
            log.exception("cannot build the audience DAGs")
    finally:
        if collecting:
            gc.enable()
    if loaded.errors:
        # one line: this runs at every parse, task starts included; the issues are in the placeholders
        log.warning("%d invalid source file(s), shown as failing DAGs tagged %s: %s", len(loaded.errors), INVALID_TAG, ", ".join(loaded.errors))
    return dags


class InvalidSourceFile(BaseOperator):
    """The one task of a placeholder DAG: fails at once, without retries, with the file's issues."""

    ui_color = "#ffcdd2"

    def __init__(self, *, message: str, **kwargs: Any) -> None:
        super().__init__(retries=0, **kwargs)
        self.message = message

    def execute(self, context: Any) -> None:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(self.message)


def build_placeholder(holder: Placeholder, kind: str = "source") -> DAG:
    """A DAG under the id the invalid file(s) would have had, whose only task fails with the issues.

    It keeps the file's schedule when that section alone is valid (a scheduled source that breaks
    then shows failed runs where its runs were, instead of silently not running), never catches up,
    and is tagged `headwater:invalid`.
    """
    count = len(holder.issues)
    files = ", ".join(holder.files)
    message = format_errors({files: holder.issues}, kind)
    schedule = holder.schedule
    dag = DAG(
        dag_id=holder.dag_id,
        description=f"invalid {kind} file {holder.issues[0]}"[:500] + (f" (+{count - 1} more)" if count > 1 else ""),
        schedule=_timetable(schedule) if schedule else None,
        start_date=_utc(schedule.start_date) if schedule else datetime(2024, 1, 1, tzinfo=UTC),
        end_date=_utc(schedule.end_date) if schedule and schedule.end_date else None,
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=schedule.paused if schedule else True,
        tags=["headwater", INVALID_TAG],
        default_args={"owner": "headwater", "retries": 0},
        doc_md=f"**Invalid {kind} file** — this DAG only reports the problems; fix the file and it becomes "
        f"the {kind}'s DAG again.\n\n```\n{message}\n```\n",
    )
    InvalidSourceFile(task_id=f"invalid_{kind}_file", message=message, dag=dag)
    return dag


def format_errors(errors: dict[str, list[ConfigIssue]], kind: str = "source") -> str:
    count = sum(len(issues) for issues in errors.values())
    lines = [f"{len(errors)} {kind} file(s) are invalid ({count} issue(s)); their DAGs were not built:"]
    for issues in errors.values():
        lines += [f"  {issue}" for issue in issues]
    return "\n".join(lines)


# A streaming source with no schedule of its own still runs this often, trigger or not.
INLET_FALLBACK = timedelta(minutes=10)


def inlet_asset(source: Source) -> Asset:
    """The asset a streaming source's trigger updates when its stream holds unloaded events."""
    from airflow.sdk import AssetWatcher

    from headwater.inlet.trigger import InletLogTrigger

    connector = source.config.connector
    trigger = InletLogTrigger(
        source=source.dag_id, stream=connector.stream_name(source.dag_id), poll_seconds=connector.poll_seconds
    )
    return Asset(
        name=f"headwater_inlet_{source.dag_id}",
        uri=f"x-headwater://inlet/{source.dag_id}",
        watchers=[AssetWatcher(name=f"headwater_inlet_{source.dag_id}", trigger=trigger)],
    )


def _schedule(source: Source) -> Any:
    if source.config.connector.type != "http_inlet":
        return _timetable(source.config.schedule)
    # Event-driven (the trigger) or, at the latest, the fallback timetable.
    from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, DeltaTriggerTimetable

    schedule = source.config.schedule
    if schedule.assets:
        raise ValueError("an http_inlet source is scheduled by its inlet trigger; use cron or interval as the fallback")
    if schedule.cron:
        fallback = CronTriggerTimetable(schedule.cron, timezone="UTC")
    else:
        fallback = DeltaTriggerTimetable(schedule.interval or INLET_FALLBACK)
    return AssetOrTimeSchedule(timetable=fallback, assets=[inlet_asset(source)])


def _timetable(schedule: ScheduleConfig) -> Any:
    if schedule.cron:
        return schedule.cron
    if schedule.interval:
        return schedule.interval
    if schedule.assets:
        return [Asset(name=uri, uri=uri) if "://" in uri else Asset(name=uri) for uri in schedule.assets]
    return None


def _to_profiles(source: Source) -> bool:
    if source.config.load.profiles is not None:
        return source.config.load.profiles
    from headwater.target_schemas import load_target_schema

    return load_target_schema(source.config.mapping.target).kind == "profile"


def _utc(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _doc(source: Source) -> str:
    config = source.config
    return (
        f"**Headwater source** `{source.dag_id}` from `{source.path}`\n\n"
        f"{config.description}\n\n"
        f"- connector: `{config.connector.type}`\n"
        f"- target schema: `{config.mapping.target}`\n"
        f"- lake table: `{source.lake_table}` ({config.load.mode})\n"
        f"- error threshold: {config.validate_.max_error_ratio:.1%}\n"
    )
