"""validate: Great Expectations on the mapped rows; failing rows quarantined; the threshold decides.

All rows rejected in this run (unreadable, unmappable, failing an expectation) are written to the
quarantine lake table here, before the threshold is applied, so a failed run can be inspected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from headwater.operators.base import StageFailed, StageOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from headwater.validation.models import ValidateConfig


@dataclass
class Checked:
    """What the expectations made of this run's mapped parts."""

    parts: list[str] = field(default_factory=list)
    quarantine_parts: list[str] = field(default_factory=list)
    codes: dict[str, int] = field(default_factory=dict)
    table_failures: list[str] = field(default_factory=list)
    summaries: list[dict] = field(default_factory=list)
    valid: int = 0
    failed: int = 0


class ValidateOperator(StageOperator):
    """Run the expectations chunk by chunk, quarantine failing rows, enforce `max_error_ratio`.

    :param source_name: Name of the source.
    :param validate: The `validate` section (a `ValidateConfig` or the same as a dict).
    :param target: Target schema name; lets a run that read nothing still be validated (row counts).
    """

    stage = "validate"
    ui_color = "#f6e1e1"

    def __init__(
        self, *, validate: ValidateConfig | dict | None = None, target: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.target = target
        if not hasattr(validate, "max_error_ratio"):
            from headwater.validation.models import ValidateConfig

            validate = ValidateConfig.model_validate(validate or {})
        self.validate_config = validate

    def run_stage(self, context: Context) -> dict:
        from headwater import settings
        from headwater.validation.runner import Validator

        selected = self.require_manifest(context, "select")
        mapped = self.require_manifest(context, "map")
        staging = self.staging(context)
        for stage in ("validate", "validate-quarantine"):
            staging.reset(stage)
        validator = Validator(self.validate_config, file=self.source_name, engine=settings.validate_engine())
        if validator.enabled:
            # Bad expectation arguments fail here, before any data is touched. Without expectations
            # Great Expectations is neither imported (7-16 s) nor given a context to build.
            validator.prepare()
            checked = self._check(validator, staging, mapped["parts"], selected.get("location_parts", []))
        else:  # nothing to check: map's parts already are the valid rows, no need to copy them
            checked = Checked(parts=list(mapped["parts"]), valid=mapped["rows_mapped"])
        return self._finish(context, staging, selected, mapped, checked)

    def _check(self, validator: Any, staging: Any, parts: list[str], location_parts: list[str]) -> Checked:
        from headwater.lake.locations import LocationIndex
        from headwater.lake.quarantine import errors_to_table
        from headwater.records import tally
        from headwater.validation.runner import split_valid

        checked = Checked()
        index = None  # select's location index, loaded when the first row fails
        # An empty run is validated too, so table-level checks (row count) still fire.
        chunks = zip(parts, staging.read(parts), strict=True) if parts else [(None, self._empty_batch())]
        for part, table in chunks:
            result = validator.validate(table)
            if not result.failed_rows and part is not None:
                # Nothing to take out: map's part is this stage's part, as when there are no
                # expectations (no copy of the rows written).
                checked.parts.append(part)
                checked.valid += table.num_rows
            elif (good := split_valid(table, result.failed_rows)).num_rows:
                checked.parts.append(staging.write("validate", good))
                checked.valid += good.num_rows
            if result.errors:
                index = index or LocationIndex.load(staging, location_parts)
                errors = index.fill(result.errors)  # the file and line (or table and key) of each row
                checked.quarantine_parts.append(staging.write("validate-quarantine", errors_to_table(errors)))
                tally(result.errors, checked.codes)
            checked.failed += len(result.failed_rows)
            checked.table_failures += [f for f in result.table_failures if f not in checked.table_failures]
            checked.summaries.append(result.summary)
        return checked

    def _finish(self, context: Context, staging: Any, selected: dict, mapped: dict, checked: Checked) -> dict:
        """Quarantine every rejected row of the run, keep the GX result, then apply the threshold."""
        from headwater.lake.quarantine import write_quarantine
        from headwater.lake.results import save_validation_result
        from headwater.validation.runner import merge_summaries

        all_quarantine = selected["quarantine_parts"] + mapped["quarantine_parts"] + checked.quarantine_parts
        written = write_quarantine(
            staging.read(all_quarantine),
            source=self.source_name,
            run_id=self.run_id(context),
            batch=(selected.get("state") or {}).get("epoch"),  # replaces a crashed run's rows of the same read
        )
        rejected = selected["rows_rejected"] + mapped["rows_rejected"] + checked.failed
        seen = selected["rows_read"] + selected["rows_rejected"]
        ratio = rejected / seen if seen else 0.0
        result_uri = save_validation_result(
            context["ti"].dag_id,
            self.run_id(context),
            {"summary": merge_summaries(checked.summaries), "chunks": checked.summaries, "table_failures": checked.table_failures},
        )
        codes = dict(checked.codes)
        for upstream in (selected, mapped):
            for code, count in upstream["errors_by_code"].items():
                codes[code] = codes.get(code, 0) + count
        manifest = {
            "parts": checked.parts,
            "quarantine_parts": all_quarantine,
            "rows_valid": checked.valid,
            "rows_quarantined": rejected,
            "quarantine_rows_written": written,
            "error_ratio": round(ratio, 6),
            "errors_by_code": codes,
            "gx_result": result_uri,
        }
        limit = self.validate_config.max_error_ratio
        self.log.info("%d rows valid, %d quarantined (ratio %.4f, limit %.4f)", checked.valid, rejected, ratio, limit)
        if checked.table_failures:
            raise StageFailed(
                f"expectations on the whole batch failed: {'; '.join(checked.table_failures)}",
                reason="failed",
                manifest=manifest,
            )
        if ratio > limit:
            raise StageFailed(
                f"{rejected} of {seen} rows were rejected ({ratio:.2%}), above max_error_ratio {limit:.2%}; "
                f"errors by code: {codes}. Rejected rows are in the quarantine table.",
                reason="threshold_exceeded",
                manifest=manifest,
            )
        return manifest

    def _empty_batch(self):
        import pyarrow as pa

        from headwater.records import ROW_ID
        from headwater.target_schemas import arrow_schema, load_target_schema

        if not self.target:
            return pa.table({ROW_ID: pa.array([], pa.int64())})
        return arrow_schema(load_target_schema(self.target)).append(pa.field(ROW_ID, pa.int64())).empty_table()
