"""Checks of a mapping's profile settings against its target schema (the parts mapping/ does not check)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from headwater.mapping.models import MappingConfig
    from headwater.target_schemas import TargetSchema


def check_profile_mapping(mapping: MappingConfig, schema: TargetSchema) -> list[tuple[str, str]]:
    """Problems as (loc, message): `deleted` must be a mapped boolean field; merge policies must name fields."""
    issues = []
    deleted = getattr(mapping, "deleted", None)
    names = schema.field_names
    if deleted is not None:
        if deleted not in mapping.mapped_fields:
            issues.append(("mapping.deleted", f"deleted '{deleted}' is not mapped; mapped fields: "
                           f"{', '.join(mapping.mapped_fields)}"))
        elif deleted in names and schema.field(deleted).type != "boolean":
            issues.append(("mapping.deleted", f"deleted '{deleted}' must be a boolean field, "
                           f"it is {schema.field(deleted).type}"))
    for name in schema.merge.attributes:
        if name not in names:
            issues.append((f"merge.attributes.{name}", f"'{name}' is not a field of target schema "
                           f"'{schema.name}'; fields: {', '.join(names)}"))
    return issues
