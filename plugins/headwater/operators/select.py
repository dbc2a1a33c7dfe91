"""select: stream the chosen rows out of the source into run-scoped Arrow IPC parts.

Memory stays bounded by the connector's chunk size: one chunk is read, tagged with `_hw_row`,
written, and dropped. Where each row is in its source (file and line, table and key) goes to the
location index staged next to the parts (`lake/locations.py`), a few numbers per chunk, so a row
that map or validate rejects is still traced to its line. The state the read leads to is staged
in the store (`store/state.py`), never put in XCom; the manifest carries a reference to it, and
only load commits it.
"""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any, ClassVar

from headwater.connectors.registry import REGISTRY
from headwater.operators.base import StageOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from headwater.connectors.registry import Connector

# Rejected rows are flushed to a quarantine part once this many have piled up (bounded memory).
ERROR_FLUSH = 10_000


class SelectOperator(StageOperator):
    """Read the selection (incrementally where configured) into staging.

    :param source_name: Name of the source; its incremental state is keyed by it.
    :param connector: The `connector` section. Type-specific subclasses also accept its fields as
        keyword arguments (`PostgresSelectOperator(table="contacts", conn_id="crm", ...)`).
    """

    stage = "select"
    ui_color = "#d7ecd9"
    connector_type: ClassVar[str | None] = None

    def __init__(self, *, connector: Connector | None = None, source_name: str, **kwargs: Any) -> None:
        operator_kwargs, fields = _split_kwargs(kwargs)
        super().__init__(source_name=source_name, **operator_kwargs)
        if connector is None:
            if self.connector_type is None:
                raise ValueError("SelectOperator needs `connector`; or use a type-specific select operator")
            from pydantic import TypeAdapter

            from headwater.connectors.registry import Connector as ConnectorUnion

            connector = TypeAdapter(ConnectorUnion).validate_python({"type": self.connector_type, **fields})
        elif fields:
            raise TypeError(f"unexpected arguments: {', '.join(sorted(fields))}")
        self.connector = connector

    def run_stage(self, context: Context) -> dict:
        import numpy as np
        import pyarrow as pa

        from headwater.connectors.file_source import FileSource
        from headwater.connectors.registry import make_hook
        from headwater.faults import crash_point
        from headwater.lake.locations import INDEX_STAGE, IndexWriter
        from headwater.lake.quarantine import errors_to_table
        from headwater.records import ROW_ID, tally
        from headwater.store import db, state

        engine = db.get_engine()
        snapshot = state.begin_read(engine, self.source_name)
        state_before = snapshot.state
        hook = self.hook = make_hook(self.connector, source_name=self.source_name)  # kept: a failure reports the hook's API calls
        staging = self.staging(context)
        for stage in ("select", "select-quarantine", INDEX_STAGE):
            staging.reset(stage)
        index = IndexWriter(staging)
        parts: list[str] = []
        quarantine_parts: list[str] = []
        pending: list = []
        codes: dict[str, int] = {}
        notes: list[str] = []
        rows = rejected = withdrawn_rows = 0
        # "Trigger DAG w/ config" {"reingest": [...]}: read from the run's conf rather than a declared
        # DAG Param, whose schema validation and copies cost ~1 ms per DAG at every parse.
        conf = getattr(context.get("dag_run"), "conf", None) or {}
        reingest = list(conf.get("reingest") or (context.get("params") or {}).get("reingest") or [])
        if reingest and not isinstance(hook, FileSource):
            raise ValueError("the `reingest` parameter applies to file sources only")
        files_read: list[str] = []  # file keys in read order, for the run record
        origin = _Origin(None)  # what was staged from the file being read, in case it is withdrawn
        for chunk in hook.read(state_before, reingest=reingest) if reingest else hook.read(state_before):
            if chunk.origin != origin.key:
                if chunk.origin and chunk.origin not in files_read:
                    files_read.append(chunk.origin)
                if pending:  # a file's row errors go to parts of their own: they may be withdrawn
                    quarantine_parts.append(staging.write("select-quarantine", errors_to_table(pending)))
                    pending = []
                origin = _Origin(chunk.origin)
            if chunk.withdrawn:  # the file could not be read to its end: it is read again next run
                if not origin.withdrawn:
                    parts = [p for p in parts if p not in origin.parts]
                    quarantine_parts = [p for p in quarantine_parts if p not in origin.quarantine_parts]
                    pending = []
                    withdrawn_rows += origin.rows
                    rejected -= origin.rejected
                    for code, count in origin.codes.items():
                        codes[code] -= count
                    origin.withdrawn = True
                chunk.errors = [e for e in chunk.errors if e.code == "BAD_FILE"]
                chunk.table = chunk.table.slice(0, 0)
            pending.extend(chunk.errors)
            tally(chunk.errors, codes)
            tally(chunk.errors, origin.codes)
            for error in chunk.errors:
                if error.code == "BAD_FILE":
                    notes.append(error.message)  # a whole file: not a row, but the run record shows it
                else:
                    rejected += 1
                    origin.rejected += 1
            if chunk.table.num_rows:
                table = chunk.table.append_column(
                    ROW_ID, pa.array(np.arange(rows, rows + chunk.table.num_rows, dtype=np.int64))
                )
                origin.parts.append(staging.write("select", table))
                parts.append(origin.parts[-1])
                index.add(rows, chunk.table.num_rows, chunk.runs, parts[-1])
                rows += chunk.table.num_rows
                origin.rows += chunk.table.num_rows
                crash_point("mid_select")
            if len(pending) >= ERROR_FLUSH:
                origin.quarantine_parts.append(staging.write("select-quarantine", errors_to_table(pending)))
                quarantine_parts.append(origin.quarantine_parts[-1])
                pending = []
        if pending:
            quarantine_parts.append(staging.write("select-quarantine", errors_to_table(pending)))
        index.flush()
        codes = {code: count for code, count in codes.items() if count}
        rows -= withdrawn_rows
        self.log.info("read %d rows in %d parts; %d rows rejected while reading", rows, len(parts), rejected)
        ref = state.stage(engine, self.source_name, self.run_id(context), snapshot.epoch, hook.next_state())
        return {
            "parts": parts,
            "quarantine_parts": quarantine_parts,
            # _hw_row -> file and line (or table and key): map and validate locate the rows they reject
            "location_parts": index.parts,
            "rows_read": rows,
            "rows_rejected": rejected,
            "errors_by_code": codes,
            # where the state this read leads to is staged; its epoch keys the run's rows (the batch)
            "state": ref,
            "watermark_before": _describe(state_before),
            "watermark_after": hook.watermark_description(),
            "notes": notes + list(getattr(hook, "notes", []) or []),
            # requests sent to an HTTP API (None: not an API source)
            "api_calls": getattr(hook, "api_calls", None),
            "files_read": len(files_read),
            "files": files_read[:FILES_LISTED],
        }


FILES_LISTED = 50  # file names kept in the manifest and run record (the count is always complete)


class _Origin:
    """Parts, rows and row errors select staged from one file (`key`), so they can be withdrawn."""

    def __init__(self, key: str | None) -> None:
        self.key = key
        self.parts: list[str] = []
        self.quarantine_parts: list[str] = []
        self.rows = self.rejected = 0
        self.codes: dict[str, int] = {}
        self.withdrawn = False


def _describe(state: dict | None) -> str | None:
    """Words for a committed state: the cursor value, or how many files were seen."""
    if not state:
        return None
    if "cursor" in state:
        cursor = state["cursor"]
        return f"{cursor.get('column')} = {cursor.get('value')}"
    if "files" in state:
        return f"{len(state['files'])} file(s) ingested"
    return None


@functools.cache
def _operator_args() -> frozenset[str]:
    from airflow.sdk import BaseOperator

    return frozenset(inspect.signature(BaseOperator.__init__).parameters)


def _split_kwargs(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Separate BaseOperator arguments from connector fields passed as keywords."""
    operator_args = _operator_args()
    ops = {k: v for k, v in kwargs.items() if k in operator_args}
    return ops, {k: v for k, v in kwargs.items() if k not in ops}


def _typed_operator(connector_type: str, name: str, label: str) -> type[SelectOperator]:
    """The select operator of one connector type, whose fields it also takes as keywords."""
    return type(
        name,
        (SelectOperator,),
        {
            "__doc__": f"Select from {label} (`connector.type: {connector_type}`).",
            "__module__": __name__,
            "__qualname__": name,
            "connector_type": connector_type,
        },
    )


# One operator class per registered connector type (PostgresSelectOperator, ...), derived from the
# registry so that a new type gets its operator without being listed here.
TYPED_OPERATORS: dict[str, type[SelectOperator]] = {
    type_name: _typed_operator(type_name, spec.operator, spec.label) for type_name, spec in REGISTRY.items()
}
globals().update({cls.__name__: cls for cls in TYPED_OPERATORS.values()})


def select_operator_for(connector_type: str) -> type[SelectOperator]:
    """The select operator class of a connector type (each type has its own)."""
    return TYPED_OPERATORS.get(connector_type, SelectOperator)
