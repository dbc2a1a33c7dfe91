"""`headwater status`: every source with its latest run, as the Sources page shows them.

The rows come from `ui.sources.source_rows()`, the page's own function: sources that never ran,
invalid source files and the latest run's error message appear here exactly as there.
"""

from __future__ import annotations

import argparse

NEVER_RUN = "never run"  # the Sources page's word for a source without a run record
NO_FILE = "(no source file)"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("status", help="every source with its latest run (as the Sources page)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from headwater import settings
    from headwater.store import db, runs
    from headwater.ui.sources import SourceRow, add_run, source_rows

    console = Console()
    if not console.is_terminal:  # piped or captured: do not squeeze the table into 80 columns
        console = Console(width=320)
    rows = source_rows()
    engine = db.get_engine()
    listed = {row.dag_id for row in rows}
    # Runs of sources whose file is gone: still worth seeing, after the others.
    rows += [
        add_run(SourceRow(r.source, NO_FILE, "?", "?", "?", "?", []), r)
        for r in runs.latest_runs(engine)
        if r.source not in listed
    ]
    if not rows:
        console.print(
            f"no source files in {settings.sources_dir()} and no runs recorded in {db.describe(engine)}"
        )
        return 0
    console.print(render(rows))
    streams = [row for row in rows if row.stream]
    if streams:
        console.print(render_streams(streams))
    return 0


def render_streams(rows: list):
    """Streaming sources: the inlet's counts, backlog and lag (the last micro-batch is the run above)."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Streaming sources (inlet)", header_style="bold")
    table.add_column("source")
    table.add_column("last minute, backlog, lag", overflow="fold")
    for row in rows:
        table.add_row(escape(row.dag_id), escape(row.stream))
    return table


def render(rows: list):
    """A rich table, one line per source file (valid or not) or source with runs but no file."""
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    from headwater.store.runs import STATUS_STYLES

    table = Table(title="Headwater sources", header_style="bold")
    for name in ("source", "status", "freshness", "last run (UTC)", "duration"):
        table.add_column(name)
    for name in ("read", "mapped", "quarantined", "loaded", "API calls"):
        table.add_column(name, justify="right")
    table.add_column("last successful load (UTC)")
    for name in ("watermark", "errors by code", "problem"):
        table.add_column(name, overflow="fold")

    def count(value: int | None) -> str:
        return "-" if value is None else f"{value:,}"

    for row in rows:
        if row.problems:
            table.add_row(
                escape(row.dag_id),
                Text("invalid file", style="bold red"),
                *["-"] * 11,
                escape("; ".join(row.problems)),
            )
            continue
        status = row.status or NEVER_RUN
        table.add_row(
            escape(row.dag_id),
            Text(status, style=STATUS_STYLES.get(status, "dim")),
            _freshness(row),
            (row.started_at or "-").replace("T", " ")[:19],
            "-" if row.duration_s is None else f"{row.duration_s:.1f}s",
            count(row.rows_read),
            count(row.rows_mapped),
            count(row.rows_quarantined),
            count(row.rows_loaded),
            count(row.api_calls),
            _last_success(row),
            escape(row.watermark or "-"),
            escape(_codes(row.errors_by_code)),
            escape(" ".join(x for x in (NO_FILE if row.file == NO_FILE else "", row.run_problem()) if x)),
        )
    return table


FRESHNESS_STYLES = {"fresh": "green", "ageing": "yellow", "stale": "bold red", "never": "dim", "unknown": "dim"}


def _freshness(row):
    """The Sources page's freshness: state, time since the last successful load, and the limit."""
    from datetime import timedelta

    from rich.text import Text

    from headwater.freshness import format_age

    text = row.freshness
    if row.freshness_age_s is not None:
        text += f" {format_age(timedelta(seconds=row.freshness_age_s))}"
    if row.freshness_limit_s is not None:
        text += f" / {format_age(timedelta(seconds=row.freshness_limit_s))}"
    return Text(text, style=FRESHNESS_STYLES.get(row.freshness, ""))


def _last_success(row) -> str:
    if not row.last_success_at:
        return "-"
    return f"{row.last_success_at.replace('T', ' ')[:19]} ({row.last_success_loaded or 0:,} loaded)"


def _codes(errors: dict | None, n: int = 3) -> str:
    top = sorted((errors or {}).items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return ", ".join(f"{code}×{number:,}" for code, number in top) or "-"
