"""What the Sources page shows, gathered from the source files and the run records.

Kept free of web concerns so the CLI and tests can use it too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class SourceRow:
    dag_id: str
    file: str
    connector: str
    target: str
    lake_table: str
    schedule: str
    problems: list[str]
    status: str | None = None
    started_at: str | None = None
    duration_s: float | None = None
    rows_read: int | None = None
    rows_mapped: int | None = None
    rows_quarantined: int | None = None
    rows_loaded: int | None = None
    watermark: str | None = None
    errors_by_code: dict | None = None
    error_summary: str | None = None
    # streaming sources: accepted/rejected per minute, backlog and lag (inlet/status.py)
    stream: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    def run_problem(self) -> str | None:
        """The latest run's error as the Sources page shows it (and `headwater status`): unless it succeeded."""
        return self.error_summary if self.error_summary and self.status != "success" else None


def source_rows() -> list[SourceRow]:
    """One row per source file (valid or not), with its latest run when there is one."""
    from headwater.config.loader import load_sources
    from headwater.store import db, runs

    loaded = load_sources()
    latest = {r.source: r for r in runs.latest_runs(db.get_engine())}
    rows = [
        SourceRow(
            dag_id=s.dag_id,
            file=s.path,
            connector=s.config.connector.type,
            target=s.config.mapping.target,
            lake_table=s.lake_table,
            schedule=schedule_text(s),
            problems=[],
            stream=_stream(s),
        )
        for s in loaded.sources
    ]
    for file, issues in loaded.errors.items():
        # listed under the DAG id of its placeholder (the id the file claims), else its file name
        holder = loaded.placeholder_of(file)
        dag_id = holder.dag_id if holder else file.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        problems = [f"{i.loc}: {i.message}" if i.loc else i.message for i in issues]
        rows.append(SourceRow(dag_id, file, "?", "?", "?", "?", problems, status="invalid"))
    for row in rows:
        record = latest.get(row.dag_id)
        if record is not None and not row.problems:  # an invalid file's last run is not what its DAG does now
            add_run(row, record)
    return sorted(rows, key=lambda r: r.dag_id)


def add_run(row: SourceRow, record) -> SourceRow:
    """Fill `row` from a run record (`store.runs.RunRecord`), the latest of its source."""
    row.status = record.status
    row.started_at = record.started_at.isoformat(timespec="seconds") if record.started_at else None
    row.duration_s = record.duration_s
    row.rows_read, row.rows_mapped = record.rows_read, record.rows_mapped
    row.rows_quarantined, row.rows_loaded = record.rows_quarantined, record.rows_loaded
    row.watermark = record.watermark_after
    row.errors_by_code = record.errors_by_code
    row.error_summary = record.error_summary
    return row


def _stream(source) -> str | None:
    """A streaming source's inlet figures in one line; None for batch sources."""
    connector = source.config.connector
    if connector.type != "http_inlet":
        return None
    from headwater.inlet.status import stream_status

    return stream_status(source.dag_id, connector.stream_name(source.dag_id)).describe()


def _schedule(schedule) -> str:
    if schedule.cron:
        return schedule.cron
    if schedule.interval:
        return f"every {int(schedule.interval.total_seconds())}s"
    if schedule.assets:
        return "on " + ", ".join(schedule.assets)
    return "manual"


def schedule_text(source) -> str:
    """The schedule as people read it; a streaming source runs on its inlet trigger first."""
    if source.config.connector.type == "http_inlet":
        fallback = _schedule(source.config.schedule)
        return f"on inlet events (fallback: {fallback if fallback != 'manual' else 'every 600s'})"
    return _schedule(source.config.schedule)
