"""Run records: one row per (source, run id), written by the monitor stage and read by `headwater status`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Literal, get_args

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Float,
    Index,
    String,
    Table,
    Text,
    func,
    select,
)

from headwater.redact import redact, redact_values
from headwater.store import db
from headwater.store.values import from_json, to_json, utc

if TYPE_CHECKING:
    from rich.table import Table as RichTable

RunStatus = Literal["running", "success", "failed", "no_data", "threshold_exceeded"]
STATUSES: tuple[str, ...] = get_args(RunStatus)

run_table = Table(
    "hw_runs",
    db.metadata,
    Column("source", String(250), primary_key=True),
    Column("run_id", String(250), primary_key=True),
    Column("dag_id", String(250)),
    Column("status", String(32), nullable=False),
    Column("rows_read", BigInteger, nullable=False, default=0),
    Column("rows_mapped", BigInteger, nullable=False, default=0),
    Column("rows_quarantined", BigInteger, nullable=False, default=0),
    Column("rows_loaded", BigInteger, nullable=False, default=0),
    Column("profiles_upserted", BigInteger, nullable=False, default=0),
    Column("watermark_before", Text),
    Column("watermark_after", Text),
    Column("started_at", DateTime(timezone=True)),
    Column("ended_at", DateTime(timezone=True)),
    Column("duration_s", Float),
    Column("errors_by_code", Text, nullable=False, default="{}"),  # JSON {code: count}
    Column("error_summary", Text),
    Column("api_calls", BigInteger),  # requests sent to an HTTP API source; NULL for other sources
    # JSON: what the run page shows beyond the counts (notes, files/calls, GX result location, state)
    Column("details", Text),
    Index("ix_hw_runs_source_started", "source", "started_at"),
    # the last successful load of every source (Sources page): answered from this index alone
    Index("ix_hw_runs_source_status_started", "source", "status", "started_at"),
)


@dataclass
class RunRecord:
    """What one run of one source did."""

    source: str
    run_id: str
    status: RunStatus
    dag_id: str | None = None
    rows_read: int = 0
    rows_mapped: int = 0
    rows_quarantined: int = 0
    rows_loaded: int = 0
    profiles_upserted: int = 0
    watermark_before: str | None = None
    watermark_after: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_s: float | None = None  # derived from started_at/ended_at when not given
    errors_by_code: dict[str, int] = field(default_factory=dict)
    error_summary: str | None = None
    api_calls: int | None = None  # requests sent to an HTTP API (retries and token requests included)
    details: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"run status {self.status!r} is not one of {', '.join(STATUSES)}")
        self.started_at = utc(self.started_at)
        self.ended_at = utc(self.ended_at)
        if self.duration_s is None and self.started_at and self.ended_at:
            self.duration_s = (self.ended_at - self.started_at).total_seconds()


_COLUMNS = tuple(f.name for f in fields(RunRecord))


def record_run(engine: Engine, rec: RunRecord) -> None:
    """Insert or replace the record of (source, run id): a retried monitor task leaves one row."""
    values = asdict(rec)
    # error texts come from drivers and may echo a credential (a DSN, a URI): never stored
    values["error_summary"] = redact(rec.error_summary)
    values["errors_by_code"] = to_json(rec.errors_by_code or {})
    values["details"] = to_json(redact_values(rec.details or {}))
    stmt = db.insert(engine, run_table).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[run_table.c.source, run_table.c.run_id],
        set_={c: stmt.excluded[c] for c in _COLUMNS if c not in ("source", "run_id")},
    )
    with db.write_transaction(engine) as conn:
        conn.execute(stmt)


def _record(row) -> RunRecord:
    values = {c: getattr(row, c) for c in _COLUMNS}
    values["errors_by_code"] = from_json(values["errors_by_code"]) or {}
    values["details"] = from_json(values["details"]) or {}
    return RunRecord(**values)


FAILED_STATUSES = ("failed", "threshold_exceeded")


def _latest_per_source(engine: Engine, *conditions) -> list[RunRecord]:
    """The most recently started run per source among the runs matching `conditions`.

    MAX(started_at) per source is answered from the (source, started_at) index; a window
    function over every run (row_number) sorted the whole table and took seconds at 100,000 runs.
    Ties on started_at keep the greatest run id; a source whose runs all lack a start time falls
    back to its greatest run id.
    """
    newest = (
        select(run_table.c.source, func.max(run_table.c.started_at).label("newest"))
        .where(*conditions)
        .group_by(run_table.c.source)
        .subquery()
    )
    stmt = (
        select(run_table)
        .join(newest, (run_table.c.source == newest.c.source) & (run_table.c.started_at == newest.c.newest))
        .where(*conditions)
    )
    undated = (
        select(run_table.c.source, func.max(run_table.c.run_id).label("run_id"))
        .where(*conditions)
        .group_by(run_table.c.source)
        .having(func.max(run_table.c.started_at).is_(None))
        .subquery()
    )
    undated_stmt = select(run_table).join(
        undated, (run_table.c.source == undated.c.source) & (run_table.c.run_id == undated.c.run_id)
    )
    found: dict[str, RunRecord] = {}
    with engine.connect() as conn:
        for row in [*conn.execute(stmt), *conn.execute(undated_stmt)]:
            rec = _record(row)
            held = found.get(rec.source)
            if held is None or rec.run_id > held.run_id:
                found[rec.source] = rec
    return [found[source] for source in sorted(found)]


def latest_runs(engine: Engine) -> list[RunRecord]:
    """The most recently started run of every source, ordered by source."""
    return _latest_per_source(engine)


def last_successes(engine: Engine) -> dict[str, RunRecord]:
    """Every source's most recent successful load (status success), by source.

    Kept beside the latest run because a later run that found nothing new (no_data) or failed
    must not hide what was last loaded and when.
    """
    return {r.source: r for r in _latest_per_source(engine, run_table.c.status == "success")}


def last_success(engine: Engine, source: str) -> RunRecord | None:
    found = runs_for(engine, source, limit=1, status="success")
    return found[0] if found else None


def runs_for(engine: Engine, source: str, limit: int = 20, status: str | None = None) -> list[RunRecord]:
    """The source's runs, most recent first."""
    stmt = select(run_table).where(run_table.c.source == source)
    if status:
        stmt = stmt.where(run_table.c.status == status)
    stmt = stmt.order_by(run_table.c.started_at.desc().nulls_last(), run_table.c.run_id.desc()).limit(limit)
    with engine.connect() as conn:
        return [_record(row) for row in conn.execute(stmt)]


def failure_streak(records: list[RunRecord]) -> int:
    """Failed runs in a row at the head of `records` (most recent first)."""
    streak = 0
    for rec in records:
        if rec.status not in FAILED_STATUSES:
            break
        streak += 1
    return streak


STATUS_STYLES = {
    "success": "green",
    "running": "cyan",
    "no_data": "dim",
    "threshold_exceeded": "yellow",
    "failed": "bold red",
}


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _top_errors(errors: dict[str, int], n: int = 3) -> str:
    top = sorted(errors.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return ", ".join(f"{code}×{count:,}" for code, count in top) or "-"


def render_status(records: list[RunRecord]) -> RichTable:
    """A rich table of run records (typically `latest_runs`), one line per record."""
    from rich.table import Table as RichTable  # lazy: only the CLI renders
    from rich.text import Text as RichText

    table = RichTable(title="Headwater sources", header_style="bold")
    table.add_column("source")
    table.add_column("status")
    table.add_column("last run (UTC)")
    table.add_column("duration", justify="right")
    for name in ("read", "mapped", "quarantined", "loaded"):
        table.add_column(name, justify="right")
    table.add_column("watermark")
    table.add_column("top errors")
    for rec in records:
        table.add_row(
            rec.source,
            RichText(rec.status, style=STATUS_STYLES.get(rec.status, "")),
            rec.started_at.strftime("%Y-%m-%d %H:%M:%S") if rec.started_at else "-",
            _duration(rec.duration_s),
            f"{rec.rows_read:,}",
            f"{rec.rows_mapped:,}",
            f"{rec.rows_quarantined:,}",
            f"{rec.rows_loaded:,}",
            rec.watermark_after or rec.watermark_before or "-",
            _top_errors(rec.errors_by_code),
        )
    return table
