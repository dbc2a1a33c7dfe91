"""The run's location index: `_hw_row` -> where the row is in its source, staged next to select's parts.

Select writes one segment per run of rows (`connectors/positions.Run`): the first `_hw_row`, how
many rows, the file (or table), and the line/record number of the first row. Rows of a clean
file are one segment per chunk, so the index costs next to nothing to write; a location string
is only made for a row a later stage rejects (`LocationIndex.fill`). The index is staged like
every part (stage `select-locations`, reset when select is retried), so map and validate on other
workers, and their retries, read the same index; on an object store it travels like the parts.

SQL rows named by a primary key or cursor (`KEY` segments) are located by reading those columns
of the rejected rows back from select's staged part (`part` of the segment).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from headwater.connectors.positions import KEY, Run, covers, key_location, render

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.lake.staging import Staging
    from headwater.records import RowError

INDEX_STAGE = "select-locations"
# Segments kept before they are written as one index part (bounds select's memory when a file
# has a skipped line every few rows).
FLUSH_SEGMENTS = 100_000


def _schema():
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("row", pa.int64()),  # first _hw_row of the segment
            pa.field("rows", pa.int64()),
            pa.field("where", pa.string()),  # file (`archive.zip!member`), or `table 'x'` / `the query`
            pa.field("unit", pa.string()),  # positions.LINE | ITEM | ROW | READ | KEY
            pa.field("line", pa.int64()),
            pa.field("record", pa.int64()),
            pa.field("keys", pa.string()),  # KEY: JSON list of the columns that name a row
            pa.field("part", pa.string()),  # KEY: the select part holding the rows
        ]
    )


class IndexWriter:
    """Collects select's segments and stages them as index parts."""

    def __init__(self, staging: Staging) -> None:
        self.staging = staging
        self.parts: list[str] = []
        self._segments: list[tuple] = []

    def add(self, first_row: int, rows: int, runs: Sequence[Run], part: str) -> bool:
        """Index a staged chunk: `rows` rows from `_hw_row` `first_row`, written to `part`.
        Returns False (nothing indexed) when the runs do not describe exactly those rows."""
        if not covers(runs, rows):
            return False
        row = first_row
        for run in runs:
            keys = json.dumps(list(run.keys)) if run.unit == KEY else None
            self._segments.append((row, run.rows, run.where, run.unit, run.line, run.record, keys, part if keys else None))
            row += run.rows
        if len(self._segments) >= FLUSH_SEGMENTS:
            self.flush()
        return True

    def flush(self) -> None:
        if not self._segments:
            return
        import pyarrow as pa

        columns = list(zip(*self._segments, strict=True))
        schema = _schema()
        table = pa.Table.from_arrays([pa.array(c, f.type) for c, f in zip(columns, schema, strict=True)], schema=schema)
        self.parts.append(self.staging.write(INDEX_STAGE, table))
        self._segments = []


class LocationIndex:
    """Segments of a run's index, sorted by first row, for looking rows up by `_hw_row`."""

    def __init__(self, staging: Staging, segments: pa.Table) -> None:
        self.staging = staging
        segments = segments.sort_by("row") if segments.num_rows else segments
        self._starts = segments.column("row").to_numpy() if segments.num_rows else None
        self._ends = self._starts + segments.column("rows").to_numpy() if segments.num_rows else None
        # Python lists: a location is made per rejected row, and list indexing is cheap
        self._columns = {name: segments.column(name).to_pylist() for name in ("where", "unit", "line", "record", "keys", "part")}

    @classmethod
    def load(cls, staging: Staging, parts: Iterable[str]) -> LocationIndex:
        import pyarrow as pa

        tables = list(staging.read(parts))
        return cls(staging, pa.concat_tables(tables) if tables else _schema().empty_table())

    def locate(self, rows: Iterable[int]) -> dict[int, str]:
        """Location text of each row found in the index (rows not indexed are left out)."""
        import numpy as np

        wanted = sorted({int(r) for r in rows})
        if self._starts is None or not wanted:
            return {}
        at = np.searchsorted(self._starts, np.array(wanted, dtype=np.int64), side="right") - 1
        found: dict[int, str] = {}
        keyed: dict[int, list[int]] = {}  # segment -> rows whose location needs the row's values
        for row, segment in zip(wanted, at.tolist(), strict=True):
            if segment < 0 or row >= self._ends[segment]:
                continue
            unit = self._columns["unit"][segment]
            if unit == KEY:
                keyed.setdefault(segment, []).append(row)
                continue
            offset = row - int(self._starts[segment])
            line = self._columns["line"][segment]
            record = self._columns["record"][segment]
            found[row] = render(
                self._columns["where"][segment],
                unit,
                None if line is None else line + offset,
                None if record is None else record + offset,
            )
        if keyed:
            found.update(self._locate_keyed(keyed))
        return found

    def _locate_keyed(self, keyed: dict[int, list[int]]) -> dict[int, str]:
        """`table 'x', id=42`: the key columns of the rows, read back from select's parts."""
        import pyarrow as pa
        import pyarrow.compute as pc

        from headwater.connectors.sql import json_value
        from headwater.records import ROW_ID

        by_part: dict[str, list[tuple[int, int]]] = {}
        for segment, rows in keyed.items():
            part = self._columns["part"][segment]
            by_part.setdefault(part, []).extend((segment, r) for r in rows)
        found: dict[int, str] = {}
        for part, wanted in by_part.items():
            table = next(self.staging.read([part]))
            rows = pa.array([r for _, r in wanted], pa.int64())
            picked = table.filter(pc.is_in(table.column(ROW_ID), value_set=rows))
            position = {row: i for i, row in enumerate(picked.column(ROW_ID).to_pylist())}
            for segment, row in wanted:
                if row not in position:
                    continue
                keys = json.loads(self._columns["keys"][segment])
                values = {k: json_value(picked.column(k)[position[row]].as_py()) for k in keys if k in picked.column_names}
                found[row] = key_location(self._columns["where"][segment], keys, values)
        return found

    def fill(self, errors: list[RowError]) -> list[RowError]:
        """The errors, each one without a location given the location of its row."""
        missing = [e.row for e in errors if e.location is None and e.row is not None]
        if not missing:
            return errors
        where = self.locate(missing)
        return [replace(e, location=where.get(e.row)) if e.location is None and e.row is not None else e for e in errors]
