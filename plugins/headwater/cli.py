"""The `headwater` command: lint source files, show run status, export the JSON Schema."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from headwater.commands import COMMANDS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="headwater", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    lint = commands.add_parser("lint", help="check source files; print every problem with its location")
    lint.add_argument("files", nargs="*", type=Path, help="source files (default: every file in the sources folder)")
    lint.set_defaults(run=_lint)

    status = commands.add_parser("status", help="latest run of every source")
    status.set_defaults(run=_status)

    schema = commands.add_parser("schema", help="write the JSON Schema of source files")
    schema.add_argument("--check", action="store_true", help="fail if the committed schema is out of date")
    schema.add_argument("--stdout", action="store_true", help="print instead of writing schema/source.schema.json")
    schema.set_defaults(run=_schema)

    for name in COMMANDS:
        importlib.import_module(f"headwater.commands.{name}").register(commands)

    args = parser.parse_args(argv)
    return args.run(args)


def _lint(args: argparse.Namespace) -> int:
    from headwater.config.loader import load_files, source_files

    files = args.files or source_files()
    if not files:
        print("no source files found", file=sys.stderr)
        return 1
    # together, so conflicts between files (one DAG id, one lake table) are found as in Airflow
    loaded = load_files(files)
    bad, issues = len(loaded.errors), sum(len(i) for i in loaded.errors.values())
    for file_issues in loaded.errors.values():
        for issue in file_issues:
            print(issue)
    print(f"{len(files)} file(s) checked, {bad} invalid, {issues} issue(s)", file=sys.stderr)
    return 1 if bad else 0


def _status(args: argparse.Namespace) -> int:
    from rich.console import Console

    from headwater.store import db, runs

    engine = db.get_engine()
    records = runs.latest_runs(engine)
    console = Console()
    if not console.is_terminal:  # piped or captured: do not squeeze the table into 80 columns
        console = Console(width=200)
    if not records:
        console.print(f"no runs recorded yet in {db.describe(engine)}")
        return 0
    console.print(runs.render_status(records))
    return 0


def _schema(args: argparse.Namespace) -> int:
    from headwater.config.json_schema import SCHEMA_PATH, render

    text = render()
    if args.stdout:
        sys.stdout.write(text)
        return 0
    if args.check:
        current = SCHEMA_PATH.read_text() if SCHEMA_PATH.exists() else ""
        if current != text:
            print(f"{SCHEMA_PATH} is out of date: run `headwater schema`", file=sys.stderr)
            return 1
        return 0
    SCHEMA_PATH.parent.mkdir(parents=True, exist_ok=True)
    SCHEMA_PATH.write_text(text)
    print(f"wrote {SCHEMA_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
