"""Audience files → Airflow DAGs (connect → select → map → validate → deliver → monitor).

Called by the DAG file after the sources (`dag_builder.build_all`), so it stays as cheap: one YAML
read and one model validation per file, nothing heavy imported. A broken audience file becomes a
placeholder DAG under its id, tagged `headwater:invalid`, whose only task fails with the issues.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import DAG, chain

from .loader import load_audiences
from .models import Audience
from .operators import (
    AudienceConnectOperator,
    AudienceDeliverOperator,
    AudienceMapOperator,
    AudienceMonitorOperator,
    AudienceSelectOperator,
    AudienceValidateOperator,
)

log = logging.getLogger(__name__)


def build_audience_dag(audience: Audience, lake_tables: dict[str, str]) -> DAG:
    from headwater.dag_builder import _timetable, _utc, lake_asset

    config = audience.config
    schedule: Any = _timetable(config.schedule)
    if config.schedule.sources:
        from airflow.sdk import AssetAny

        # any of them: an audience is recomputed whenever one of its sources has loaded
        schedule = AssetAny(*(lake_asset(lake_tables[name]) for name in config.schedule.sources))
    dag = DAG(
        dag_id=audience.dag_id,
        description=config.description or f"Headwater audience → {', '.join(d.name for d in config.destinations)}",
        schedule=schedule,
        start_date=_utc(config.schedule.start_date),
        end_date=_utc(config.schedule.end_date) if config.schedule.end_date else None,
        catchup=config.schedule.catchup,
        max_active_runs=1,  # two runs would diff against the same acknowledged membership
        is_paused_upon_creation=config.schedule.paused,
        tags=sorted({"headwater", "audience", *(d.type for d in config.destinations), *config.tags}),
        default_args={
            "owner": config.owner,
            "retries": config.monitor.retries,
            "retry_delay": config.monitor.retry_delay,
            "retry_exponential_backoff": 2.0,
            "max_retry_delay": config.monitor.max_retry_delay,
            "execution_timeout": config.monitor.execution_timeout,
        },
        doc_md=f"**Headwater audience** `{audience.name}` from `{audience.path}`\n\n{config.description}\n\n"
        f"- condition: `{config.condition}`\n- destinations: "
        + ", ".join(f"`{d.name}` ({d.type})" for d in config.destinations),
    )
    common = {"audience": audience, "dag": dag}
    chain(
        AudienceConnectOperator(task_id="connect", **common),
        AudienceSelectOperator(task_id="select", **common),
        AudienceMapOperator(task_id="map", **common),
        AudienceValidateOperator(task_id="validate", **common),
        AudienceDeliverOperator(task_id="deliver", **common),
        AudienceMonitorOperator(task_id="monitor", **common),
    )
    return dag


def build_audiences(lake_tables: dict[str, str], taken: set[str]) -> dict[str, DAG]:
    """Every audience file's DAG (placeholders for broken ones); never raises."""
    from headwater.config.loader import Placeholder
    from headwater.dag_builder import build_placeholder
    from headwater.errors import ConfigIssue

    loaded = load_audiences(sources=set(lake_tables))
    dags: dict[str, DAG] = {}
    for audience in loaded.audiences:
        try:
            if audience.dag_id in taken:
                raise ValueError(f"DAG id {audience.dag_id!r} is already a source's DAG id; set dag_id")
            dags[audience.dag_id] = build_audience_dag(audience, lake_tables)
        except Exception as exc:
            issues = [ConfigIssue(audience.path, "", f"cannot build the DAG: {exc}")]
            loaded.errors[audience.path] = issues
            if audience.dag_id not in taken:
                loaded.placeholders.setdefault(audience.dag_id, Placeholder(audience.dag_id, [audience.path], issues))
    for holder in loaded.placeholders.values():
        if holder.dag_id in dags or holder.dag_id in taken:
            continue
        try:
            dags[holder.dag_id] = build_placeholder(holder, kind="audience")
        except Exception:
            log.exception("cannot build the placeholder DAG of %s", ", ".join(holder.files))
    if loaded.errors:
        log.warning("%d invalid audience file(s), shown as failing DAGs: %s", len(loaded.errors), ", ".join(loaded.errors))
    return dags
