"""`headwater profile lookup NAMESPACE VALUE`: print a unified profile from the store."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    profile = subparsers.add_parser("profile", help="inspect unified profiles in the store")
    commands = profile.add_subparsers(dest="profile_command", required=True)
    lookup = commands.add_parser(
        "lookup", help="the profile an identity points at (namespace 'profile_id' looks up by id)"
    )
    lookup.add_argument("namespace", help="identity namespace, e.g. email, phone, crm_id; or profile_id")
    lookup.add_argument("value", help="identity value (normalised as the namespace says)")
    lookup.set_defaults(run=run_lookup)


def run_lookup(args: argparse.Namespace) -> int:
    from rich.console import Console

    from headwater.store import db, profiles

    engine = db.get_engine()
    if args.namespace == "profile_id":
        found = profiles.get_profile(engine, args.value)
    else:
        found = profiles.lookup_profile(engine, args.namespace, args.value)
    if found is None:
        print(f"no profile has {args.namespace} {args.value!r} in {db.describe(engine)}", file=sys.stderr)
        return 1
    console = Console()
    if not console.is_terminal:  # piped or captured: do not squeeze the tables into 80 columns
        console = Console(width=200)
    for part in render_profile(found):
        console.print(part)
    return 0


def render_profile(profile: dict) -> list:
    """Rich renderables: a heading, the attributes with their source and run, identities, fragments."""
    from rich.table import Table

    merged = ", ".join(profile["merged_from"]) or "-"
    head = f"[bold]profile {profile['profile_id']}[/bold]  created {profile['created_at']:%Y-%m-%d %H:%M:%S}  merged from: {merged}"
    attrs = Table(title="attributes", header_style="bold")
    for col in ("attribute", "value", "source", "record", "run"):
        attrs.add_column(col)
    sources = profile["attribute_sources"]
    for name, value in sorted(profile["attributes"].items()):
        origin = sources.get(name, {})
        attrs.add_row(name, str(value), origin.get("source", "-"), origin.get("record_key", "-"),
                      str(origin.get("run_id") or "-"))
    idents = Table(title="identities", header_style="bold")
    for col in ("namespace", "value", "first seen in"):
        idents.add_column(col)
    for ident in profile["identities"]:
        idents.add_row(ident["namespace"], ident["value"], ident["source"] or "-")
    frags = Table(title="fragments", header_style="bold")
    for col in ("source", "record", "source updated", "run"):
        frags.add_column(col)
    for frag in profile["fragments"]:
        sut = frag["source_updated_at"]
        frags.add_row(frag["source"], frag["record_key"], f"{sut:%Y-%m-%d %H:%M:%S}" if sut else "-",
                      frag["run_id"] or "-")
    return [head, attrs, idents, frags]
