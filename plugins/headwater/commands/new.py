"""`headwater new TYPE NAME`: write a commented starting source file for any registered connector type.

The connector section is built from the type's config model (`connectors.registry.REGISTRY`):
its required fields with placeholder values, one comment per field from the model's description.
A new connector type therefore gets a scaffold without a template of its own.
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("new", help="write a commented starting source file for a connector type")
    parser.add_argument("type", help="the connector type (e.g. postgres, s3, http_api)")
    parser.add_argument("name", help="the source name: the file name and DAG id")
    parser.add_argument("--dir", type=Path, help="folder to write to (default: the sources folder)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import re

    from headwater import settings
    from headwater.connectors.registry import REGISTRY

    if args.type not in REGISTRY:
        print(f"unknown connector type {args.type!r}; types: {', '.join(sorted(REGISTRY))}", file=sys.stderr)
        return 2
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", args.name):
        print(f"source name {args.name!r}: use letters, digits, '_', '.' or '-' (it becomes the DAG id)", file=sys.stderr)
        return 2
    path = (args.dir or settings.sources_dir()) / f"{args.name}.yaml"
    if path.exists() and not args.force:
        print(f"{path} exists; add --force to overwrite it", file=sys.stderr)
        return 1
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(scaffold(args.type, args.name))
    print(f"wrote {path}: fill in the placeholders, then `headwater lint {path}`")
    return 0


def scaffold(type_name: str, name: str) -> str:
    """The text of a source file for `type_name`, valid as written."""
    from headwater.connectors.registry import REGISTRY

    spec = REGISTRY[type_name]
    lines = [
        "# yaml-language-server: $schema=../../schema/source.schema.json",
        f"# {spec.label} source, written by `headwater new {type_name} {name}`.",
        f"# Reads {spec.reads}.",
        "# Replace every placeholder (CHANGE_ME, example values), then run `headwater lint`.",
        f"description: {_quote(spec.label + ' → customer profiles')}",
        "owner: CHANGE_ME  # team or person on call for this source",
        "",
        "connector:",
        f"  type: {type_name}",
    ]
    lines += _fields(spec.config_model, indent="  ")
    lines += [
        "",
        "# How source fields become target-schema fields (docs/mapping.md).",
        "mapping:",
        "  target: customer_profile",
        "  fields:",
        "    - {to: email, from: email, transform: [trim, lower]}",
        "  identities:",
        "    - {field: email, namespace: email}",
        "",
        "validate:",
        "  max_error_ratio: 0.05  # share of quarantined rows above which the run fails",
        "",
        "schedule:",
        '  cron: "0 6 * * *"',
        "  paused: true  # unpause once a test run looks right",
        "",
        "load:",
        "  mode: append",
        "",
    ]
    return "\n".join(lines)


def _fields(model, indent: str) -> list[str]:
    """Required fields of `model` with placeholders, and its optional fields as comments."""
    lines: list[str] = []
    optional: list[str] = []
    needed = _needed(model)
    for field_name, info in model.model_fields.items():
        key = info.alias or field_name
        if key == "type":
            continue
        note = " ".join((info.description or "").split())
        if field_name in needed:
            value = _placeholder(info.annotation, info)
            if isinstance(value, list) and value and isinstance(value[0], dict) or isinstance(value, dict):
                lines.append(f"{indent}# {note}" if note else f"{indent}# {key}")
                lines += _block(key, value, indent)
            else:
                lines.append(f"{indent}{key}: {_scalar(value)}" + (f"  # {note}" if note else ""))
        else:
            optional.append(f"{indent}# {key}: {note or _default(info)}")
    if optional:
        lines.append(f"{indent}# optional (defaults apply):")
        lines += optional
    return lines


def _needed(model) -> set[str]:
    """Required fields, plus the first optional one that makes the model valid when a model-level
    rule asks for one of several (SQL: `table` or `query`)."""
    from pydantic import ValidationError

    required = {n for n, i in model.model_fields.items() if i.is_required()}

    def valid(names: set[str]) -> bool:
        data = {(i.alias or n): _placeholder(i.annotation, i) for n, i in model.model_fields.items() if n in names}
        try:
            model.model_validate(data)
        except ValidationError:
            return False
        return True

    from itertools import combinations

    optional = [n for n in model.model_fields if n not in required]
    for size in range(3):  # SQLite asks for two: `database` or `conn_id`, and `table` or `query`
        for extra in combinations(optional, size):
            if valid(required | set(extra)):
                return required | set(extra)
    return required


def _default(info) -> str:
    """What an optional field without a description falls back to."""
    default = info.get_default(call_default_factory=True)
    return "optional" if default in (None, [], {}) else f"default {default!r}"


def _block(key: str, value, indent: str) -> list[str]:
    import yaml

    text = yaml.safe_dump({key: value}, default_flow_style=False, sort_keys=False)
    return [indent + line for line in text.splitlines()]


def _placeholder(annotation, info=None):
    """A value of `annotation` that validates: the field's example if it has one, else one made up."""
    from pydantic import BaseModel

    if info is not None and getattr(info, "examples", None):
        return info.examples[0]
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _placeholder(args[0])
    if origin in (typing.Union, types.UnionType):
        choices = [a for a in args if a is not type(None)]
        return _placeholder(choices[0])
    if origin is typing.Literal:
        return args[0]
    if origin in (list, tuple, set, frozenset):
        return [_placeholder(args[0])] if args else ["CHANGE_ME"]
    if origin is dict:
        return {}
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return {
                (i.alias or n): _placeholder(i.annotation, i)
                for n, i in annotation.model_fields.items()
                if i.is_required()
            }
        if issubclass(annotation, bool):
            return False
        if issubclass(annotation, int):
            return 1
        if issubclass(annotation, float):
            return 1.0
        import enum

        if issubclass(annotation, enum.Enum):
            return next(iter(annotation)).value
    return "CHANGE_ME"


def _scalar(value) -> str:
    import json

    if isinstance(value, str):
        return _quote(value)
    return json.dumps(value)


def _quote(text: str) -> str:
    import yaml

    return yaml.safe_dump(text, allow_unicode=True).removesuffix("\n...\n").strip()
