"""Alert events of a run and their delivery to webhook, Slack and e-mail targets.

The monitor stage calls `events_for` after it recorded the run, and `deliver` for each event; the
DAG's deadline alert calls `late_run` when a run is not finished in time. Every target goes
through an Airflow connection and the official provider hook (HTTP, Slack incoming webhook,
SMTP): no credential is ever in a source file. Texts pass through `redact` like run records.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from headwater.redact import redact, redact_values

log = logging.getLogger(__name__)

# run status (run records) → the event name source files use
STATUS_EVENTS = {"failed": "failure"}
FAILED = ("failed", "threshold_exceeded")
EVENT_TITLES = {
    "failure": "run failed",
    "threshold_exceeded": "error threshold exceeded",
    "no_data": "no new data",
    "success": "run succeeded",
    "late": "run is late",
    "stale": "source is stale",
    "repeated_failures": "failed repeatedly",
    "recovered": "recovered",
}


def events_for(
    status: str,
    history: list,
    *,
    repeated_failures: int,
    last_success: datetime | None,
    freshness_limit: timedelta | None,
    now: datetime,
) -> list[str]:
    """The events a finished run sends: its outcome, and what it means next to the runs before it.

    `history` is the source's run records, most recent first, this run included (at index 0).
    """
    from headwater.store.runs import failure_streak

    events = [STATUS_EVENTS.get(status, status)]
    streak = failure_streak(history)
    # at N failures in a row, then again every N more: a source that keeps failing is not silent,
    # and not noisier than its own failure alerts
    if status in FAILED and streak >= repeated_failures and streak % repeated_failures == 0:
        events.append("repeated_failures")
    previous = history[1] if len(history) > 1 else None
    if status in ("success", "no_data") and previous is not None and previous.status in FAILED:
        events.append("recovered")
    if status != "success" and freshness_limit is not None:
        # the run loaded nothing: the data is as old as the last successful load
        from headwater.freshness import evaluate

        if evaluate(last_success, freshness_limit, now).state == "stale" and last_success is not None:
            events.append("stale")
    return events


def page_url(source: str) -> str:
    """The per-source page on the Airflow api-server (its configured base URL)."""
    base = ""
    try:
        from airflow.configuration import conf

        base = (conf.get("api", "base_url", fallback="") or "").rstrip("/")
    except Exception:  # outside an Airflow installation: a relative link still names the page
        pass
    return f"{base}/headwater/sources/{source}"


def alert_text(event: str, record: Any, *, detail: str | None = None, link: str | None = None) -> str:
    """One message: source, event, run, counts, top errors with codes, the error, the page link."""
    title = EVENT_TITLES.get(event, event)
    lines = [f"[headwater] {record.source}: {title}"]
    lines.append(f"run {record.run_id} ({record.status})")
    lines.append(
        f"rows read {record.rows_read:,} · mapped {record.rows_mapped:,} · "
        f"quarantined {record.rows_quarantined:,} · loaded {record.rows_loaded:,}"
    )
    top = sorted((record.errors_by_code or {}).items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    if top:
        lines.append("top errors: " + ", ".join(f"{code}×{count:,}" for code, count in top))
    if detail:
        lines.append(detail)
    if record.error_summary and record.status != "success":
        lines.append(f"error: {record.error_summary}")
    lines.append(f"details: {link or page_url(record.source)}")
    return redact("\n".join(lines)) or ""


def payload(event: str, record: Any, text: str) -> dict:
    """The webhook's JSON: the event, the run record's fields and the same text as Slack and e-mail."""
    from dataclasses import asdict

    data = asdict(record)
    data.pop("details", None)
    for key in ("started_at", "ended_at"):
        if data.get(key) is not None:
            data[key] = data[key].isoformat()
    return redact_values({"event": event, **data, "text": text, "link": page_url(record.source)})


def deliver(alert: Any, event: str, record: Any, text: str) -> None:
    """Send one event to one target; raises what the provider hook raises."""
    if alert.type == "webhook":
        from airflow.providers.http.hooks.http import HttpHook

        HttpHook(method="POST", http_conn_id=alert.conn_id).run(alert.endpoint, json=payload(event, record, text))
    elif alert.type == "slack":
        from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

        SlackWebhookHook(slack_webhook_conn_id=alert.conn_id).send(text=text)
    elif alert.type == "email":
        from html import escape

        from airflow.providers.smtp.hooks.smtp import SmtpHook

        subject = text.splitlines()[0]
        with SmtpHook(smtp_conn_id=alert.conn_id) as hook:
            hook.send_email_smtp(to=list(alert.to), subject=subject, html_content=f"<pre>{escape(text)}</pre>")
    else:  # the config models allow no other type
        raise ValueError(f"unknown alert type {alert.type!r}")


def send_all(alerts: list, events: list[str], record: Any, *, detail: str | None = None, logger=None) -> list[tuple[str, str]]:
    """Deliver every event to every target that listens to it; a failing target never stops the rest.

    Returns the (event, target type) pairs that went out.
    """
    logger = logger or log
    sent = []
    for event in events:
        text = alert_text(event, record, detail=detail if event in ("stale", "late") else None)
        for alert in alerts:
            if event not in alert.events:
                continue
            try:
                deliver(alert, event, record, text)
                sent.append((event, alert.type))
            except Exception as exc:  # an unreachable alert target must not hide the run's own outcome
                logger.error("%s alert %r to connection %r failed: %s", alert.type, event, alert.conn_id, redact(str(exc)))
    return sent


def late_run(source: str, context: dict | None = None, **_: Any) -> None:
    """The DAG's deadline-alert callback: the run was not finished `monitor.deadline` after it was queued.

    Airflow calls it by dotted path (a SyncCallback run by the executor) with the deadline's context.
    """
    from headwater.config.loader import load_sources
    from headwater.store.runs import RunRecord

    found = next((s for s in load_sources().sources if s.dag_id == source), None)
    if found is None:
        log.error("late run of %s: its source file is gone or invalid; no alert targets", source)
        return
    # the scheduler passes the run as Airflow's REST model dumped to JSON (`dag_run_id`)
    dag_run = (context or {}).get("dag_run") or {}
    if isinstance(dag_run, dict):
        run_id = dag_run.get("dag_run_id") or dag_run.get("run_id")
    else:
        run_id = getattr(dag_run, "run_id", None)
    record = RunRecord(source=source, run_id=run_id or "?", status="running", dag_id=source)
    deadline = found.config.monitor.deadline
    detail = f"not finished {int(deadline.total_seconds())}s after it was queued" if deadline else None
    send_all(found.config.monitor.alerts, ["late"], record, detail=detail)
