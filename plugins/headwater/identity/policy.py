"""Merge policies: which fragment's value a unified profile shows, per attribute.

Declared under `merge:` in a profile target schema. `latest`: the most recently updated fragment
with a value (by the mapping's `updated_at`). `priority`: the first listed source with a value
(unlisted sources after, latest first).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from headwater.config.base import StrictModel

PolicyName = Literal["latest", "priority"]


class AttributePolicy(StrictModel):
    """How one attribute is chosen among a profile's fragments."""

    policy: PolicyName = "latest"
    sources: tuple[str, ...] = Field((), description="Source names, most trusted first (priority).")

    @model_validator(mode="after")
    def _sources_for_priority(self) -> AttributePolicy:
        if self.policy == "priority" and not self.sources:
            raise ValueError("policy 'priority' needs a list of sources, most trusted first")
        return self


class MergeConfig(StrictModel):
    """The `merge` section of a profile target schema."""

    default: Literal["latest"] = Field("latest", description="Policy of attributes not listed.")
    attributes: dict[str, AttributePolicy] = Field(default_factory=dict)
