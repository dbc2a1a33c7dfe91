"""The `_quarantine` lake table: every row a stage rejected, with why, for every source and run.

Stages turn their `RowError`s into staged parts (`errors_to_table`); validate writes them here in
one commit that replaces what the same (source, batch) wrote before: a retried run, and a new run
reading again what a failed or crashed run read (the same batch, see lake/delta.py), never duplicate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

import pyarrow as pa

from headwater.lake import delta
from headwater.records import RowError

QUARANTINE_TABLE = "_quarantine"

ERRORS_SCHEMA = pa.schema(
    [
        pa.field("stage", pa.string()),
        pa.field("row", pa.int64()),
        pa.field("error_code", pa.string()),
        pa.field("column", pa.string()),
        pa.field("value", pa.string()),
        pa.field("message", pa.string()),
        pa.field("record", pa.string()),
        pa.field("location", pa.string()),
    ]
)

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string()),
        pa.field("run_id", pa.string()),
        *ERRORS_SCHEMA,
        pa.field("quarantined_at", pa.timestamp("us", tz="UTC")),
        pa.field("batch", pa.string()),  # epoch of the source state the run read from
    ]
)


def errors_to_table(errors: list[RowError]) -> pa.Table:
    """RowErrors as a staging part (ERRORS_SCHEMA; source, run and time are added at write)."""
    return pa.table(
        {
            "stage": [e.stage for e in errors],
            "row": [e.row for e in errors],
            "error_code": [e.code for e in errors],
            "column": [e.column for e in errors],
            "value": [e.value for e in errors],
            "message": [e.message for e in errors],
            "record": [e.record for e in errors],
            "location": [e.location for e in errors],
        },
        schema=ERRORS_SCHEMA,
    )


def write_quarantine(
    parts: Iterable[pa.Table], *, source: str, run_id: str, root: str | None = None, batch: str | None = None
) -> int:
    """Write one run's rejected rows to `_quarantine` in one commit; returns rows written.

    Replaces the rows of the same (source, batch), or of the same (source, run_id) without a batch.
    The table is partitioned by source. Nothing is committed without rows.
    """
    uri = delta.table_uri(QUARANTINE_TABLE, root)
    quarantined_at = dt.datetime.now(dt.UTC)

    def prepared() -> Iterator[pa.Table]:
        for part in parts:
            if not part.num_rows:
                continue
            n = part.num_rows
            columns = [
                pa.repeat(pa.scalar(source, pa.string()), n),
                pa.repeat(pa.scalar(run_id, pa.string()), n),
                *(part.column(f.name).cast(f.type) for f in ERRORS_SCHEMA),
                pa.repeat(pa.scalar(quarantined_at, pa.timestamp("us", tz="UTC")), n),
                pa.repeat(pa.scalar(batch, pa.string()), n),
            ]
            yield pa.Table.from_arrays(columns, schema=QUARANTINE_SCHEMA)

    existing = delta.open_table(uri)
    target = delta.arrow_schema(existing)
    if batch is not None and (target is None or "batch" in target.names):
        key = f"{delta.sql_ident('batch')} = {delta.sql_string(batch)}"
    else:  # a table from before batches cannot hold rows of this batch yet
        key = f"{delta.sql_ident('run_id')} = {delta.sql_string(run_id)}"
    predicate = f"{delta.sql_ident('source')} = {delta.sql_string(source)} AND {key}"
    return delta.replace_where(
        uri,
        prepared(),
        predicate=predicate,
        partition_by=["source"],
        target=target,
        crash_name="mid_quarantine_write",
    )
