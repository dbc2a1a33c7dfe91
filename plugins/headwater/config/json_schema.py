"""JSON Schema of the source file, generated from the models (editors use it for autocomplete)."""

from __future__ import annotations

import json

from headwater import settings

SCHEMA_PATH = settings.PROJECT_ROOT / "schema" / "source.schema.json"


def source_json_schema() -> dict:
    from headwater.config.models import SourceConfig

    schema = SourceConfig.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://headwater.dev/schema/source.schema.json",
        "title": "Headwater source file",
        **schema,
    }


def render() -> str:
    return json.dumps(source_json_schema(), indent=2, sort_keys=True) + "\n"


AUDIENCE_SCHEMA_PATH = settings.PROJECT_ROOT / "schema" / "audience.schema.json"


def audience_json_schema() -> dict:
    from headwater.activation.models import AudienceConfig

    schema = AudienceConfig.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://headwater.dev/schema/audience.schema.json",
        "title": "Headwater audience file",
        **schema,
    }


def render_audience() -> str:
    return json.dumps(audience_json_schema(), indent=2, sort_keys=True) + "\n"
