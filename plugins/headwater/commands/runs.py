"""`headwater runs SOURCE`: a source's run history from the store, most recent first.

For the people on call: what each run read, mapped, quarantined and loaded, how the watermark
moved and which error codes came up. `--json` prints the records for scripts.
"""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("runs", help="a source's run history (most recent first)")
    parser.add_argument("source", help="the source's DAG id")
    parser.add_argument("--limit", type=_positive, default=20, help="how many runs (default 20)")
    parser.add_argument("--json", action="store_true", help="print the run records as JSON")
    parser.set_defaults(run=run)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    import sys
    from dataclasses import asdict

    from rich.console import Console

    from headwater.commands.names import source_names, unknown_source
    from headwater.store import db, runs

    engine = db.get_engine()
    records = runs.runs_for(engine, args.source, limit=args.limit)
    known = source_names()
    # a source whose file is gone still has its history; an unknown name with no runs is a typo
    if not records and args.source not in known:
        print(unknown_source(args.source, known), file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([asdict(r) for r in records], indent=2, default=str))
        return 0
    console = Console()
    if not console.is_terminal:  # piped or captured: do not squeeze the table into 80 columns
        console = Console(width=320)
    if not records:
        console.print(f"no runs recorded for {args.source!r} in {db.describe(engine)}")
        return 0
    console.print(render(args.source, records))
    return 0


def render(source: str, records: list):
    """A rich table, one line per run."""
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    from headwater.commands.status import _codes
    from headwater.store.runs import STATUS_STYLES

    table = Table(title=f"Runs of {source}", header_style="bold")
    for name in ("status", "run id", "started (UTC)", "duration"):
        table.add_column(name)
    for name in ("read", "mapped", "quarantined", "loaded", "API calls"):
        table.add_column(name, justify="right")
    for name in ("watermark before → after", "errors by code"):
        table.add_column(name, overflow="fold")

    def count(value: int | None) -> str:
        return "-" if value is None else f"{value:,}"

    for rec in records:
        table.add_row(
            Text(rec.status, style=STATUS_STYLES.get(rec.status, "")),
            escape(rec.run_id),
            rec.started_at.strftime("%Y-%m-%d %H:%M:%S") if rec.started_at else "-",
            "-" if rec.duration_s is None else f"{rec.duration_s:.1f}s",
            count(rec.rows_read),
            count(rec.rows_mapped),
            count(rec.rows_quarantined),
            count(rec.rows_loaded),
            count(rec.api_calls),
            escape(f"{rec.watermark_before or '-'} → {rec.watermark_after or '-'}"),
            escape(_codes(rec.errors_by_code, n=5)),
        )
    return table
