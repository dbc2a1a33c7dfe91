"""`headwater audience preview NAME` and `headwater audience lint`: an audience without sending anything.

Preview computes the membership on the configured store and, per destination, the signals a run
would send now (diffed against what the destination acknowledged), and prints the counts and a
sample of payloads. It never contacts a destination and writes nothing (the store is only read).
"""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("audience", help="preview or lint audiences (include/audiences/)")
    commands = parser.add_subparsers(dest="audience_command", required=True)
    preview = commands.add_parser("preview", help="membership count and sample payloads; sends nothing")
    preview.add_argument("name", help="audience file name (without .yaml) or DAG id")
    preview.add_argument("--sample", type=int, default=5, help="payloads shown per destination (default 5)")
    preview.set_defaults(run=run_preview)
    lint = commands.add_parser("lint", help="check every audience file; print each problem with its location")
    lint.set_defaults(run=run_lint)


def run_preview(args: argparse.Namespace) -> int:
    from headwater.activation.destinations.base import payload
    from headwater.activation.destinations.registry import sends_variables
    from headwater.activation.loader import find_audience
    from headwater.activation.runner import run_audience
    from headwater.errors import ConfigError
    from headwater.store import db

    try:
        audience = find_audience(args.name)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return 1
    engine = db.get_engine()
    result = run_audience(engine, audience, send=False)
    print(f"audience {audience.name}: {result.members.num_rows} member(s)")
    for dest in audience.config.destinations:
        run = result.destinations[dest.name]
        c = run.counts
        line = f"  {dest.name} ({dest.type}): {c['add']} add, {c['remove']} remove, {c['modify']} modify to send"
        if run.skipped:
            line += f"; {run.skipped} not sent (the destination does not take them)"
        if run.invalid:
            line += "; invalid: " + ", ".join(f"{k} {v}" for k, v in run.invalid.items())
        print(line)
        for example in run.examples:
            print(f"    {example}")
        for signal in run.signals.slice(0, max(args.sample, 0)).to_pylist():
            print("    " + json.dumps(payload(signal, variables=sends_variables(dest)), ensure_ascii=False))
    return 0


def run_lint(args: argparse.Namespace) -> int:
    from headwater.activation.loader import audience_files, load_audiences

    loaded = load_audiences()
    for issues in loaded.errors.values():
        for issue in issues:
            print(issue)
    print(f"{len(audience_files())} audience file(s) checked, {len(loaded.errors)} invalid", file=sys.stderr)
    return 1 if loaded.errors else 0
