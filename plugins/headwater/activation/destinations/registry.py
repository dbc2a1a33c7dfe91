"""Explicit registry of destination types: type name → config model, hook class path, capabilities.

YAML names a `type`; only the types listed here exist. Each declares which signals (add, remove,
modify) and whether variables it can carry: an audience asking a destination for more is a config
error at parse time. Hooks are imported lazily, inside tasks (httpx, SQLAlchemy, pyarrow).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Union

from pydantic import Field

from headwater.config.base import StrictModel

from .models import (
    AdAudienceDestination,
    CustomerIoDestination,
    FileDropDestination,
    SfmcDestination,
    SqlTableDestination,
    WebhookDestination,
)

if TYPE_CHECKING:
    from .base import DestinationHook

ALL_SIGNALS = ("add", "remove", "modify")


@dataclass(frozen=True)
class DestinationSpec:
    config_model: type[StrictModel]
    hook_path: str  # "module:Class", imported only when a task needs it
    label: str
    signals: frozenset[str]
    variables: bool
    hashed: bool = False  # identities leave Headwater only as normalised SHA-256


REGISTRY: dict[str, DestinationSpec] = {
    "webhook": DestinationSpec(
        WebhookDestination, "headwater.activation.destinations.webhook:WebhookHook", "Webhook",
        frozenset(ALL_SIGNALS), True,
    ),
    "sql_table": DestinationSpec(
        SqlTableDestination, "headwater.activation.destinations.sql_table:SqlTableHook", "SQL table",
        frozenset(ALL_SIGNALS), True,
    ),
    "file_drop": DestinationSpec(
        FileDropDestination, "headwater.activation.destinations.file_drop:FileDropHook", "File drop",
        frozenset(ALL_SIGNALS), True,
    ),
    "customerio": DestinationSpec(
        CustomerIoDestination, "headwater.activation.destinations.customerio:CustomerIoHook", "Customer.io",
        frozenset(ALL_SIGNALS), True,
    ),
    "ad_audience": DestinationSpec(
        AdAudienceDestination, "headwater.activation.destinations.ad_audience:AdAudienceHook", "Ad platform customer list",
        frozenset({"add", "remove"}), False, hashed=True,
    ),
    "salesforce_marketing_cloud": DestinationSpec(
        SfmcDestination, "headwater.activation.destinations.sfmc:SfmcHook", "Salesforce Marketing Cloud",
        frozenset(ALL_SIGNALS), True,
    ),
}

# The config union is derived from the registry: adding a type is one entry above.
Destination = Annotated[
    Union[tuple(spec.config_model for spec in REGISTRY.values())],  # noqa: UP007 (built from a tuple)
    Field(discriminator="type"),
]


def signals_of(config: StrictModel) -> tuple[str, ...]:
    """The signals this destination entry sends, in a fixed order."""
    asked = config.signals if config.signals is not None else REGISTRY[config.type].signals
    return tuple(s for s in ALL_SIGNALS if s in asked)


def sends_variables(config: StrictModel) -> bool:
    spec = REGISTRY[config.type]
    return spec.variables if config.send_variables is None else config.send_variables


def make_hook(config: StrictModel, **kwargs) -> DestinationHook:
    module_name, _, class_name = REGISTRY[config.type].hook_path.partition(":")
    return getattr(importlib.import_module(module_name), class_name)(config=config, **kwargs)
