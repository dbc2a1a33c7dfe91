"""Source files → Airflow DAGs (connect → select → map → validate → load → monitor).

Runs at every DAG parse, so it stays cheap: no pandas/pyarrow/GX/cloud SDK imports, one YAML
read and one model validation per file. A broken file never hides the others: the valid sources get
their DAGs, and the broken ones surface as one Airflow import error that names each file, the path
inside it and what is wrong.
"""

from __future__ import annotations

import gc
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset, chain

from headwater.config.checks import merge_key
from headwater.config.loader import load_sources
from headwater.config.models import Source
from headwater.errors import ConfigIssue
from headwater.operators import ConnectOperator, LoadOperator, MapOperator, MonitorOperator, ValidateOperator
from headwater.operators.select import select_operator_for

ERRORS_DAG_ID = "headwater_config_errors"


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
        max_active_runs=config.schedule.max_active_runs,
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
    monitor = MonitorOperator(task_id="monitor", alerts=config.monitor.alerts, **common)
    chain(connect, select, mapping, validate, load, monitor)
    return dag


def build_all(directory: Path | None = None) -> dict[str, DAG]:
    """Every source file's DAG, plus one DAG that fails validation when some files are broken."""
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
                loaded.errors[source.path] = [ConfigIssue(source.path, "", f"cannot build the DAG: {exc}")]
    finally:
        if collecting:
            gc.enable()
    if loaded.errors:
        dags[ERRORS_DAG_ID] = BrokenSources(loaded.errors)
    return dags


class BrokenSourceFiles(Exception):
    """Shown in the Airflow UI as the import error of the DAG file: every issue of every broken file."""


class BrokenSources(DAG):
    """Carrier of configuration errors.

    Airflow validates each DAG before adding it; a DAG whose validation raises becomes an import
    error in the UI while the DAG file's other DAGs load normally. This DAG always raises, with a
    message listing each broken source file and its issues.
    """

    def __init__(self, errors: dict[str, list[ConfigIssue]]) -> None:
        super().__init__(dag_id=ERRORS_DAG_ID, schedule=None)
        self.source_errors = errors

    def validate(self) -> None:
        raise BrokenSourceFiles(format_errors(self.source_errors))


def format_errors(errors: dict[str, list[ConfigIssue]]) -> str:
    count = sum(len(issues) for issues in errors.values())
    lines = [f"{len(errors)} source file(s) are invalid ({count} issue(s)); their DAGs were not built:"]
    for issues in errors.values():
        lines += [f"  {issue}" for issue in issues]
    return "\n".join(lines)


def _schedule(source: Source) -> Any:
    schedule = source.config.schedule
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
