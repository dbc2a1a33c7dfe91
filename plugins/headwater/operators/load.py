"""load: write validated rows to the lake and the profile store, then advance the watermark.

Order matters: lake commit, profile upserts, then the source state. Each step is idempotent for
every run that read from the same committed state (the lake keys appended rows by that state's
epoch, the profile store by record key), so neither a retried load nor a new run after a crash
between the steps duplicates or drops rows, and the watermark only moves once everything before
it has committed. See "Idempotency" in docs/architecture.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from headwater.operators.base import StageOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from headwater.mapping.models import MappingConfig

PROFILE_CHUNK = 10_000


class LoadOperator(StageOperator):
    """Write the validated rows of this run.

    :param source_name: Name of the source.
    :param table: Lake table name.
    :param mode: `append` (each run adds its rows) or `merge` (upsert on `primary_key`).
    :param primary_key: Target fields identifying a row (merge).
    :param partition_by: Target fields to partition the lake table by.
    :param profile_mapping: When set, rows are also upserted into the profile store using this
        mapping's identities, record key and update timestamp.
    """

    stage = "load"
    ui_color = "#e3dcf5"

    def __init__(
        self,
        *,
        table: str,
        mode: Literal["append", "merge"] = "append",
        primary_key: list[str] | None = None,
        partition_by: list[str] | None = None,
        profile_mapping: MappingConfig | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if mode == "merge" and not primary_key:
            raise ValueError("mode='merge' needs primary_key")
        self.table = table
        self.mode = mode
        self.primary_key = list(primary_key or [])
        self.partition_by = list(partition_by or [])
        self.profile_mapping = profile_mapping

    def run_stage(self, context: Context) -> dict:
        from headwater.faults import crash_point
        from headwater.lake.delta import write_table
        from headwater.store import db, state

        selected = self.require_manifest(context, "select")
        validated = self.require_manifest(context, "validate")
        staging = self.staging(context)
        run_id = self.run_id(context)
        engine = db.get_engine()
        ref = selected.get("state")  # None: a manifest from before staged states (it has state_after)
        if ref is not None:
            # Another run committed since this run's select: its rows (same source data) are in
            # already, under another batch. Fail before writing rather than load them twice.
            state.check_current(engine, self.source_name, ref)
        written = write_table(
            self.table,
            staging.read(validated["parts"]),
            source=self.source_name,
            run_id=run_id,
            mode=self.mode,
            primary_key=self.primary_key or None,
            partition_by=self.partition_by or None,
            batch=ref["epoch"] if ref is not None else None,
        )
        self.log.info("lake table %s: %d rows, version %s", written["uri"], written["rows"], written["version"])
        crash_point("after_lake_commit")
        stitched = self._upsert_profiles(engine, staging.read(validated["parts"]), run_id)
        crash_point("after_profile_load")
        if ref is not None:
            if state.commit(engine, self.source_name, ref):
                self.log.info("state committed; watermark now %s", selected.get("watermark_after"))
        elif selected.get("state_after") is not None:
            state.set_state(engine, self.source_name, selected["state_after"], run_id)
        return {
            "rows_loaded": written["rows"],
            "lake_table": written["uri"],
            "lake_version": written["version"],
            "profiles_upserted": stitched.pop("rows_upserted", 0),
            "profiles": stitched,
        }

    def _upsert_profiles(self, engine: Any, tables: Any, run_id: str) -> dict:
        """Upsert the rows into the profile store; the summed chunk results (merges, refusals...)."""
        if self.profile_mapping is None:
            return {}
        from dataclasses import asdict

        from headwater.faults import crash_point
        from headwater.identity.namespaces import load_identities
        from headwater.records import ROW_ID
        from headwater.store.profiles import ChunkResult, upsert_chunk
        from headwater.target_schemas import load_target_schema

        mapping = self.profile_mapping
        schema = load_target_schema(mapping.target)
        namespaces = load_identities()
        identities = [(i.field, i.namespace) for i in mapping.identities]
        total = ChunkResult()
        for table in tables:
            table = table.drop_columns([ROW_ID]) if ROW_ID in table.column_names else table
            for batch in table.to_batches(max_chunksize=PROFILE_CHUNK):
                total += upsert_chunk(
                    engine,
                    source=self.source_name,
                    run_id=run_id,
                    rows=batch.to_pylist(),
                    identities=identities,
                    record_key=mapping.record_key,
                    updated_at=mapping.updated_at,
                    deleted=getattr(mapping, "deleted", None),
                    merge=schema.merge,
                    namespaces=namespaces,
                )
                crash_point("mid_profile_load")
        self.log.info("profiles: %s", total)
        return asdict(total)
