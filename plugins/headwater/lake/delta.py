"""Delta Lake tables of the lake: one atomic, retry-safe commit per load.

Append tables: the run's rows replace whatever the same (source, batch) wrote before
(`mode="overwrite"` with a predicate). The batch is the epoch of the source state the run's read
started from (`store/state.py`): a retried load, and a new run after a run that crashed between
this commit and the state's, re-read the same data under the same batch, so neither duplicates.
Merge tables: rows are deduplicated on the primary key and MERGEd (update matched, insert new),
which is idempotent by itself.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Literal

from headwater.errors import HeadwaterError
from headwater.faults import crash_point
from headwater.lake import storage
from headwater.records import ROW_ID

if TYPE_CHECKING:
    import pyarrow as pa
    from deltalake import DeltaTable

SOURCE_COL = "_hw_source"
RUN_COL = "_hw_run_id"
LOADED_AT_COL = "_hw_loaded_at"
BATCH_COL = "_hw_batch"  # epoch of the source state the rows were read from
META_COLUMNS = (SOURCE_COL, RUN_COL, LOADED_AT_COL, BATCH_COL)

_TABLE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$")


def sql_string(value: str) -> str:
    """SQL string literal for deltalake predicates (DataFusion: quotes doubled, no backslash escapes)."""
    return "'" + value.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    """Quoted identifier: unquoted names are lower-cased by DataFusion, so `Email` would not match.

    DataFusion's parser ends a quoted name at a backtick (its other identifier quote) and cannot
    take a NUL, so such names are refused rather than turned into a different predicate.
    """
    if "`" in name or "\x00" in name:
        raise HeadwaterError(f"lake column name {name!r}: a backtick or NUL character cannot be used in a lake column name")
    return '"' + name.replace('"', '""') + '"'


def table_uri(name: str, root: str | None = None) -> str:
    if not _TABLE_NAME.match(name):
        raise ValueError(
            f"lake table name {name!r}: use letters, digits, '_', '.', '-' (and '/' between parts)"
        )
    return storage.join(storage.lake_root(root), name)


def open_table(uri: str) -> DeltaTable | None:
    """The Delta table at `uri`, or None when there is none yet."""
    from deltalake import DeltaTable

    options = storage.storage_options(uri)
    if not DeltaTable.is_deltatable(uri, storage_options=options):
        return None
    return DeltaTable(uri, storage_options=options)


def read_table(name: str, root: str | None = None) -> pa.Table:
    """Whole table as Arrow (tests, CLI; not for big tables)."""
    table = open_table(table_uri(name, root))
    if table is None:
        raise HeadwaterError(f"lake table {name!r} does not exist yet")
    return table.to_pyarrow_table()


def write_table(
    name: str,
    parts: Iterable[pa.Table] | pa.RecordBatchReader,
    *,
    source: str,
    run_id: str,
    mode: Literal["append", "merge"] = "append",
    primary_key: list[str] | None = None,
    partition_by: list[str] | None = None,
    root: str | None = None,
    batch: str | None = None,
    prune_merge: bool = True,
) -> dict:
    """Load one run's rows into lake table `name` in one commit; returns {version, rows, uri}.

    Adds `_hw_source`, `_hw_run_id`, `_hw_loaded_at`, `_hw_batch` and drops `_hw_row`. New nullable
    columns are added to the table; columns the table already has are cast to its types (a lossy
    cast fails). Append: the rows replace those of the same (source, `batch`), or of the same
    (source, run) without a batch. Without rows nothing is committed and the current version (-1
    without a table) is returned. `prune_merge=False` merges without the key-range conjunct
    (`merge_predicate`); the result is the same, only slower (tests and bench compare the two).
    """
    uri = table_uri(name, root)
    existing = open_table(uri)
    _check_partitioning(name, existing, partition_by)
    loaded_at = dt.datetime.now(dt.UTC)
    target = arrow_schema(existing)
    prepared = (
        _with_meta(t, source=source, run_id=run_id, loaded_at=loaded_at, batch=batch)
        for t in _tables(parts)
        if t.num_rows
    )

    if mode == "append":
        if batch is not None and (target is None or BATCH_COL in target.names):
            key = f"{sql_ident(BATCH_COL)} = {sql_string(batch)}"
        else:  # a table from before batches cannot hold rows of this batch yet
            key = f"{sql_ident(RUN_COL)} = {sql_string(run_id)}"
        predicate = f"{sql_ident(SOURCE_COL)} = {sql_string(source)} AND {key}"
        rows = replace_where(uri, prepared, predicate=predicate, partition_by=partition_by, target=target)
    elif mode == "merge":
        if not primary_key:
            raise HeadwaterError(f"lake table {name!r}: mode 'merge' needs a primary key")
        rows = _merge(uri, existing, prepared, primary_key, partition_by, target, name, prune=prune_merge)
    else:
        raise ValueError(f"mode must be 'append' or 'merge', not {mode!r}")

    after = open_table(uri)
    return {"version": after.version() if after is not None else -1, "rows": rows, "uri": uri}


def replace_where(
    uri: str,
    tables: Iterator[pa.Table],
    *,
    predicate: str,
    partition_by: list[str] | None = None,
    target: pa.Schema | None = None,
    crash_name: str = "mid_lake_write",
) -> int:
    """Replace the rows matching `predicate` with `tables`, streamed, in one commit; returns rows written.

    Every incoming row must match the predicate (deltalake checks it). Creates the table when
    missing. Nothing is committed when `tables` is empty.
    """
    import pyarrow as pa
    from deltalake import write_deltalake

    from headwater.lake.write_options import writer_properties

    first = next(tables, None)
    if first is None:
        return 0
    schema = _target_schema(first.schema, target)
    first = _conform(first, schema)  # a bad first part fails here, before deltalake starts
    state: dict = {"rows": 0, "error": None}

    def batches() -> Iterator[pa.RecordBatch]:
        for table in itertools.chain([first], tables):
            try:
                table = _conform(table, schema)
            except HeadwaterError as exc:
                state["error"] = exc  # deltalake would wrap it in a generic DeltaError
                raise
            state["rows"] += table.num_rows
            yield from table.to_batches()
            crash_point(crash_name)  # deltalake holds part of the data, nothing is committed

    try:
        write_deltalake(
            uri,
            pa.RecordBatchReader.from_batches(schema, batches()),
            mode="overwrite",
            predicate=predicate,
            # Lets a source gain a column without a manual migration; missing columns become null.
            schema_mode="merge",
            partition_by=partition_by if target is None else None,
            storage_options=storage.storage_options(uri),
            writer_properties=writer_properties(first),
        )
    except Exception:
        if state["error"] is not None:
            raise state["error"] from None
        raise
    return state["rows"]


def _merge(
    uri: str,
    existing: DeltaTable | None,
    tables: Iterator[pa.Table],
    primary_key: list[str],
    partition_by: list[str] | None,
    target: pa.Schema | None,
    name: str,
    prune: bool = True,
) -> int:
    """Upsert on the primary key. MERGE needs the whole source at once, so parts are kept in memory."""
    import pyarrow as pa
    from deltalake import write_deltalake

    from headwater.lake.write_options import writer_properties

    first = next(tables, None)
    if first is None:
        return 0
    schema = _target_schema(first.schema, target)
    # Conformed part by part (no second copy of the load), held as one chunked table.
    data = pa.concat_tables([_conform(t, schema) for t in itertools.chain([first], tables)])
    missing = [k for k in primary_key if k not in data.column_names]
    if missing:
        raise HeadwaterError(f"lake table {name!r}: primary key column(s) {missing} are not in the rows")
    for key in primary_key:
        nulls = data.column(key).null_count
        if nulls:
            # A null key never matches in MERGE: each load would insert the row again.
            raise HeadwaterError(f"lake table {name!r}: {nulls} row(s) have a null primary key {key!r}")
    properties = writer_properties(data.slice(0, SAMPLE_ROWS))

    if existing is None or _is_empty(existing):
        # Nothing to match: the merge is an append of the de-duplicated rows, streamed in key
        # order so every file covers a narrow key range that later merges can skip by statistics.
        data, order = _deduped_key_order(data, primary_key)
        rows = data.num_rows
        write_deltalake(
            uri,
            pa.RecordBatchReader.from_batches(data.schema, _in_key_order(data, order)),
            mode="append",
            partition_by=partition_by if existing is None else None,
            schema_mode="merge",
            target_file_size=MERGE_FILE_SIZE,
            # Kept in the table: deltalake's MERGE writes its files at this size too.
            configuration={"delta.targetFileSize": str(MERGE_FILE_SIZE)} if existing is None else None,
            storage_options=storage.storage_options(uri),
            writer_properties=properties,
        )
        return rows
    data = dedupe_last(data, primary_key)
    predicate = merge_predicate(data, primary_key, prune=prune)
    crash_point("mid_lake_write")  # MERGE runs inside deltalake: the nearest point before its commit
    (
        existing.merge(
            data.sort_by([(k, "ascending") for k in primary_key]),
            predicate=predicate,
            source_alias="s",
            target_alias="t",
            merge_schema=True,
            writer_properties=properties,
        )
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .execute()
    )
    return data.num_rows


SAMPLE_ROWS = 10_000  # rows writer_properties looks at
# Files of a merge table. A MERGE rewrites each file holding a changed row whole: deltalake's
# default (100 MiB) made a 1M-row table one file, so every merge rewrote the table.
MERGE_FILE_SIZE = 4 * 1024 * 1024
_SORT_CHUNK = 65_536  # rows per batch handed to the writer on a first load


def merge_predicate(data: pa.Table, primary_key: list[str], *, prune: bool = True) -> str:
    """MERGE condition: key equality, plus the incoming key range as literals when one orderable key.

    deltalake streams the source of a MERGE and then cannot derive a filter from it, so it reads and
    rewrites every file with a matching row, and decides which files those are only after a full
    join. With `t.key >= min AND t.key <= max` as literals it skips, by the file statistics, every
    file whose key range lies outside the batch's: the run's cost follows the changed key range,
    not the table. The conjunct only removes target rows whose key cannot equal any incoming key,
    so matches (and therefore the result) are the same.
    """
    on = " AND ".join(f"t.{sql_ident(k)} = s.{sql_ident(k)}" for k in primary_key)
    if not prune or len(primary_key) != 1:
        return on
    key = primary_key[0]
    bounds = key_range_literals(data.column(key))
    if bounds is None:
        return on
    low, high = bounds
    column = f"t.{sql_ident(key)}"
    return f"{on} AND {column} >= {low} AND {column} <= {high}"


def key_range_literals(column: pa.ChunkedArray) -> tuple[str, str] | None:
    """SQL literals of the min and max of a key column, or None for types not pruned (floats, ...)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if len(column) == column.null_count:
        return None
    bounds = pc.min_max(column)
    low, high = bounds["min"], bounds["max"]
    if pa.types.is_integer(kind):
        return str(low.as_py()), str(high.as_py())
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        # min_max and DataFusion both order strings by UTF-8 bytes.
        return sql_string(low.as_py()), sql_string(high.as_py())
    if pa.types.is_timestamp(kind):
        # As an integer count of the column's unit: no text parsing, no time zone shift.
        unit = {"s": "Second", "ms": "Millisecond", "us": "Microsecond", "ns": "Nanosecond"}[kind.unit]
        zone = f'Some("{kind.tz}")' if kind.tz else "None"
        arrow_type = sql_string(f"Timestamp({unit}, {zone})")
        as_int = pc.cast(pa.array([low, high], kind), pa.int64()).to_pylist()
        return tuple(f"arrow_cast({v}, {arrow_type})" for v in as_int)
    if pa.types.is_date32(kind):
        as_int = pc.cast(pa.array([low, high], kind), pa.int32()).to_pylist()
        return tuple(f"arrow_cast({v}, 'Date32')" for v in as_int)
    return None


def _deduped_key_order(data: pa.Table, primary_key: list[str]) -> tuple[pa.Table, pa.Array]:
    """`data` without duplicate keys (the last row wins) and the indices that sort it by key.

    Duplicates are found on the sorted keys (equal neighbours): `dedupe_last`'s hash aggregation
    cost 425 MiB for 5M keys, while most first loads have no duplicate to remove.
    """
    import pyarrow.compute as pc

    def order_of(table: pa.Table) -> pa.Array:
        return pc.sort_indices(table.select(primary_key), sort_keys=[(k, "ascending") for k in primary_key])

    order = order_of(data)
    if len(order) > 1:
        same = None
        for key in primary_key:
            ordered = data.column(key).take(order)
            equal = pc.equal(ordered.slice(1), ordered.slice(0, len(ordered) - 1))
            same = equal if same is None else pc.and_(same, equal)
        if pc.any(same).as_py():
            data = dedupe_last(data, primary_key)
            order = order_of(data)
    return data, order


def _in_key_order(data: pa.Table, order: pa.Array) -> Iterator[pa.RecordBatch]:
    """`data`'s rows in `order`, a batch at a time.

    Rows already in key order (a source read by its key) are passed on as they are, without a copy.
    Otherwise the parts are combined once and taken in slices of the order: taking from the many
    parts of a chunked table copies all of them on every call (35 s and 1.2 GiB for 5M rows).
    """
    import numpy as np

    if np.array_equal(order.to_numpy(), np.arange(len(order))):
        yield from data.to_batches()
        return
    data = data.combine_chunks()
    for start in range(0, len(order), _SORT_CHUNK):
        yield from data.take(order.slice(start, _SORT_CHUNK)).to_batches()


def _is_empty(table: DeltaTable) -> bool:
    """A table without live rows (every add action reports zero records)."""
    adds = table.get_add_actions(flatten=True)
    return adds.num_rows == 0


def dedupe_last(table: pa.Table, keys: list[str]) -> pa.Table:
    """Keep the last row of each key (input order), preserving the order of the kept rows."""
    import numpy as np
    import pyarrow as pa

    index = "__hw_position"
    with_pos = table.select(keys).append_column(index, pa.array(np.arange(table.num_rows, dtype=np.int64)))
    last = with_pos.group_by(keys, use_threads=False).aggregate([(index, "max")]).column(f"{index}_max")
    if len(last) == table.num_rows:
        return table
    return table.take(np.sort(last.to_numpy()))


# --- helpers -------------------------------------------------------------------------------------


def _tables(parts: Iterable[pa.Table] | pa.RecordBatchReader) -> Iterator[pa.Table]:
    import pyarrow as pa

    if isinstance(parts, pa.RecordBatchReader):
        for batch in parts:
            yield pa.Table.from_batches([batch])
    else:
        yield from parts


def _with_meta(
    table: pa.Table, *, source: str, run_id: str, loaded_at: dt.datetime, batch: str | None
) -> pa.Table:
    import pyarrow as pa

    drop = [c for c in (ROW_ID, *META_COLUMNS) if c in table.column_names]
    table = table.drop_columns(drop)
    n = table.num_rows
    table = table.append_column(SOURCE_COL, pa.repeat(pa.scalar(source, pa.string()), n))
    table = table.append_column(RUN_COL, pa.repeat(pa.scalar(run_id, pa.string()), n))
    table = table.append_column(
        LOADED_AT_COL, pa.repeat(pa.scalar(loaded_at, pa.timestamp("us", tz="UTC")), n)
    )
    return table.append_column(BATCH_COL, pa.repeat(pa.scalar(batch, pa.string()), n))


def arrow_schema(table: DeltaTable | None) -> pa.Schema | None:
    import pyarrow as pa

    return pa.schema(table.schema().to_arrow()) if table is not None else None


def _target_schema(incoming: pa.Schema, target: pa.Schema | None) -> pa.Schema:
    """Incoming columns, typed as the table has them where it has them."""
    import pyarrow as pa

    if target is None:
        return incoming
    names = set(target.names)
    return pa.schema([target.field(f.name) if f.name in names else f for f in incoming])


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Cast a part to `schema`, safely: deltalake itself would silently truncate (1.5 → 1 in an int column)."""
    import pyarrow as pa

    missing = [n for n in schema.names if n not in table.column_names]
    extra = [n for n in table.column_names if n not in schema.names]
    if missing or extra:
        raise HeadwaterError(f"parts disagree on columns: missing {missing}, unexpected {extra}")
    columns = []
    for field in schema:
        column = table.column(field.name)
        if column.type != field.type:
            try:
                column = column.cast(field.type, safe=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise HeadwaterError(
                    f"column {field.name!r}: {column.type} values cannot be stored as {field.type}: {exc}"
                ) from exc
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema)


def _check_partitioning(name: str, existing: DeltaTable | None, partition_by: list[str] | None) -> None:
    if existing is None or partition_by is None:
        return
    current = list(existing.metadata().partition_columns)
    if current != list(partition_by):
        raise HeadwaterError(
            f"lake table {name!r} is partitioned by {current}, the source asks for {list(partition_by)}; "
            "changing partitions needs a full rewrite of the table"
        )
