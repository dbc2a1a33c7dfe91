"""BigQuery column types -> the Arrow types Headwater stages, and conforming read batches to them.

Both read paths (Storage Read API and REST pages) go through `conform`, so a column has one Arrow
type whichever path read it:

| BigQuery                | Arrow                                                                 |
|-------------------------|-----------------------------------------------------------------------|
| INT64                   | int64                                                                 |
| FLOAT64                 | float64                                                               |
| NUMERIC(P, S)           | decimal128(P, S); plain NUMERIC decimal128(38, 9)                     |
| BIGNUMERIC(P, S)        | decimal256(P, S); plain BIGNUMERIC decimal256(76, 38)                 |
| BOOL                    | bool                                                                  |
| STRING                  | string                                                                |
| BYTES                   | binary                                                                |
| TIMESTAMP               | timestamp[us, tz=UTC] (an instant)                                     |
| DATETIME                | timestamp[us] (naive: a wall-clock time with no zone)                  |
| DATE / TIME             | date32 / time64[us]                                                   |
| JSON                    | string (the JSON text)                                                |
| GEOGRAPHY               | string (WKT)                                                          |
| INTERVAL, RANGE         | string (BigQuery's canonical text)                                    |
| ARRAY<T> (REPEATED)     | list<T> (an empty array and NULL both read as [] : BigQuery has no NULL array) |
| STRUCT / RECORD         | struct<...> with the same field names and these types                 |
"""

from __future__ import annotations

import pyarrow as pa

# The widest values each type holds (BigQuery's documented limits).
NUMERIC_DEFAULT = (38, 9)
BIGNUMERIC_DEFAULT = (76, 38)

_SCALARS = {
    "INTEGER": pa.int64(),
    "INT64": pa.int64(),
    "FLOAT": pa.float64(),
    "FLOAT64": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "BOOL": pa.bool_(),
    "STRING": pa.string(),
    "BYTES": pa.binary(),
    "TIMESTAMP": pa.timestamp("us", tz="UTC"),
    "DATETIME": pa.timestamp("us"),
    "DATE": pa.date32(),
    "TIME": pa.time64("us"),
    "JSON": pa.string(),
    "GEOGRAPHY": pa.string(),
    "INTERVAL": pa.string(),
    "RANGE": pa.string(),
}

# Cursor columns: the BigQuery type -> the query parameter type its watermark is bound as.
CURSOR_TYPES = {
    "TIMESTAMP": "TIMESTAMP",
    "DATETIME": "DATETIME",
    "DATE": "DATE",
    "INTEGER": "INT64",
    "INT64": "INT64",
}


def _decimal(field) -> pa.DataType:
    big = field.field_type in ("BIGNUMERIC", "BIGDECIMAL")
    default_precision, default_scale = BIGNUMERIC_DEFAULT if big else NUMERIC_DEFAULT
    if field.precision is None:
        precision, scale = default_precision, default_scale
    else:  # NUMERIC(P) is NUMERIC(P, 0), as in BigQuery
        precision, scale = int(field.precision), int(field.scale or 0)
    return pa.decimal256(precision, scale) if big or precision > 38 else pa.decimal128(precision, scale)


def arrow_type(field) -> pa.DataType:
    """The Arrow type of one `google.cloud.bigquery.SchemaField` (nested fields included)."""
    kind = field.field_type.upper()
    if kind in ("NUMERIC", "DECIMAL", "BIGNUMERIC", "BIGDECIMAL"):
        type_ = _decimal(field)
    elif kind in ("RECORD", "STRUCT"):
        type_ = pa.struct([pa.field(f.name, arrow_type(f), nullable=True) for f in field.fields])
    elif kind in _SCALARS:
        type_ = _SCALARS[kind]
    else:
        raise TypeError(f"column '{field.name}' has BigQuery type {kind}, which Headwater cannot read yet")
    return pa.list_(type_) if field.mode == "REPEATED" else type_


def arrow_schema(fields) -> pa.Schema:
    return pa.schema([pa.field(f.name, arrow_type(f), nullable=True) for f in fields])


def _plain(type_: pa.DataType) -> pa.DataType:
    """`type_` with extension types (BigQuery's JSON marker) replaced by their storage type."""
    if isinstance(type_, pa.ExtensionType):
        return _plain(type_.storage_type)
    if pa.types.is_list(type_) or pa.types.is_large_list(type_):
        return pa.list_(_plain(type_.value_type))
    if pa.types.is_struct(type_):
        return pa.struct([pa.field(f.name, _plain(f.type)) for f in type_])
    return type_


def conform(batch: pa.RecordBatch | pa.Table, schema: pa.Schema) -> pa.Table:
    """`batch` with exactly `schema`'s columns and types; a value that does not fit raises.

    The cast is safe (no silent truncation): a NUMERIC(10, 2) column arrives as decimal128(38, 9)
    from the REST path and is narrowed here, which fails loudly rather than round.
    """
    table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
    columns = []
    for field in schema:
        column = table.column(field.name)
        if isinstance(column.type, pa.ExtensionType):
            column = pa.chunked_array([c.storage for c in column.chunks], type=column.type.storage_type)
        if column.type != field.type:
            column = column.cast(field.type, safe=True) if _plain(column.type) == column.type else column.cast(
                _plain(column.type)
            ).cast(field.type, safe=True)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema)
