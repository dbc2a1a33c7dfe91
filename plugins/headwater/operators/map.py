"""map: turn selected rows into target-schema rows; rows that cannot be mapped go to quarantine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from headwater.operators.base import StageOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from headwater.mapping.models import MappingConfig


class MapOperator(StageOperator):
    """Apply the mapping (renames, casts, transforms, expressions) chunk by chunk.

    :param source_name: Name of the source.
    :param mapping: The `mapping` section (a `MappingConfig` or the same as a dict).
    """

    stage = "map"
    ui_color = "#fdf3d8"

    def __init__(self, *, mapping: MappingConfig | dict, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(mapping, dict):
            from headwater.mapping.models import MappingConfig

            mapping = MappingConfig.model_validate(mapping)
        self.mapping = mapping

    def run_stage(self, context: Context) -> dict:
        from headwater.lake.locations import LocationIndex
        from headwater.lake.quarantine import errors_to_table
        from headwater.mapping.engine import compile_mapping
        from headwater.records import rejected_rows, tally
        from headwater.target_schemas import load_target_schema

        selected = self.require_manifest(context, "select")
        compiled = compile_mapping(self.mapping, load_target_schema(self.mapping.target), file=self.source_name)
        staging = self.staging(context)
        for stage in ("map", "map-quarantine"):
            staging.reset(stage)
        parts: list[str] = []
        quarantine_parts: list[str] = []
        codes: dict[str, int] = {}
        mapped = rejected = 0
        index = None  # loaded when the first row is rejected
        for table in staging.read(selected["parts"]):
            _unique_columns(table.column_names)
            result = compiled.apply(table)
            if result.table.num_rows:
                parts.append(staging.write("map", result.table))
                mapped += result.table.num_rows
            if result.errors:
                index = index or LocationIndex.load(staging, selected.get("location_parts", []))
                errors = index.fill(result.errors)  # the file and line (or table and key) of each row
                quarantine_parts.append(staging.write("map-quarantine", errors_to_table(errors)))
                rejected += len(rejected_rows(result.errors))
                tally(result.errors, codes)
        self.log.info("mapped %d rows onto %s; %d rows rejected %s", mapped, self.mapping.target, rejected, codes)
        return {
            "parts": parts,
            "quarantine_parts": quarantine_parts,
            "rows_mapped": mapped,
            "rows_rejected": rejected,
            "errors_by_code": codes,
        }


def _unique_columns(names: list[str]) -> None:
    """Refuse a selection with two columns of one name: a mapping could not say which it means.

    File readers rename duplicates (`name`, `name_2`); this catches what a SQL query selects twice.
    """
    from headwater.operators.base import StageFailed

    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise StageFailed(
            f"the selected rows have duplicate column names: {', '.join(doubled)}; give each column its own name "
            "(e.g. `SELECT a.id, b.id AS b_id` in the connector's query)",
            reason="duplicate_columns",
            manifest={"parts": [], "quarantine_parts": [], "rows_mapped": 0, "rows_rejected": 0, "errors_by_code": {}},
        )
