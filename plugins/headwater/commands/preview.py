"""`headwater preview SOURCE`: map and validate the first rows of a source, and show the result.

Connects, reads the first N rows of the selection (stopping the reader there), maps and validates
them exactly as a run would, and prints the mapped rows next to the expectation results. It loads
nothing and writes no state: incremental sources are read from their initial position, the store
is never opened, and nothing is staged.

"Read" means what a run's record counts as read: readable rows plus rows the reader rejected
(malformed lines, undecodable bytes). `--rows N` reads N of those, and reports the unreadable
rows among them only, not those further on in the same block of a file.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.config.models import Source
    from headwater.records import RowError


# "<file> line 12: ..." in the messages of the file readers' row errors.
_LINE = re.compile(r"\bline (\d+)\b")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "preview", help="map and validate the first rows of a source; loads nothing, writes no state"
    )
    parser.add_argument("source", help="DAG id, source file name (without .yaml) or path of a source file")
    parser.add_argument(
        "--rows",
        type=int,
        default=100,
        help="how many rows to read (default 100); unreadable rows count, as in a run's rows read",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import logging

    from airflow.sdk.exceptions import AirflowNotFoundException
    from rich.console import Console

    from headwater.errors import ConfigError, HeadwaterError

    console = Console()
    if not console.is_terminal:  # piped or captured: do not squeeze the tables into 80 columns
        console = Console(width=240)
    # GX logs every closure it registers at INFO; the tables are what the user asked for.
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    if args.rows < 1:
        print("--rows must be at least 1", file=sys.stderr)
        return 2
    try:
        source = find_source(args.source)
        outcome = preview(source, rows=args.rows)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return 1
    except HeadwaterError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except AirflowNotFoundException as exc:  # the source's conn_id is defined nowhere a task would look
        import os

        print(
            f"{source.path}: connector.conn_id: {exc}; looked in AIRFLOW_CONN_* variables, the configured "
            f"secrets backends and the metadata database of AIRFLOW_HOME={os.environ.get('AIRFLOW_HOME')}",
            file=sys.stderr,
        )
        return 1
    render(console, source, outcome)
    return 0


def find_source(name: str) -> Source:
    """A source by path, file name or DAG id; ConfigError if none matches (listing the DAG ids)."""
    from headwater.config.loader import load_source, source_files
    from headwater.errors import ConfigError, ConfigIssue

    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return load_source(path)
    files = source_files()
    for candidate in files:
        if candidate.stem == name:
            return load_source(candidate)
    known: list[str] = []
    for candidate in files:
        try:
            source = load_source(candidate, check=False)
        except ConfigError:
            continue
        if source.dag_id == name:
            return load_source(candidate)
        known.append(source.dag_id)
    from headwater.commands.names import unknown_source

    raise ConfigError([ConfigIssue(name, "", unknown_source(name, sorted(known)))])


class Outcome:
    """What a preview found: read sample, mapping result, validation result, connection text."""

    def __init__(self, described: str, sample: pa.Table, read_errors: list, mapped: Any, validated: Any):
        self.described = described
        self.sample = sample
        self.read_errors = read_errors
        self.mapped = mapped
        self.validated = validated


def _data_start(connector: Any) -> int:
    """Line number of a file's first record, for the formats whose errors name a line."""
    fmt = getattr(connector, "format", None)
    csv = getattr(connector, "csv", None)
    if fmt == "jsonl" or csv is None:
        return 1
    return 1 + csv.skip_rows + (1 if csv.header else 0)  # the reader skips the header line either way


def _among_first(error: RowError, rows: int, first_line: int) -> bool:
    """Whether an unreadable row lies within the first `rows` records of its file.

    Readers report the malformed rows of a whole block of a file with its first chunk; those that
    name a line past the first `rows` records lie beyond what preview reads.
    """
    found = _LINE.search(error.message)
    return found is None or int(found.group(1)) - first_line < rows


def read_sample(source: Source, rows: int) -> tuple[str, pa.Table, list[RowError]]:
    """(connection description, the readable rows with `_hw_row`, the unreadable rows and file errors).

    What preview reads is what a run counts as read (the run record's rows read): readable rows
    plus rows the reader rejected. Preview stops after `rows` of them, and reports only the
    unreadable rows among them. Whole-file errors (BAD_FILE) are not rows; they are reported too.
    """
    import pyarrow as pa

    from headwater.connectors.registry import make_hook
    from headwater.records import ROW_ID

    connector = source.config.connector
    if getattr(connector, "chunk_size", None):
        # Read no more than needed: the reader stops after the first chunk that fills the sample.
        connector = connector.model_copy(update={"chunk_size": min(connector.chunk_size, rows)})
    first_line = _data_start(connector)
    hook = make_hook(connector, source_name=source.dag_id)
    described = hook.check()
    tables: list[pa.Table] = []
    errors: list[RowError] = []
    count = 0  # readable + unreadable rows taken
    chunks = hook.read(None)  # never the stored state: preview neither reads nor moves watermarks
    try:
        for chunk in chunks:
            for error in chunk.errors:
                if error.code == "BAD_FILE":
                    errors.append(error)
                elif count < rows and _among_first(error, rows, first_line):
                    errors.append(error)
                    count += 1
            if chunk.table.num_rows and count < rows:
                tables.append(chunk.table.slice(0, rows - count))
                count += tables[-1].num_rows
            if count >= rows:
                break
    finally:
        close = getattr(chunks, "close", None)
        if close:
            close()  # ends the reader's connection or file now
    if not tables:
        return described, pa.table({ROW_ID: pa.array([], pa.int64())}), errors
    sample = pa.concat_tables(tables, promote_options="permissive")
    return described, sample.append_column(ROW_ID, pa.array(range(sample.num_rows), pa.int64())), errors


def unreadable(errors: list[RowError]) -> int:
    """Rows the reader rejected (a BAD_FILE error is a whole file, not a row: the run record agrees)."""
    return sum(1 for e in errors if e.code != "BAD_FILE")


def preview(source: Source, *, rows: int = 100) -> Outcome:
    """Read, map and validate the first `rows` rows of `source`; nothing is loaded or written."""
    from headwater.mapping.engine import compile_mapping
    from headwater.target_schemas import load_target_schema
    from headwater.validation.runner import Validator

    mapping = source.config.mapping
    compiled = compile_mapping(mapping, load_target_schema(mapping.target), file=source.path)
    validator = Validator(source.config.validate_, file=source.path)
    described, sample, read_errors = read_sample(source, rows)
    if sample.num_rows == 0:
        return Outcome(described, sample, read_errors, None, None)
    mapped = compiled.apply(sample)
    validated = validator.validate(mapped.table) if mapped.table.num_rows else None
    return Outcome(described, sample, read_errors, mapped, validated)


# --- output ----------------------------------------------------------------------------------------


def _flat(row: dict, prefix: str = "") -> dict:
    out: dict = {}
    for key, value in row.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _cell(value: Any) -> str:
    if value is None:
        return "[dim]∅[/dim]"
    from rich.markup import escape

    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return escape(text if len(text) <= 60 else text[:57] + "...")


def render(console: Any, source: Source, outcome: Outcome) -> None:
    from rich.markup import escape
    from rich.table import Table

    from headwater.records import ROW_ID

    mapping = source.config.mapping
    console.print(
        f"[bold]{escape(source.dag_id)}[/bold] ({escape(source.path)}): {escape(outcome.described)}"
    )
    if outcome.mapped is None:
        console.print(f"{_read_words(outcome)}; no readable row")
        _render_errors(console, "rows the reader rejected", outcome.read_errors)
        return
    result, validated = outcome.mapped, outcome.validated
    problems: dict[int, list[str]] = {}
    for error in result.errors + (validated.errors if validated else []):
        where = f" {error.column}" if error.column else ""
        problems.setdefault(error.row, []).append(f"{error.code}{where}: {error.message}")
    rejected = {e.row for e in result.errors}
    fields = list(mapping.mapped_fields)
    table = Table(
        title=f"{result.rows_mapped} of {outcome.sample.num_rows} rows mapped onto '{mapping.target}'"
    )
    table.add_column("row", justify="right")
    for name in fields:
        table.add_column(escape(name), overflow="fold")
    table.add_column("checks", overflow="fold")
    mapped_rows = {r[ROW_ID]: _flat(r) for r in result.table.to_pylist()}
    for row_id in outcome.sample.column(ROW_ID).to_pylist():
        notes = problems.get(row_id, [])
        status = "[green]ok[/green]" if not notes else "[red]" + escape("; ".join(notes)) + "[/red]"
        if row_id in rejected:
            table.add_row(str(row_id), *["[dim]rejected[/dim]"] * len(fields), status)
        else:
            values = mapped_rows.get(row_id, {})
            table.add_row(str(row_id), *[_cell(values.get(name)) for name in fields], status)
    console.print(table)

    checks = Table(title="expectations")
    for header in ("expectation", "location", "result", "failed rows"):
        checks.add_column(header, overflow="fold")
    for entry in validated.summary.get("expectations", []) if validated else []:
        columns = ", ".join(str(v) for k, v in entry["kwargs"].items() if k.startswith("column"))
        verdict = "[green]passed[/green]" if entry["success"] else "[red]failed[/red]"
        if entry.get("exception"):
            verdict = f"[red]could not run: {escape(entry['exception'])}[/red]"
        failed = entry.get("unexpected_count")
        checks.add_row(
            escape(f"{entry['type']}({columns})"),
            escape(entry.get("loc") or ""),
            verdict,
            "" if failed is None else str(failed),
        )
    if validated is None or not validated.summary.get("expectations"):
        checks.add_row("[dim]no expectations[/dim]", "", "", "")
    console.print(checks)
    failed_rows = len(validated.failed_rows) if validated else 0
    by_code = f" {result.errors_by_code()}" if result.rows_rejected else ""
    console.print(
        f"{_read_words(outcome)}, {result.rows_rejected} rejected by the mapping{by_code}, "
        f"{failed_rows} failing expectations; nothing was loaded or written"
    )
    for failure in validated.table_failures if validated else []:
        console.print(f"[red]table check failed:[/red] {escape(failure)}")
    _render_errors(console, "rows the reader rejected", outcome.read_errors)


def _read_words(outcome: Outcome) -> str:
    """'61 rows read (60 readable, 1 unreadable)': read counts as in the run record."""
    bad = unreadable(outcome.read_errors)
    files = len(outcome.read_errors) - bad
    words = f"{outcome.sample.num_rows + bad} rows read ({outcome.sample.num_rows} readable, {bad} unreadable)"
    return words + (f", {files} unreadable file(s)" if files else "")


def _render_errors(console: Any, title: str, errors: list) -> None:
    if not errors:
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title)
    for header in ("code", "message"):
        table.add_column(header, overflow="fold")
    for error in errors[:50]:
        table.add_row(escape(error.code), escape(error.message))
    console.print(table)
