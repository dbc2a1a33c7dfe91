"""`headwater inlet`: run the HTTP inlet; `headwater inlet keys create|list|rotate|revoke SOURCE`.

A key is printed once, when it is created or rotated in; the store keeps only its hash.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from datetime import timedelta


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("inlet", help="run the HTTP inlet for streaming sources, or manage write keys")
    parser.add_argument("--host", default=os.environ.get("HEADWATER_INLET_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("HEADWATER_INLET_PORT", "8090")))
    parser.set_defaults(run=_serve)
    actions = parser.add_subparsers(dest="action")
    keys = actions.add_parser("keys", help="write keys of a streaming source")
    key_actions = keys.add_subparsers(dest="key_action", required=True)
    create = key_actions.add_parser("create", help="create a write key (printed once)")
    create.add_argument("source")
    create.set_defaults(run=_create)
    listing = key_actions.add_parser("list", help="list write keys (ids and prefixes, never the keys)")
    listing.add_argument("source", nargs="?")
    listing.set_defaults(run=_list)
    rotate = key_actions.add_parser("rotate", help="create a new key; the current ones keep working for --grace")
    rotate.add_argument("source")
    rotate.add_argument("--grace", default="24h", help="how long the old keys keep working (e.g. 30m, 24h, 7d; default 24h)")
    rotate.set_defaults(run=_rotate)
    revoke = key_actions.add_parser("revoke", help="revoke keys at once (401 from the next request on)")
    revoke.add_argument("source")
    revoke.add_argument("--key-id", help="only this key (default: every key of the source)")
    revoke.set_defaults(run=_revoke)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from headwater.inlet.app import create_app
    from headwater.inlet.log import open_log
    from headwater.store import db

    log = open_log()
    app = create_app(log, db.get_engine())
    print(f"headwater inlet on http://{args.host}:{args.port} ({log.name} log)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def _streaming_source(name: str) -> bool:
    from headwater.commands.names import source_names, unknown_source
    from headwater.config.loader import load_sources

    loaded = load_sources()
    for source in loaded.sources:
        if source.dag_id == name:
            if source.config.connector.type != "http_inlet":
                print(f"{name!r} is a {source.config.connector.type} source; write keys are for http_inlet sources", file=sys.stderr)
                return False
            return True
    print(unknown_source(name, source_names()), file=sys.stderr)
    return False


def _create(args: argparse.Namespace) -> int:
    from headwater.inlet import keys
    from headwater.store import db

    if not _streaming_source(args.source):
        return 1
    key, info = keys.create(db.get_engine(), args.source)
    print(key)
    print(f"key id {info.key_id} for {args.source}: store it now, it is not shown again", file=sys.stderr)
    return 0


def _list(args: argparse.Namespace) -> int:
    from headwater.inlet import keys
    from headwater.store import db

    found = keys.list_keys(db.get_engine(), args.source)
    if not found:
        print("no write keys" + (f" for {args.source!r}" if args.source else ""))
        return 0
    for info in found:
        print(f"{info.source}\t{info.key_id}\t{info.prefix}…\tcreated {info.created_at:%Y-%m-%d %H:%M:%S}Z\t{info.status()}")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    from headwater.inlet import keys
    from headwater.store import db

    grace = _duration(args.grace)
    if grace is None:
        print(f"--grace {args.grace!r}: a duration like 30m, 24h or 7d", file=sys.stderr)
        return 2
    if not _streaming_source(args.source):
        return 1
    key, info, moved = keys.rotate(db.get_engine(), args.source, grace)
    print(key)
    print(f"new key id {info.key_id}; {moved} older key(s) keep working for {args.grace}", file=sys.stderr)
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from headwater.inlet import keys
    from headwater.store import db

    count = keys.revoke(db.get_engine(), args.source, args.key_id)
    if not count:
        which = f"key {args.key_id!r} of " if args.key_id else ""
        print(f"no active {which}write key for {args.source!r}", file=sys.stderr)
        return 1
    print(f"{count} key(s) of {args.source} revoked")
    return 0


def _duration(text: str) -> timedelta | None:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", text.strip())
    if not match:
        return None
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match[2]]
    return timedelta(**{unit: float(match[1])})
