"""Where a chunk's rows are in their source, as runs: the compact row -> (file, line/record) map.

A reader tags each chunk with `Run`s that cover its rows in order: `rows` consecutive rows whose
line and record numbers each go up by one. A file of clean rows is one run per chunk; a line
skipped in between (malformed, blank, rejected while reading) starts a new run. Select stages the
runs as the run's location index (`lake/locations.py`), so a row a later stage rejects is traced
back by its `_hw_row` without carrying a location string per row through the pipeline.

No heavy imports: pyarrow is not needed to cut or join runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

# How a run's numbers read in a location (see `render`):
LINE = "line"  # CSV, JSON lines: `file:line N`
ITEM = "item"  # JSON array: `file:line N, item M`
ROW = "row"  # Parquet: `file:row N` (1-based row inside the file)
READ = "read"  # SQL without a key: `table 'x', row N of this read`
KEY = "key"  # SQL with a primary key or cursor: `table 'x', id=42` (values from the staged row)


@dataclass(frozen=True)
class Run:
    """`rows` consecutive rows of one file (or table): the first at `line`/`record`, each next one
    line and record higher. `keys`: for `KEY` runs, the columns that name a row."""

    rows: int
    where: str
    unit: str
    line: int | None = None
    record: int | None = None
    keys: tuple[str, ...] = ()

    def advanced(self, rows: int) -> Run:
        """The same run without its first `rows` rows."""
        return replace(
            self,
            rows=self.rows - rows,
            line=None if self.line is None else self.line + rows,
            record=None if self.record is None else self.record + rows,
        )


def covers(runs: Sequence[Run], rows: int) -> bool:
    """The runs describe exactly `rows` rows (a reader that tags nothing gives no runs)."""
    return bool(runs) and sum(r.rows for r in runs) == rows


def slice_runs(runs: Sequence[Run], start: int, length: int) -> list[Run]:
    """The runs of rows `start .. start+length-1`."""
    out: list[Run] = []
    for run in runs:
        if length <= 0:
            break
        if start >= run.rows:
            start -= run.rows
            continue
        piece = run.advanced(start) if start else run
        start = 0
        take = min(piece.rows, length)
        out.append(replace(piece, rows=take) if take != piece.rows else piece)
        length -= take
    return out


def without_rows(runs: Sequence[Run], dropped: Iterable[int]) -> list[Run]:
    """The runs once the rows at positions `dropped` are left out (each leaves a gap)."""
    drop = sorted(set(dropped))
    if not drop:
        return list(runs)
    out: list[Run] = []
    position = 0  # of the current run's first row, before dropping
    i = 0
    for run in runs:
        end = position + run.rows
        cursor = position  # first row of `run` not yet handed on or dropped
        while i < len(drop) and drop[i] < end:
            if drop[i] > cursor:
                out.append(replace(run.advanced(cursor - position), rows=drop[i] - cursor))
            cursor = drop[i] + 1
            i += 1
        if cursor < end:
            out.append(run.advanced(cursor - position) if cursor > position else run)
        position = end
    return out


def runs_of(where: str, unit: str, lines: Sequence[int | None], records: Sequence[int | None] | None = None) -> list[Run]:
    """Runs for rows whose line (and record) numbers are listed one per row."""
    records = records if records is not None else [None] * len(lines)
    out: list[Run] = []
    start = 0
    for i in range(1, len(lines) + 1):
        if i < len(lines) and _next(lines[i - 1], lines[i]) and _next(records[i - 1], records[i]):
            continue
        out.append(Run(i - start, where, unit, lines[start], records[start]))
        start = i
    return out


def _next(before: int | None, after: int | None) -> bool:
    return (before is None and after is None) or (before is not None and after is not None and after == before + 1)


def key_location(where: str, keys: Sequence[str], row: dict) -> str:
    """`table 'x', id=42`: what names a SQL row, written the same at every stage."""
    return f"{where}, " + ", ".join(f"{n}={'NULL' if row.get(n) is None else row[n]}" for n in keys)


def render(where: str, unit: str, line: int | None, record: int | None) -> str:
    """The location text of one row (not for `KEY` runs: those need the row's values)."""
    if unit == LINE:
        return f"{where}:line {line}"
    if unit == ITEM:
        return f"{where}:line {line}, item {record}"
    if unit == ROW:
        return f"{where}:row {record}"
    if unit == READ:
        return f"{where}, row {record} of this read"
    raise ValueError(f"unknown location unit {unit!r}")
