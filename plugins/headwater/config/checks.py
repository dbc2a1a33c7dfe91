"""Checks that span sections of a source file (the models check each section on its own).

Mapping against the target schema, expectations against the mapped columns, lake keys against the
target fields, files the source refers to. Each check yields `(location, message)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from headwater import settings
from headwater.errors import ConfigError

if TYPE_CHECKING:
    from headwater.config.models import Source

Problem = tuple[str, str]


def cross_check(source: Source) -> list[Problem]:
    from headwater.target_schemas import load_target_schema

    config = source.config
    try:
        schema = load_target_schema(config.mapping.target)
    except ConfigError as exc:
        return [("mapping.target", "; ".join(issue.message for issue in exc.issues))]
    problems = list(_mapping(source, schema))
    fields = set(schema.field_names)
    problems += _expectations(source, fields)
    problems += _load(source, fields, schema.kind)
    problems += _profiles(source, schema)
    problems += _files(source)
    return problems


def _mapping(source: Source, schema) -> Iterator[Problem]:
    from headwater.mapping.models import check_mapping

    connector = source.config.connector
    columns = getattr(connector, "columns", None)
    if columns:
        # columns a connector adds to the selected ones (dynamics: `<column>_label`, `deleted`)
        columns = [*columns, *getattr(connector, "added_columns", ())]
    yield from check_mapping(source.config.mapping, schema, list(columns) if columns else None)


def _expectations(source: Source, fields: set[str]) -> Iterator[Problem]:
    from headwater.validation.models import expectation_columns

    for loc, column in expectation_columns(source.config.validate_):
        if column not in fields:
            yield loc, f"expectation on unknown column {column!r}; mapped columns: {', '.join(sorted(fields))}"


def _load(source: Source, fields: set[str], kind: str) -> Iterator[Problem]:
    load = source.config.load
    for key in ("primary_key", "partition_by"):
        for i, name in enumerate(getattr(load, key)):
            if name not in fields:
                yield f"load.{key}[{i}]", f"{name!r} is not a field of the target schema"
    if load.mode == "merge" and not merge_key(source):
        yield "load.primary_key", "merge needs a primary key: set load.primary_key or mapping.record_key"
    if load.profiles and kind != "profile":
        yield "load.profiles", f"only profile schemas go to the profile store; {source.config.mapping.target!r} is {kind!r}"


def _profiles(source: Source, schema) -> list[Problem]:
    """`mapping.deleted` and the schema's merge policies (only where rows go to the profile store)."""
    if schema.kind != "profile" or source.config.load.profiles is False:
        return []
    from headwater.identity.checks import check_profile_mapping

    return check_profile_mapping(source.config.mapping, schema)


def _files(source: Source) -> Iterator[Problem]:
    suite = source.config.validate_.suite
    if suite and not (settings.include_dir() / suite).is_file():
        yield "validate.suite", f"suite file not found: {settings.include_dir() / suite}"


def merge_key(source: Source) -> list[str]:
    """The lake merge key: load.primary_key, else the mapping's record key."""
    load = source.config.load
    if load.primary_key:
        return list(load.primary_key)
    mapping = source.config.mapping
    if mapping.record_key:
        return [mapping.record_key]
    return [mapping.identities[0].field] if mapping.identities else []
