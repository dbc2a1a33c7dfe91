"""The `schedule`, `load` and `monitor` sections of a source file.

Imported at DAG parse time: pydantic and the standard library only.
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime, timedelta
from typing import Annotated, Literal, get_args

from pydantic import (
    BeforeValidator,
    Discriminator,
    Field,
    PlainSerializer,
    Tag,
    WithJsonSchema,
    model_validator,
)

from headwater.config.base import StrictModel

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _parse_duration(value: object) -> object:
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"expected a duration like '30s', '15m', '6h', '1d' or '2w', got {value!r}")
        return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    return value


def _format_duration(value: timedelta) -> str:
    return f"{int(value.total_seconds())}s"


Duration = Annotated[
    timedelta,
    BeforeValidator(_parse_duration),
    PlainSerializer(_format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": _DURATION.pattern, "examples": ["15m", "6h", "1d"]}),
]

PRESETS = ("@once", "@hourly", "@daily", "@weekly", "@monthly", "@yearly")


class ScheduleConfig(StrictModel):
    """When the source runs: a cron expression or preset, a fixed interval, or on asset updates."""

    cron: str | None = Field(None, description="Cron expression ('0 2 * * *') or preset (@daily, @hourly, ...).")
    interval: Duration | None = Field(None, description="Run every fixed interval, e.g. '30m' or '6h'.")
    assets: list[str] = Field(
        default_factory=list,
        description="Run when any of these Airflow asset URIs is updated (e.g. another source's lake table).",
    )
    start_date: date | datetime = Field(date(2024, 1, 1), description="First schedulable date (UTC).")
    end_date: date | datetime | None = Field(None, description="No runs after this date.")
    catchup: bool = Field(False, description="Backfill every missed interval since start_date.")
    paused: bool = Field(True, description="Whether the DAG is paused when Airflow first sees it.")
    max_active_runs: int = Field(
        1, ge=1, description="Concurrent runs. Keep 1 for incremental sources: runs share the watermark."
    )

    @model_validator(mode="after")
    def _one_trigger(self) -> ScheduleConfig:
        chosen = [name for name in ("cron", "interval", "assets") if getattr(self, name)]
        if len(chosen) > 1:
            raise ValueError(f"choose one of cron, interval or assets, not {' and '.join(chosen)}")
        if self.cron is not None:
            _check_cron(self.cron)
        if self.end_date is not None and _as_datetime(self.end_date) < _as_datetime(self.start_date):
            raise ValueError("end_date is before start_date")
        return self


def _as_datetime(value: date | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)


@functools.lru_cache(maxsize=256)
def _check_cron(expression: str) -> None:
    # Cached: a deployment has a few distinct expressions over many sources (an invalid one raises,
    # and exceptions are not cached, so it is reported for every file that uses it).
    if expression.startswith("@"):
        if expression not in PRESETS:
            raise ValueError(f"unknown preset {expression!r}; valid presets: {', '.join(PRESETS)}")
        return
    # croniter is what Airflow's cron timetables use; it is light enough for parse time.
    from croniter import croniter

    if not croniter.is_valid(expression):
        raise ValueError(f"invalid cron expression {expression!r} (expected 5 fields: minute hour day month weekday)")


class LoadConfig(StrictModel):
    """Where mapped, validated rows go: a Delta Lake table and, for profile schemas, the profile store."""

    table: str | None = Field(
        None,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="Lake table name (default: the DAG id).",
    )
    mode: Literal["append", "merge"] = Field(
        "append", description="append: every run adds its rows; merge: upsert on primary_key."
    )
    primary_key: list[str] = Field(
        default_factory=list,
        description="Target fields identifying a row, for merge (default: mapping.record_key).",
    )
    partition_by: list[str] = Field(default_factory=list, description="Target fields to partition the table by.")
    profiles: bool | None = Field(
        None, description="Upsert rows into the profile store (default: true when the target schema is a profile)."
    )

    @model_validator(mode="before")
    @classmethod
    def _listify(cls, data: object) -> object:
        if isinstance(data, dict):
            for key in ("primary_key", "partition_by"):
                if isinstance(data.get(key), str):
                    data = {**data, key: [data[key]]}
        return data


AlertEvent = Literal[
    "failure", "no_data", "threshold_exceeded", "success", "late", "stale", "repeated_failures", "recovered"
]
ALERT_EVENTS: tuple[str, ...] = get_args(AlertEvent)
_DEFAULT_EVENTS = ["failure", "threshold_exceeded", "late", "stale", "repeated_failures", "recovered"]
_EVENTS_HELP = (
    "Events that send this alert: run outcomes (failure, threshold_exceeded, no_data, success), "
    "late (the run did not finish by monitor.deadline), stale (no successful load for longer than "
    "monitor.freshness), repeated_failures (monitor.repeated_failures failed runs in a row) and "
    "recovered (a success after a failed run)."
)


class _Alert(StrictModel):
    events: list[AlertEvent] = Field(default_factory=lambda: list(_DEFAULT_EVENTS), description=_EVENTS_HELP)

    @model_validator(mode="before")
    @classmethod
    def _yaml_on_is_a_boolean(cls, data: object) -> object:
        if isinstance(data, dict) and True in data:
            # YAML 1.1 reads a bare `on:` key as the boolean true (the GitHub Actions trap)
            raise ValueError("`on` is read by YAML as the boolean true; name the key `events`")
        return data


class WebhookAlert(_Alert):
    """POST a JSON summary of the run (and its text) to an Airflow HTTP connection."""

    type: Literal["webhook"] = "webhook"
    conn_id: str = Field(description="Airflow HTTP connection (host, credentials) to post to.")
    endpoint: str = Field("", description="Path appended to the connection's host.")


class SlackAlert(_Alert):
    """Post the alert text to Slack through the Slack provider (an incoming-webhook connection)."""

    type: Literal["slack"]
    conn_id: str = Field(
        description="Airflow connection of type slackwebhook (the webhook token in its password; host only to override)."
    )


class EmailAlert(_Alert):
    """Send the alert by e-mail through the SMTP provider (an Airflow smtp connection)."""

    type: Literal["email"]
    conn_id: str = Field("smtp_default", description="Airflow SMTP connection (host, port, login, from_email in extra).")
    to: list[str] = Field(min_length=1, description="Recipients.")

    @model_validator(mode="before")
    @classmethod
    def _listify(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("to"), str):
            data = {**data, "to": [data["to"]]}
        return data


def _alert_type(data: object) -> object:
    # `type` may be left out for a webhook (the only target there was before Slack and e-mail)
    if isinstance(data, dict):
        return data.get("type", "webhook")
    return getattr(data, "type", None)


Alert = Annotated[
    Annotated[WebhookAlert, Tag("webhook")] | Annotated[SlackAlert, Tag("slack")] | Annotated[EmailAlert, Tag("email")],
    Discriminator(_alert_type),
]


class MonitorConfig(StrictModel):
    """Retries, time limits, alerting and run expectations."""

    retries: int = Field(
        2, ge=0, description="Retries of each task after a transient failure (permanent ones fail at once)."
    )
    retry_delay: Duration = Field(
        timedelta(minutes=5), description="Wait before the first retry; doubles with each retry (exponential backoff)."
    )
    max_retry_delay: Duration = Field(timedelta(hours=1), description="Longest wait between two retries.")
    execution_timeout: Duration = Field(
        timedelta(hours=6),
        description="Longest one try of a task may run; a stalled read fails (and is retried) after it.",
    )
    freshness: Duration | None = Field(
        None,
        description="A source is stale when its last successful load is older than this (default: twice the "
        "schedule's interval; none for manual and asset-triggered sources). Shown on the Sources page and by "
        "`headwater status`; the `stale` alert fires on it.",
    )
    deadline: Duration | None = Field(
        None,
        description="A run not finished this long after it was queued sends the `late` alert "
        "(an Airflow deadline alert on the DAG). Default: none.",
    )
    repeated_failures: int = Field(
        3, ge=2, description="Failed runs in a row that send the `repeated_failures` alert (again every as many more)."
    )
    alerts: list[Alert] = Field(default_factory=list, description="Where to send alerts.")

    @model_validator(mode="after")
    def _positive_durations(self) -> MonitorConfig:
        for name in ("execution_timeout", "freshness", "deadline"):
            value = getattr(self, name)
            if value is not None and value <= timedelta(0):
                raise ValueError(f"{name} must be longer than 0s")
        if self.max_retry_delay < self.retry_delay:
            raise ValueError(
                f"max_retry_delay ({_format_duration(self.max_retry_delay)}) is shorter than retry_delay "
                f"({_format_duration(self.retry_delay)})"
            )
        return self
