"""The `mapping` section of a source file, and its checks against a target schema and the source.

Imported at DAG parse time (pydantic and stdlib only). Expressions are parsed during validation so
a typo in `expr` is reported at `mapping.fields[N].expr` when the DAG file is parsed.
"""

from __future__ import annotations

import difflib
import re
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from headwater.config.base import StrictModel
from headwater.mapping.casting import coerce_constant
from headwater.mapping.expressions import ExpressionError, column_refs, parse, result_type
from headwater.mapping.functions import FUNCTIONS, unary_functions
from headwater.target_schemas import NAME_PATTERN, TargetSchema

KNOWN_NAMESPACES: tuple[str, ...] = ("email", "phone", "crm_id", "loyalty_id", "customer_id", "device_id")
NAMESPACE_PATTERN = r"^[a-z][a-z0-9_]*$"
_NAMESPACE_RE = re.compile(NAMESPACE_PATTERN)

Constant = str | bool | int | float | datetime | date


def _error(kind: str, message: str) -> PydanticCustomError:
    # Passed as context, not as the template, so braces in user text are never format fields.
    return PydanticCustomError(kind, "{message}", {"message": message})


def _hinted(head: str, name: str, choices: list[str] | tuple[str, ...], listing: str) -> str:
    """'<head>; did you mean 'x'? <listing>' (or '<head>; <listing>' when nothing is close)."""
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return f"{head}; did you mean '{close[0]}'? {listing}" if close else f"{head}; {listing}"


def _check_transform(name: str) -> str:
    spec = FUNCTIONS.get(name)
    if spec is not None and spec.unary:
        return name
    valid = unary_functions()
    if spec is not None:
        raise _error(
            "transform",
            f"'{name}' cannot be a transform (it takes {spec.arity_text()}); "
            f"valid transforms: {', '.join(valid)}",
        )
    raise _error(
        "transform",
        _hinted(f"unknown transform '{name}'", name, valid, f"valid transforms: {', '.join(valid)}"),
    )


TransformName = Annotated[str, AfterValidator(_check_transform)]


class FieldMapping(StrictModel):
    """How one target field is filled: from a source column, an expression or a constant."""

    to: str = Field(min_length=1, description="Target schema field to fill.")
    from_: str | None = Field(None, alias="from", min_length=1, description="Source column (any characters).")
    expr: str | None = Field(
        None, min_length=1, description="Expression over source columns, e.g. lower(trim(Email))."
    )
    value: Constant | None = Field(None, description="Constant for every row.")
    transform: tuple[TransformName, ...] = Field((), description="One-argument functions applied in order.")
    format: str | None = Field(
        None,
        min_length=1,
        description="strptime format used when text becomes a date or timestamp, e.g. %m/%d/%Y.",
    )
    default: Constant | None = Field(None, description="Used when the value is null, or an empty string.")

    @field_validator("transform", mode="before")
    @classmethod
    def _one_name_is_a_list(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("expr")
    @classmethod
    def _parses(cls, text: str | None) -> str | None:
        if text is not None:
            try:
                parse(text)
            except ExpressionError as exc:
                raise _error("expression", exc.message) from None
        return text

    @model_validator(mode="after")
    def _one_source(self) -> FieldMapping:
        given = [
            key
            for key, v in (("from", self.from_), ("expr", self.expr), ("value", self.value))
            if v is not None
        ]
        if len(given) != 1:
            got = " and ".join(f"'{g}'" for g in given) if given else "none"
            raise _error(
                "field_source", f"give exactly one of 'from', 'expr' or 'value' for '{self.to}' (got {got})"
            )
        return self


class IdentityMapping(StrictModel):
    """A mapped field that identifies a person, and the namespace its values live in."""

    field: str = Field(min_length=1, description="Mapped target field, e.g. email.")
    namespace: str = Field(
        description=f"One of {', '.join(KNOWN_NAMESPACES)}, or a custom lowercase id name."
    )

    @field_validator("namespace")
    @classmethod
    def _namespace_name(cls, value: str) -> str:
        if not _NAMESPACE_RE.match(value):
            raise _error(
                "namespace",
                f"namespace '{value}' must be lowercase letters, digits and _ "
                f"(built in: {', '.join(KNOWN_NAMESPACES)})",
            )
        return value


class MappingConfig(StrictModel):
    """The `mapping` section: which target schema, how each field is filled, which fields identify people."""

    target: str = Field(pattern=NAME_PATTERN, description="Target schema name (include/schemas/<name>.yaml).")
    fields: tuple[FieldMapping, ...]
    identities: tuple[IdentityMapping, ...] = ()
    record_key: str | None = Field(None, description="Mapped field identifying the record in this source.")
    updated_at: str | None = Field(None, description="Mapped timestamp field; the latest update wins.")
    deleted: str | None = Field(
        None, description="Mapped boolean field; true removes the record's fragment from its profile."
    )

    @field_validator("fields")
    @classmethod
    def _each_target_once(cls, fields: tuple[FieldMapping, ...]) -> tuple[FieldMapping, ...]:
        # Emptiness is checked here, not with min_length, which pydantic also reports when an item is invalid.
        if not fields:
            raise _error("empty", "map at least one field")
        first: dict[str, int] = {}
        for i, f in enumerate(fields):
            if f.to in first:
                raise _error(
                    "duplicate",
                    f"field '{f.to}' is mapped more than once (fields[{first[f.to]}] and fields[{i}])",
                )
            first[f.to] = i
        return fields

    @field_validator("identities")
    @classmethod
    def _each_identity_once(cls, identities: tuple[IdentityMapping, ...]) -> tuple[IdentityMapping, ...]:
        seen: set[str] = set()
        for ident in identities:
            if ident.field in seen:
                raise _error("duplicate", f"field '{ident.field}' is listed as an identity more than once")
            seen.add(ident.field)
        return identities

    @property
    def mapped_fields(self) -> tuple[str, ...]:
        return tuple(f.to for f in self.fields)

    @property
    def record_key_field(self) -> str | None:
        """`record_key`, else the first identity's field."""
        if self.record_key:
            return self.record_key
        return self.identities[0].field if self.identities else None


def check_mapping(
    mapping: MappingConfig, schema: TargetSchema, source_columns: list[str] | None
) -> list[tuple[str, str]]:
    """Problems between a mapping, its target schema and (when known) the source's columns, as (loc, message)."""
    issues: list[tuple[str, str]] = []
    names = schema.field_names
    mapped = set(mapping.mapped_fields)
    available = set(source_columns) if source_columns is not None else None
    for i, fm in enumerate(mapping.fields):
        loc = f"mapping.fields[{i}]"
        if available is not None:
            issues.extend(_source_column_issues(fm, loc, available, source_columns))
        if fm.to not in names:
            head = f"'{fm.to}' is not a field of target schema '{schema.name}'"
            issues.append((f"{loc}.to", _hinted(head, fm.to, names, f"fields: {', '.join(names)}")))
            continue
        field_type = schema.field(fm.to).type
        temporal = field_type in ("date", "timestamp")
        if fm.expr is not None:
            problem = fills_problem(result_type(fm.expr), field_type, fm.to)
            if problem:
                issues.append((f"{loc}.expr", problem))
        if fm.format is not None and not temporal:
            issues.append(
                (
                    f"{loc}.format",
                    f"format applies only to date and timestamp fields; '{fm.to}' is a {field_type} field",
                )
            )
        for key, constant in (("value", fm.value), ("default", fm.default)):
            if constant is None:
                continue
            try:
                coerce_constant(constant, field_type, fm.format if temporal else None)
            except ValueError as exc:
                issues.append((f"{loc}.{key}", f"{constant!r} is {exc} for field '{fm.to}'"))
    for f in schema.fields:
        if f.required and f.name not in mapped:
            issues.append(
                (
                    "mapping.fields",
                    f"required field '{f.name}' of target schema '{schema.name}' is not mapped",
                )
            )
    listed = ", ".join(mapping.mapped_fields)
    for j, ident in enumerate(mapping.identities):
        if ident.field not in mapped:
            issues.append(
                (
                    f"mapping.identities[{j}].field",
                    f"identity field '{ident.field}' is not mapped; mapped fields: {listed}",
                )
            )
    if mapping.record_key is not None and mapping.record_key not in mapped:
        issues.append(
            (
                "mapping.record_key",
                f"record_key '{mapping.record_key}' is not mapped; mapped fields: {listed}",
            )
        )
    if mapping.updated_at is not None:
        if mapping.updated_at not in mapped:
            issues.append(
                (
                    "mapping.updated_at",
                    f"updated_at '{mapping.updated_at}' is not mapped; mapped fields: {listed}",
                )
            )
        elif mapping.updated_at in names and schema.field(mapping.updated_at).type not in (
            "timestamp",
            "date",
        ):
            issues.append(
                (
                    "mapping.updated_at",
                    f"updated_at '{mapping.updated_at}' must be a timestamp or date "
                    f"field, it is {schema.field(mapping.updated_at).type}",
                )
            )
    return issues


# Which expression types can fill a field of each type (the rest would fail on every row).
_FILLS = {
    "string": {"string", "number", "integer", "boolean", "date", "timestamp", "any"},
    "integer": {"integer", "number", "string", "boolean", "any"},
    "float": {"integer", "number", "string", "boolean", "any"},
    "boolean": {"boolean", "integer", "number", "string", "any"},
    "date": {"date", "timestamp", "string", "any"},
    "timestamp": {"date", "timestamp", "string", "any"},
}


def fills_problem(expr_type: str, field_type: str, field: str) -> str | None:
    """Why an expression of `expr_type` cannot fill `field` of `field_type` (None if it can)."""
    if expr_type in _FILLS.get(field_type, {expr_type}):
        return None
    kind = f"an {expr_type}" if expr_type[0] in "aeiou" else f"a {expr_type}"
    return f"type mismatch: the expression gives {kind}, which cannot fill {field_type} field '{field}'"


def _source_column_issues(
    fm: FieldMapping, loc: str, available: set[str], ordered: list[str]
) -> list[tuple[str, str]]:
    listing = f"available columns: {', '.join(ordered)}"
    if fm.from_ is not None and fm.from_ not in available:
        return [
            (f"{loc}.from", _hinted(f"column '{fm.from_}' is not in the source", fm.from_, ordered, listing))
        ]
    issues = []
    if fm.expr is not None:
        seen: set[str] = set()
        for ref in column_refs(parse(fm.expr)):
            if ref.name not in available and ref.name not in seen:
                seen.add(ref.name)
                head = f"column '{ref.name}' at position {ref.pos} is not in the source"
                issues.append((f"{loc}.expr", _hinted(head, ref.name, ordered, listing)))
    return issues
