"""The `headwater` command: lint source files, export the JSON Schema; the rest is in `headwater.commands`."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from headwater.commands import COMMANDS
from headwater.local_airflow import cli_environment


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="headwater", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    lint = commands.add_parser("lint", help="check source files; print every problem with its location")
    lint.add_argument(
        "files", nargs="*", type=Path, help="source files or folders of them (default: the sources folder)"
    )
    lint.set_defaults(run=_lint)

    schema = commands.add_parser("schema", help="write the JSON Schemas of source and audience files")
    schema.add_argument("--check", action="store_true", help="fail if the committed schema is out of date")
    schema.add_argument("--stdout", action="store_true", help="print instead of writing schema/*.schema.json")
    schema.set_defaults(run=_schema)

    for name in COMMANDS:
        importlib.import_module(f"headwater.commands.{name}").register(commands)

    args = parser.parse_args(argv)
    # Commands that connect (preview; status, state and profile with a store connection) resolve
    # connections as tasks do, metadata database included, from make run's AIRFLOW_HOME.
    with cli_environment():
        return args.run(args)


def lint_targets(arguments: list[Path]) -> tuple[list[Path], list[str]]:
    """The source files named by `arguments` (a folder stands for every source file in it, as the
    DAG file reads it), and a message for each argument that is neither."""
    from headwater.config.loader import source_files

    files: list[Path] = []
    problems: list[str] = []
    for path in arguments:
        if path.is_dir():
            found = source_files(path)
            if not found:
                problems.append(f"{path}: no source files (*.yaml, *.yml) in this folder")
            files.extend(found)
        elif path.exists():  # a FIFO or device too: the loader says why it is not a source file
            files.append(path)
        else:
            problems.append(f"{path}: no such file or folder")
    return files, problems


def _lint(args: argparse.Namespace) -> int:
    from headwater import settings
    from headwater.config.loader import load_files

    files, problems = lint_targets(args.files or [settings.sources_dir()])
    for problem in problems:
        print(problem)
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
    return 1 if bad or problems else 0


def _schema(args: argparse.Namespace) -> int:
    from headwater.config.json_schema import AUDIENCE_SCHEMA_PATH, SCHEMA_PATH, render, render_audience

    status = 0
    for path, text in ((SCHEMA_PATH, render()), (AUDIENCE_SCHEMA_PATH, render_audience())):
        if args.stdout:
            sys.stdout.write(text)
            continue
        if args.check:
            current = path.read_text() if path.exists() else ""
            if current != text:
                print(f"{path} is out of date: run `headwater schema`", file=sys.stderr)
                status = 1
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    return status


if __name__ == "__main__":
    sys.exit(main())
