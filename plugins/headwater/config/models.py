"""The source file: one YAML document describing one source, validated by these models.

This is the single contract for the format. `headwater schema` exports it as JSON Schema
(`schema/source.schema.json`, committed for editor autocomplete).
"""

from __future__ import annotations

from pydantic import Field

from headwater.config.base import StrictModel
from headwater.config.sections import LoadConfig, MonitorConfig, ScheduleConfig
from headwater.connectors.registry import Connector
from headwater.mapping.models import MappingConfig
from headwater.validation.models import ValidateConfig


class SourceConfig(StrictModel):
    """One source: which system, what to select, how it maps, what it must satisfy, when it runs."""

    dag_id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Airflow DAG id (default: the file name without extension).",
    )
    description: str = Field("", description="Shown in the Airflow UI.")
    owner: str = Field("headwater", description="Team or person on call for this source.")
    tags: list[str] = Field(default_factory=list, description="Extra Airflow tags.")
    connector: Connector = Field(description="The system to read from and what to select.")
    mapping: MappingConfig = Field(description="How source fields become target-schema fields.")
    validate_: ValidateConfig = Field(
        default_factory=ValidateConfig,
        alias="validate",
        description="Great Expectations checks on the mapped rows and the error threshold.",
    )
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig, description="When the source runs.")
    load: LoadConfig = Field(default_factory=LoadConfig, description="Where rows are written.")
    monitor: MonitorConfig = Field(default_factory=MonitorConfig, description="Retries and alerts.")


class Source(StrictModel):
    """A validated source file with what was derived from it (ids, names) resolved once."""

    dag_id: str
    path: str
    config: SourceConfig

    @property
    def lake_table(self) -> str:
        return self.config.load.table or self.dag_id.lower().replace("-", "_").replace(".", "_")
