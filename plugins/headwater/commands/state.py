"""`headwater state show|reset|set SOURCE`: look at, reset or move a source's incremental state (watermark).

For the people on call: after a bad load, rewind a source so its next run reads again. The
source's DAG should be paused or idle while its state is changed. A reset asks first; without a
terminal to ask on (a script, cron) it refuses unless `--yes` is given.
"""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("state", help="show or reset a source's incremental state (watermark)")
    actions = parser.add_subparsers(dest="action", required=True)
    show = actions.add_parser("show", help="print the committed state of a source")
    show.add_argument("source", help="the source's DAG id")
    show.set_defaults(run=_show)
    reset = actions.add_parser("reset", help="forget the state, or move a SQL cursor to a value")
    reset.add_argument("source", help="the source's DAG id")
    reset.add_argument("--cursor", help="SQL sources: the cursor value to restart from (rows at or after it are read)")
    reset.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    reset.set_defaults(run=_reset)
    # the same move as `reset --cursor`, under the name people on call look for
    move = actions.add_parser("set", help="move a cursor source's watermark to a value (asks first)")
    move.add_argument("source", help="the source's DAG id")
    move.add_argument("--cursor", required=True, help="the cursor value to restart from (rows at or after it are read)")
    move.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    move.set_defaults(run=_reset)


def _known_or_stored(name: str, current: dict | None) -> bool:
    """A name is fine when a source file declares it, or when the store holds state for it (a source
    whose file is gone); otherwise say so with the closest names."""
    from headwater.commands.names import source_names, unknown_source

    if current is not None:
        return True
    known = source_names()
    if name in known:
        return True
    print(unknown_source(name, known), file=sys.stderr)
    return False


def _show(args: argparse.Namespace) -> int:
    from headwater.store import db, state

    current = state.get_state(db.get_engine(), args.source)
    if not _known_or_stored(args.source, current):
        return 1
    if current is None:
        print(f"no state for {args.source!r}: its next run reads everything (or from the cursor's initial_value)")
        return 0
    print(json.dumps(current, indent=2, default=str))
    return 0


def _reset(args: argparse.Namespace) -> int:
    from sqlalchemy import delete

    from headwater.store import db, state

    engine = db.get_engine()
    current = state.get_state(engine, args.source)
    if not _known_or_stored(args.source, current):
        return 1
    if current is None and args.action == "set":
        # the cursor's type is learnt from the data on the first run: nothing to move yet
        print(
            f"no state for {args.source!r} yet: set `connector.cursor.initial_value` in its source file instead",
            file=sys.stderr,
        )
        return 2
    if current is None:
        print(f"no state for {args.source!r}; nothing to reset")
        return 0
    if args.cursor is not None:
        if "cursor" not in current:
            print(f"{args.source!r} is not a cursor source; use reset without --cursor", file=sys.stderr)
            return 2
        new = {**current, "cursor": {**current["cursor"], "value": args.cursor}, "keys_at_cursor": []}
        what = f"move the cursor of {args.source!r} from {current['cursor'].get('value')!r} to {args.cursor!r}"
    else:
        new = None
        what = f"forget the state of {args.source!r} (its next run reads everything)"
    if not args.yes:
        if not sys.stdin.isatty():
            print(f"refusing to {what} without confirmation: no terminal to ask on; add --yes", file=sys.stderr)
            return 2
        if input(f"{what}? [y/N] ").strip().lower() != "y":
            print("nothing changed")
            return 1
    if new is None:
        with engine.begin() as conn:
            conn.execute(delete(state.state_table).where(state.state_table.c.source == args.source))
    else:
        state.set_state(engine, args.source, new, run_id=None)
    print(f"done: {what}")
    return 0
