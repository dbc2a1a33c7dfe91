"""YAML model of the `salesforce` connector type (imported at DAG parse time: pydantic only).

The object and its fields are named here and checked against the object's describe at connect;
credentials live in an Airflow `salesforce` connection (the provider's SalesforceHook reads it).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from headwater.config.base import FieldProblem

from .http.models import _HttpCommon

# sObject and field API names: letters, digits, underscores (custom ones end in __c)
_API_NAME = r"^[A-Za-z][A-Za-z0-9_]*$"


class SalesforceConnector(_HttpCommon):
    """An sObject read through the Salesforce REST API (`query` / `queryAll`) or Bulk API 2.0 query jobs."""

    type: Literal["salesforce"]
    object: str = Field(pattern=_API_NAME, description="sObject API name, e.g. `Contact` or `Loyalty__c`.")
    fields: list[str] = Field(
        min_length=1, description="Field API names to read (checked against the object's describe)."
    )
    primary_key: list[str] = Field(
        default_factory=lambda: ["Id"], description="Fields that identify a record."
    )
    where: str | None = Field(
        None, min_length=1, description="SOQL condition (without `WHERE`), e.g. `Email != null`."
    )
    incremental: bool = Field(True, description="Read only records changed since the last run.")
    cursor_field: Literal["SystemModstamp", "LastModifiedDate"] = Field(
        "SystemModstamp", description="Change timestamp the watermark follows."
    )
    initial_value: str | None = Field(None, description="First run: the timestamp to start at (ISO 8601).")
    lookback_seconds: float = Field(0, ge=0, description="Read this much before the watermark again.")
    include_deleted: bool = Field(
        False,
        description="Read through `queryAll` so deleted records (in the recycle bin) come with `IsDeleted = true`; "
        "map `IsDeleted` and name it in `mapping.deleted` to remove them from profiles.",
    )
    bulk: Literal["never", "auto", "always"] = Field(
        "auto",
        description="Bulk API 2.0 query job: never, always, or when the count exceeds `bulk_threshold`.",
    )
    bulk_threshold: int = Field(
        50_000, gt=0, description="Records above which `bulk: auto` uses a Bulk 2.0 job."
    )
    bulk_page_records: int = Field(50_000, gt=0, description="`maxRecords` per Bulk 2.0 result page.")
    bulk_poll_seconds: float = Field(5, gt=0, description="Wait between job status checks.")
    bulk_timeout_seconds: float = Field(3600, gt=0, description="Longest wait for a Bulk 2.0 job.")
    page_size: int = Field(2000, ge=200, le=2000, description="REST `batchSize` (Sforce-Query-Options).")
    api_version: str = Field("62.0", pattern=r"^\d+\.\d$")

    @field_validator("fields")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not re.match(_API_NAME, name):
                raise ValueError(f"'{name}' is not a field API name (relationship paths are not supported)")
        return value

    @model_validator(mode="after")
    def _where_is_a_condition(self) -> SalesforceConnector:
        if self.where and re.match(r"^\s*where\b", self.where, re.I):
            raise FieldProblem("where", "write the condition only, without the `WHERE` keyword")
        if self.where and re.search(r"\b(order\s+by|limit|offset)\b", self.where, re.I):
            raise FieldProblem(
                "where", "ORDER BY / LIMIT / OFFSET are not allowed here: Headwater orders and pages"
            )
        return self
