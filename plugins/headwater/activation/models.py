"""The audience file (`include/audiences/*.yaml`): one audience, validated by these models.

Exported as JSON Schema (`schema/audience.schema.json`). Expressions are checked here (syntax,
functions, types) and against the profile schema's attributes in `checks`, at DAG parse time.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from headwater.config.base import FieldProblem, StrictModel
from headwater.config.sections import MonitorConfig, ScheduleConfig

from .destinations.registry import Destination

IDENTITY_PREFIX = "identity_"
_VARIABLE = re.compile(r"^[a-z][a-z0-9_]*$")


def check_expression(text: str, *, boolean: bool) -> str:
    """Parse (and type) an expression of the mapping language; the message names the position."""
    from headwater.mapping.expressions import ExpressionError, result_type

    try:
        kind = result_type(text)
    except ExpressionError as exc:
        raise ValueError(f"invalid expression: {exc.message}") from None
    if boolean and kind not in ("boolean", "any"):
        raise ValueError(f"the condition must be true or false for a profile, but {text!r} gives {'an' if kind[0] in 'aeiou' else 'a'} {kind}")
    return text


class VariableConfig(StrictModel):
    """A value sent with each member: a profile attribute, renamed or transformed."""

    name: str = Field(pattern=_VARIABLE.pattern, description="Name at the destination.")
    from_: str | None = Field(None, alias="from", description="Profile attribute (or identity_<namespace>) taken as is.")
    expr: str | None = Field(None, description="Expression of the mapping language over the profile's attributes.")

    @model_validator(mode="after")
    def _one_of(self) -> VariableConfig:
        if (self.from_ is None) == (self.expr is None):
            raise ValueError("give exactly one of 'from' and 'expr'")
        if self.expr is not None:
            try:
                check_expression(self.expr, boolean=False)
            except ValueError as exc:
                raise FieldProblem("expr", str(exc)) from None
        return self

    @property
    def expression(self) -> str:
        return self.expr if self.expr is not None else f"`{self.from_}`"


class AudienceSchedule(ScheduleConfig):
    """A cron / interval / asset schedule, or `sources`: run after any of these sources loaded."""

    sources: list[str] = Field(
        default_factory=list,
        description="Source DAG ids: the audience runs when any of them has updated its lake table.",
    )

    @model_validator(mode="after")
    def _sources_alone(self) -> AudienceSchedule:
        if self.sources and (self.cron or self.interval or self.assets):
            raise ValueError("choose one of cron, interval, assets or sources")
        return self


class AudienceConfig(StrictModel):
    """One audience: who belongs (condition), what travels with them (variables), where it goes, when."""

    dag_id: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_.-]+$", description="Airflow DAG id (default: 'audience_' + the file name)."
    )
    description: str = Field("", description="Shown in the Airflow UI.")
    owner: str = Field("headwater", description="Team or person on call for this audience.")
    tags: list[str] = Field(default_factory=list, description="Extra Airflow tags.")
    profile_schema: str = Field(
        "customer_profile", description="Target schema of the profiles (its fields are the attributes the condition reads)."
    )
    condition: str = Field(
        description="Who belongs: a boolean expression of the mapping language over the profile's attributes "
        "and identities (identity_<namespace>)."
    )
    variables: list[VariableConfig] = Field(default_factory=list, description="Values sent with each member.")
    destinations: list[Destination] = Field(min_length=1, description="Where the membership is sent.")
    schedule: AudienceSchedule = Field(default_factory=AudienceSchedule, description="When the audience is computed.")
    monitor: MonitorConfig = Field(default_factory=MonitorConfig, description="Retries and alerts.")

    @field_validator("condition")
    @classmethod
    def _condition(cls, text: str) -> str:
        return check_expression(text, boolean=True)

    @model_validator(mode="after")
    def _unique_names(self) -> AudienceConfig:
        for kind, names in (("variable", [v.name for v in self.variables]), ("destination", [d.name for d in self.destinations])):
            seen: set[str] = set()
            for i, name in enumerate(names):
                if name in seen:
                    raise FieldProblem(f"{kind}s.{i}.name", f"{kind} {name!r} is defined twice")
                seen.add(name)
        return self


class Audience(StrictModel):
    """A validated audience file with its DAG id resolved."""

    name: str
    dag_id: str
    path: str
    config: AudienceConfig
