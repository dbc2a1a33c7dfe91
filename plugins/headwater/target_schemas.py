"""Target schemas: the shape every source is mapped onto (`include/schemas/<name>.yaml`).

A target schema names its fields and their logical types; the mapping stage produces exactly these
columns, in this order. Loaded at DAG parse time, so only pydantic and PyYAML are imported here;
`arrow_type` imports pyarrow when a task calls it.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import yaml
from pydantic import Field, ValidationError, field_validator

from headwater import settings
from headwater.config.base import StrictModel
from headwater.errors import ConfigError, ConfigIssue
from headwater.identity.policy import MergeConfig

if TYPE_CHECKING:
    import pyarrow as pa

FieldType = Literal["string", "integer", "float", "boolean", "date", "timestamp"]
FIELD_TYPES: tuple[str, ...] = ("string", "integer", "float", "boolean", "date", "timestamp")
SchemaKind = Literal["profile", "event"]

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
_NAME_RE = re.compile(NAME_PATTERN)
# A field name may be dotted (`address.city`): the mapped table nests it as a struct column.
FIELD_NAME_PATTERN = r"^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*$"


class SchemaField(StrictModel):
    """One column of a target schema."""

    name: str = Field(
        pattern=FIELD_NAME_PATTERN,
        description="Column name (lowercase, digits, _); dotted names (address.city) are nested fields.",
    )
    type: FieldType = Field(description="Logical type; see `arrow_type` for the Arrow type.")
    required: bool = Field(False, description="Rows where this field ends up empty are rejected.")
    description: str = ""


class TargetSchema(StrictModel):
    """A named set of fields that mapped rows must have (a person profile or an event)."""

    name: str = Field(pattern=NAME_PATTERN)
    kind: SchemaKind
    description: str = ""
    fields: tuple[SchemaField, ...]
    merge: MergeConfig = Field(
        default_factory=MergeConfig, description="Profile schemas: which source's value wins, per attribute."
    )

    @field_validator("fields")
    @classmethod
    def _unique_names(cls, fields: tuple[SchemaField, ...]) -> tuple[SchemaField, ...]:
        # Checked here rather than with min_length, which pydantic also reports when an item is invalid.
        if not fields:
            raise ValueError("a target schema needs at least one field")
        seen: set[str] = set()
        for f in fields:
            if f.name in seen:
                raise ValueError(f"field '{f.name}' is defined more than once")
            seen.add(f.name)
        for f in fields:
            parts = f.name.split(".")
            for i in range(1, len(parts)):
                if ".".join(parts[:i]) in seen:
                    raise ValueError(
                        f"field '{'.'.join(parts[:i])}' cannot be both a field and the group of '{f.name}'"
                    )
        return fields

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> SchemaField:
        """The field called `name`; KeyError (listing the valid names) when there is none."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(
            f"target schema '{self.name}' has no field '{name}'; fields: {', '.join(self.field_names)}"
        )


def arrow_type(field_type: str) -> pa.DataType:
    """Arrow type of a logical field type (timestamps are microseconds in UTC)."""
    import pyarrow as pa

    types = {
        "string": pa.string(),
        "integer": pa.int64(),
        "float": pa.float64(),
        "boolean": pa.bool_(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us", tz="UTC"),
    }
    try:
        return types[field_type]
    except KeyError:
        raise ValueError(
            f"unknown field type '{field_type}'; valid types: {', '.join(FIELD_TYPES)}"
        ) from None


def arrow_schema(schema: TargetSchema) -> pa.Schema:
    """Arrow schema of a target schema's fields, in schema order (all nullable).

    Dotted names become struct columns, placed where their first field is: `address.city`,
    `address.zip` → `address: struct<city, zip>`.
    """
    import pyarrow as pa

    tree: dict = {}
    for f in schema.fields:
        *groups, leaf = f.name.split(".")
        node = tree
        for group in groups:
            node = node.setdefault(group, {})
        node[leaf] = arrow_type(f.type)

    def build(node: dict) -> list:
        return [
            pa.field(name, pa.struct(build(child)) if isinstance(child, dict) else child)
            for name, child in node.items()
        ]

    return pa.schema(build(tree))


def available_schemas(directory: Path | None = None) -> list[str]:
    """Names of the target schemas in `directory` (default: `settings.schemas_dir()`)."""
    folder = Path(directory) if directory is not None else settings.schemas_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.yaml") if _NAME_RE.match(p.stem))


def load_target_schema(name: str, directory: Path | None = None) -> TargetSchema:
    """Load `<directory>/<name>.yaml`; raises ConfigError naming the file and what is wrong."""
    folder = Path(directory) if directory is not None else settings.schemas_dir()
    path = folder / f"{name}.yaml"
    if not _NAME_RE.match(name) or not path.is_file():
        names = available_schemas(folder)
        listed = ", ".join(names) if names else "none"
        raise ConfigError(
            [ConfigIssue(str(path), "", f"target schema '{name}' not found; available schemas: {listed}")]
        )
    # Keyed on mtime so an edited schema is picked up by the next DAG parse without a restart.
    return _load(str(path), path.stat().st_mtime_ns, name)


@functools.lru_cache(maxsize=64)
def _load(path: str, mtime_ns: int, name: str) -> TargetSchema:
    try:
        data = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigIssue(path, "", f"not valid YAML: {exc}")]) from None
    if not isinstance(data, dict):
        raise ConfigError(
            [ConfigIssue(path, "", "a target schema must be a mapping with name, kind and fields")]
        )
    try:
        schema = TargetSchema.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            [ConfigIssue(path, _loc(err["loc"]), err["msg"]) for err in exc.errors(include_url=False)]
        ) from None
    if schema.name != name:
        raise ConfigError(
            [ConfigIssue(path, "name", f"name '{schema.name}' must match the file name '{name}'")]
        )
    return schema


def _loc(parts: tuple) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
