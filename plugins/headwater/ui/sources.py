"""What the Sources pages show, gathered from the source files, the run records and Airflow.

Kept free of web concerns so the CLI and tests can use it too.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

FAILED = ("failed", "threshold_exceeded")


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
    api_calls: int | None = None  # HTTP API sources: requests the latest run sent
    watermark: str | None = None
    errors_by_code: dict | None = None
    error_summary: str | None = None
    owner: str = ""
    tags: list[str] = field(default_factory=list)
    next_run: str | None = None
    paused: bool | None = None
    # the last successful load: kept visible when later runs found nothing new or failed
    last_success_at: str | None = None
    last_success_run: str | None = None
    last_success_read: int | None = None
    last_success_loaded: int | None = None
    freshness: str = "unknown"  # fresh | ageing | stale | never | unknown (headwater.freshness)
    freshness_age_s: float | None = None
    freshness_limit_s: float | None = None
    # streaming sources: accepted/rejected per minute, backlog and lag (inlet/status.py)
    stream: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    def run_problem(self) -> str | None:
        """The latest run's error as the Sources page shows it (and `headwater status`): when it failed."""
        return self.error_summary if self.error_summary and self.status in (*FAILED, "running") else None

    def run_note(self) -> str | None:
        """The latest run's informational note (nothing new, files skipped): shown, not as an error."""
        return self.error_summary if self.error_summary and self.status not in (*FAILED, "running") else None


_LOADED: dict[str, Any] = {}


def loaded_sources():
    """`load_sources()`, reused while no file it reads has changed.

    The api-server answers every page view; validating 1,000 source files took ~2-3 s here. The key
    is the name, size and modification time of every file under the include folder (sources,
    target schemas, suites), so any change is seen on the next view, as the dag-processor sees it.
    """
    from headwater import settings
    from headwater.config.loader import load_sources

    key = repr(sorted(_fingerprint(settings.sources_dir()) + _fingerprint(settings.include_dir())))
    if _LOADED.get("key") != key:
        _LOADED.update(key=key, value=load_sources())
    return _LOADED["value"]


def _fingerprint(folder) -> list[tuple]:
    import os

    found = []
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                st = os.stat(os.path.join(root, name))
            except OSError:
                continue
            found.append((root, name, st.st_size, st.st_mtime_ns))
    return found


def source_rows(now: datetime | None = None, only: str | None = None) -> list[SourceRow]:
    """One row per source file (valid or not), with its latest run and last successful load.

    `only`: just that source's row (the per-source page), read with per-source queries.
    """
    from headwater.freshness import evaluate, freshness_limit
    from headwater.store import db, runs

    now = now or datetime.now(UTC)
    loaded = loaded_sources()
    engine = db.get_engine()
    if only is None:
        latest = {r.source: r for r in runs.latest_runs(engine)}
        successes = runs.last_successes(engine)
    else:
        latest = {r.source: r for r in runs.runs_for(engine, only, limit=1)}
        successes = {r.source: r for r in runs.runs_for(engine, only, limit=1, status="success")}
    schedules = airflow_schedules()
    rows = []
    for s in loaded.sources:
        if only is not None and s.dag_id != only:
            continue
        row = SourceRow(
            dag_id=s.dag_id,
            file=s.path,
            connector=s.config.connector.type,
            target=s.config.mapping.target,
            lake_table=s.lake_table,
            schedule=schedule_text(s),
            problems=[],
            owner=s.config.owner,
            tags=sorted(s.config.tags),
            stream=_stream(s),
        )
        next_run, paused = schedules.get(s.dag_id, (None, None))
        row.next_run, row.paused = next_run, paused
        if (record := latest.get(row.dag_id)) is not None:
            add_run(row, record)
        best = successes.get(row.dag_id)
        if best is not None:
            row.last_success_at = _iso(best.ended_at or best.started_at)
            row.last_success_run = best.run_id
            row.last_success_read, row.last_success_loaded = best.rows_read, best.rows_loaded
        fresh = evaluate((best.ended_at or best.started_at) if best else None, freshness_limit(s.config), now)
        row.freshness = fresh.state
        row.freshness_age_s = fresh.age.total_seconds() if fresh.age is not None else None
        row.freshness_limit_s = fresh.limit.total_seconds() if fresh.limit is not None else None
        rows.append(row)
    for file, issues in loaded.errors.items():
        # listed under the DAG id of its placeholder (the id the file claims), else its file name;
        # an invalid file's last run is not what its DAG does now, so no run is shown
        holder = loaded.placeholder_of(file)
        dag_id = holder.dag_id if holder else file.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        if only is not None and dag_id != only:
            continue
        problems = [f"{i.loc}: {i.message}" if i.loc else i.message for i in issues]
        rows.append(SourceRow(dag_id, file, "?", "?", "?", "?", problems, status="invalid"))
    return sorted(rows, key=lambda r: r.dag_id)


def filter_rows(rows: list[SourceRow], *, status: str = "", connector: str = "", owner: str = "", tag: str = "", freshness: str = "") -> list[SourceRow]:
    """The rows matching every filter given (empty: no filter). `status` "never run" matches no run."""

    def keep(row: SourceRow) -> bool:
        if status and (row.status or "never run") != status:
            return False
        if connector and row.connector != connector:
            return False
        if owner and row.owner != owner:
            return False
        if tag and tag not in row.tags:
            return False
        return not freshness or row.freshness == freshness

    return [r for r in rows if keep(r)]


def add_run(row: SourceRow, record) -> SourceRow:
    """Fill `row` from a run record (`store.runs.RunRecord`), the latest of its source."""
    row.status = record.status
    row.started_at = _iso(record.started_at)
    row.duration_s = record.duration_s
    row.rows_read, row.rows_mapped = record.rows_read, record.rows_mapped
    row.rows_quarantined, row.rows_loaded = record.rows_quarantined, record.rows_loaded
    row.api_calls = record.api_calls
    row.watermark = record.watermark_after
    row.errors_by_code = record.errors_by_code
    row.error_summary = record.error_summary
    return row


def airflow_schedules() -> dict[str, tuple[str | None, bool | None]]:
    """{dag_id: (next run, paused)} from Airflow's metadata database, when this process can reach it.

    The api-server can; `headwater status` can on the machine of `make run`. Elsewhere the page still
    renders, without next runs.
    """
    try:
        from airflow.models.dag import DagModel
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            found = session.execute(
                select(DagModel.dag_id, DagModel.next_dagrun_create_after, DagModel.is_paused).where(
                    DagModel.tags.any(name="headwater")
                )
            ).all()
    except Exception as exc:  # no metadata DB here (or not migrated): a column stays empty
        log.debug("no next runs from Airflow: %s", exc)
        return {}
    return {dag_id: (_iso(after), paused) for dag_id, after, paused in found}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


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
        from headwater.freshness import format_age

        return f"every {format_age(schedule.interval)}"
    if schedule.assets:
        return "on " + ", ".join(schedule.assets)
    return "manual"


# --- the per-source page ---------------------------------------------------------------------


@dataclass
class SourceDetail:
    row: SourceRow
    runs: list  # RunRecord, most recent first
    config: Any  # SourceConfig, None for an invalid file
    state: dict | None
    state_run: str | None
    errors_by_code: dict[str, int]  # over the runs shown
    samples: dict[str, list[dict]]  # error code → sample quarantined rows (values redacted)
    sample_note: str | None
    gx: dict | None  # the GX result of `gx_run`
    gx_run: str | None
    asset_id: int | None
    mapping: list[dict] = field(default_factory=list)
    expectations: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        import json

        from headwater.store.values import to_json

        data = {
            "source": self.row.as_dict(),
            "runs": [asdict(r) for r in self.runs],
            "state": self.state,
            "state_run": self.state_run,
            "errors_by_code": self.errors_by_code,
            "samples": self.samples,
            "gx_run": self.gx_run,
            "gx": self.gx,
            "mapping": self.mapping,
            "expectations": self.expectations,
            "asset_id": self.asset_id,
        }
        return json.loads(to_json(data))


HISTORY = 100  # runs on the per-source page and its chart
SAMPLES_PER_CODE = 5


def source_detail(dag_id: str, *, gx_run: str | None = None, history: int = HISTORY) -> SourceDetail | None:
    """Everything the per-source page shows, or None when no source file and no run has this id."""
    from headwater.store import db, runs, state

    engine = db.get_engine()
    row = next((r for r in source_rows(only=dag_id) if r.dag_id == dag_id), None)
    records = runs.runs_for(engine, dag_id, limit=history)
    if row is None and not records:
        return None
    if row is None:  # runs of a source whose file is gone
        row = add_run(SourceRow(dag_id, "(no source file)", "?", "?", "?", "?", []), records[0])
    loaded = loaded_sources()
    source = next((s for s in loaded.sources if s.dag_id == dag_id), None)
    codes: dict[str, int] = {}
    for rec in records:
        for code, count in (rec.errors_by_code or {}).items():
            codes[code] = codes.get(code, 0) + count
    samples, note = quarantine_samples(dag_id, records)
    if not gx_run:  # the latest run that validated rows, else the latest with a result at all
        validated = [r for r in records if (r.details or {}).get("gx_result")]
        gx_run = next((r.run_id for r in validated if r.rows_mapped), validated[0].run_id if validated else None)
    gx = _gx_result(dag_id, gx_run) if gx_run else None
    current = state.get_state(engine, dag_id)
    state_row = state_run_of(engine, dag_id)
    return SourceDetail(
        row=row,
        runs=records,
        config=source.config if source else None,
        state=current,
        state_run=state_row,
        errors_by_code=dict(sorted(codes.items(), key=lambda kv: (-kv[1], kv[0]))),
        samples=samples,
        sample_note=note,
        gx=gx,
        gx_run=gx_run,
        asset_id=asset_id(f"headwater_lake_{row.lake_table}") if source else None,
        mapping=[f.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True) for f in source.config.mapping.fields] if source else [],
        expectations=_expectations(source.config) if source else [],
    )


def state_run_of(engine, dag_id: str) -> str | None:
    from sqlalchemy import select

    from headwater.store.state import state_table

    with engine.connect() as conn:
        found = conn.execute(select(state_table).where(state_table.c.source == dag_id)).first()
    if found is None:
        return None
    return getattr(found, "run_id", None)


def _expectations(config) -> list[dict]:
    from headwater.validation.models import all_expectations

    try:
        found = all_expectations(config.validate_)
    except Exception as exc:  # an unreadable suite file: said on the page, the rest still renders
        return [{"type": "(suite could not be read)", "kwargs": {"error": str(exc)}}]
    return [{"loc": loc, "type": e.type, "kwargs": e.kwargs} for loc, e in found]


def _gx_result(dag_id: str, run_id: str) -> dict | None:
    from headwater.lake.results import load_validation_result

    try:
        return load_validation_result(dag_id, run_id)
    except Exception as exc:  # the lake is unreachable from here: the page says so
        return {"error": f"cannot read the validation result: {exc}"}


def quarantine_samples(dag_id: str, records: list) -> tuple[dict[str, list[dict]], str | None]:
    """Up to SAMPLES_PER_CODE quarantined rows per error code of the latest run that quarantined rows.

    Read from the `_quarantine` lake table; every value and record text goes through `redact`: a
    rejected row may hold a token-looking value, and nothing secret-looking is ever shown.
    """
    run = next((r for r in records if r.rows_quarantined), None)
    if run is None:
        return {}, None
    try:
        from headwater.lake import delta
        from headwater.lake.quarantine import QUARANTINE_TABLE

        table = delta.open_table(delta.table_uri(QUARANTINE_TABLE))
        if table is None:
            return {}, "no quarantine table in the lake yet"
        import pyarrow.compute as pc
        import pyarrow.dataset as ds

        data = table.to_pyarrow_dataset().to_table(
            columns=["run_id", "stage", "row", "error_code", "column", "value", "message", "record"],
            filter=(ds.field("source") == dag_id) & (ds.field("run_id") == run.run_id),
        )
    except Exception as exc:  # the lake is unreachable from the api-server: the page says so
        return {}, f"cannot read the quarantine table: {exc}"
    from headwater.redact import redact

    samples: dict[str, list[dict]] = {}
    for code in sorted(set(data.column("error_code").to_pylist()) - {None}):
        picked = data.filter(pc.equal(data.column("error_code"), code)).slice(0, SAMPLES_PER_CODE)
        samples[code] = [
            {k: (redact(v) if isinstance(v, str) else v) for k, v in row.items()} for row in picked.to_pylist()
        ]
    return samples, f"from run {run.run_id}"


def asset_id(name: str) -> int | None:
    """Airflow's id of the lake table's asset (the UI links assets by id), when reachable."""
    try:
        from airflow.models.asset import AssetModel
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            return session.execute(select(AssetModel.id).where(AssetModel.name == name)).scalar()
    except Exception as exc:
        log.debug("no asset id for %s: %s", name, exc)
        return None


def schedule_text(source) -> str:
    """The schedule as people read it; a streaming source runs on its inlet trigger first."""
    if source.config.connector.type == "http_inlet":
        fallback = _schedule(source.config.schedule)
        return f"on inlet events (fallback: {fallback if fallback != 'manual' else 'every 600s'})"
    return _schedule(source.config.schedule)
