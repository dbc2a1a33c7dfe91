"""Parquet writer settings for lake tables, chosen from a sample of the rows about to be written.

Compression is set explicitly to zstd level 1. delta-rs compresses with snappy only when it is
given no writer properties at all: as soon as any property is set, the arrow-rs default applies,
which is no compression (lake files were 3x larger than intended). On the bench data zstd 1 costs
the same CPU as snappy and lz4 and writes a third of snappy's bytes (34 MB instead of 99 MB for
500 MB of CSV; bench/README.md, file_throughput).

Dictionary encoding is switched off for columns whose values are mostly distinct (ids, emails,
timestamps). The Parquet writer would try a dictionary for them, find it too big and fall back to
plain encoding anyway, after hashing every value. Repetitive columns (types, codes, countries)
keep their dictionaries, which make them small and fast to scan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa
    from deltalake import WriterProperties

SAMPLE_ROWS = 10_000
# Above this share of distinct values a dictionary does not pay: it ends up as large as the data.
DISTINCT_SHARE = 0.5
COMPRESSION = "ZSTD"
COMPRESSION_LEVEL = 1


def mostly_distinct(table: pa.Table, sample_rows: int = SAMPLE_ROWS) -> list[str]:
    """Top-level scalar columns whose first `sample_rows` values are mostly distinct."""
    import pyarrow as pa
    import pyarrow.compute as pc

    sample = table.slice(0, sample_rows)
    found = []
    for field in sample.schema:
        if pa.types.is_nested(field.type) or pa.types.is_dictionary(field.type) or pa.types.is_boolean(field.type):
            continue
        column = sample.column(field.name)
        present = len(column) - column.null_count
        if present and pc.count_distinct(column).as_py() > DISTINCT_SHARE * present:
            found.append(field.name)
    return found


def writer_properties(sample: pa.Table) -> WriterProperties:
    """deltalake writer properties for rows like `sample` (the first part of a load)."""
    from deltalake import ColumnProperties, WriterProperties

    plain = ColumnProperties(dictionary_enabled=False)
    return WriterProperties(
        compression=COMPRESSION,
        compression_level=COMPRESSION_LEVEL,
        column_properties={name: plain for name in mostly_distinct(sample)},
    )
